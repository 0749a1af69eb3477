/**
 * The message contract every lifecycle workflow registers before its first await: the state query, an
 * Update and a Signal per report the process takes, a default Signal handler that records another
 * process's report as rejected, and the admin commands. One place, so the three processes cannot drift.
 */
import { setDefaultSignalHandler, setHandler } from '@temporalio/workflow';
import {
  ADMIN_COMMANDS,
  adminUpdates,
  isHumanEvent,
  reportSignals,
  reportUpdates,
  stateQuery,
  type HumanEventName,
  type HumanReport,
} from './definitions';
import type { Lifecycle } from './lifecycle';

export function registerMessageContract(lc: Lifecycle, events: readonly HumanEventName[]): void {
  setHandler(stateQuery, () => lc.state);
  for (const event of events) {
    setHandler(reportUpdates[event], (r) => lc.intake.accept(event, r), {
      validator: (r) => lc.intake.validate(event, r),
    });
    setHandler(reportSignals[event], (r) => lc.intake.onSignal(event, r));
  }
  // Another process's report sent as a Signal (UI, CLI) is recorded as rejected, as an unfit one is;
  // as an Update it has no handler here, so Temporal refuses it and nothing is written.
  setDefaultSignalHandler((name, r) => (isHumanEvent(name) ? lc.intake.onSignal(name, r as HumanReport) : undefined));
  for (const command of ADMIN_COMMANDS) {
    setHandler(adminUpdates[command], (c) => lc.control.accept(command, c), {
      validator: (c) => lc.control.validate(command, c),
    });
  }
}
