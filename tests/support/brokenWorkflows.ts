/**
 * A broken deploy of the lifecycle workflows, for tests: the same workflow types, whose code throws a plain
 * Error (a bug, not a typed failure). Temporal then fails the workflow task and retries it without end;
 * the workflow takes no Update or Query meanwhile. Deploying the real workflows/ fixes it: the run goes on.
 */
export async function changeDeviceUser(): Promise<never> {
  throw new Error('a bug in this deploy of changeDeviceUser');
}

export async function inactivateDevice(): Promise<never> {
  throw new Error('a bug in this deploy of inactivateDevice');
}
