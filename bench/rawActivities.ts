/**
 * The raw baseline's activities: one no-op per activity type the real run scheduled, so the raw run
 * pays Temporal's cost of each activity (schedule, poll, start, complete, next workflow task) and none
 * of the product's (database, MDM, mail).
 */
export function createRawActivities(types: string[]): Record<string, () => Promise<void>> {
  const noop = async (): Promise<void> => undefined;
  return Object.fromEntries(types.map((type) => [type, noop]));
}
