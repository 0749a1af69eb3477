/**
 * How the Intune adapter finds a command again by our idempotency key. Graph's wipe and retire answer
 * 204 No Content: no job id, and no place to put a key. What Graph does show is the device's
 * deviceActionResults: per action, its name, state and startDateTime. So the adapter remembers, per key,
 * which device and action it sent and when it started sending (in memory), and the key's command is the
 * first result of that action started at or after that time (less `clockSkewMs`, because startDateTime is
 * Intune's clock and ours may differ). Once matched, the result is bound to the key (by its start time),
 * so another key never takes it.
 *
 * Limits, said plainly:
 * - Memory only. A key sent by a process that has since restarted is unknown here. A send with an unknown
 *   key therefore first looks for the device's newest action of that name started within `adoptWithinMs`
 *   that no remembered key owns, and takes it as its own instead of sending again: a retried activity
 *   after a worker restart does not send a second wipe. The price: an action of the same name started in
 *   that window by someone else (the Intune portal) is taken for ours. Reading a status by an unknown key
 *   (without a send) answers null ("the MDM has none"), as the port allows.
 * - Two processes of ours (two worker replicas) do not share this memory; sends for one key are meant to
 *   come from one activity at a time, which Temporal gives.
 */
import type { MdmCommand, MdmCommandType } from '../port';
import type { ActionResult } from './graphShapes';

export interface LedgerEntry {
  idempotencyKey: string;
  deviceId: string;
  type: MdmCommandType;
  actionName: string;
  options: MdmCommand['options'];
  /** When we started sending (our clock). */
  sentAt: number;
  /** `uncertain`: the send timed out or failed in a way that leaves open whether Graph acted on it. */
  outcome: 'sent' | 'uncertain';
  /** startDateTime of the action result bound to this key. */
  boundStart?: string;
}

export interface CommandLedgerOptions {
  clockSkewMs?: number;
  adoptWithinMs?: number;
}

export function createCommandLedger(options: CommandLedgerOptions = {}) {
  const clockSkewMs = options.clockSkewMs ?? 60_000;
  const adoptWithinMs = options.adoptWithinMs ?? 24 * 60 * 60_000;
  const entries = new Map<string, LedgerEntry>();

  const boundByOthers = (entry: Pick<LedgerEntry, 'idempotencyKey' | 'deviceId' | 'actionName'>) =>
    new Set(
      [...entries.values()]
        .filter(
          (e) =>
            e.idempotencyKey !== entry.idempotencyKey &&
            e.deviceId === entry.deviceId &&
            e.actionName === entry.actionName &&
            e.boundStart,
        )
        .map((e) => e.boundStart),
    );

  return {
    get: (key: string) => entries.get(key),
    remember(entry: LedgerEntry) {
      entries.set(entry.idempotencyKey, entry);
    },
    forget(key: string) {
      entries.delete(key);
    },
    ofDevice: (deviceId: string) => [...entries.values()].filter((e) => e.deviceId === deviceId),

    /** The action result that is this key's command, binding it; undefined when Graph shows none yet. */
    match(entry: LedgerEntry, results: ActionResult[]): ActionResult | undefined {
      const taken = boundByOthers(entry);
      const candidates = results
        .filter((r) => r.actionName === entry.actionName && !taken.has(r.startDateTime))
        .sort((a, b) => Date.parse(a.startDateTime) - Date.parse(b.startDateTime));
      const found =
        candidates.find((r) => r.startDateTime === entry.boundStart) ??
        candidates.find((r) => Date.parse(r.startDateTime) >= entry.sentAt - clockSkewMs);
      if (found) entry.boundStart = found.startDateTime;
      return found;
    },

    /** For a key we do not remember: the newest unowned action of that name within the adoption window. */
    adoptable(
      probe: Pick<LedgerEntry, 'idempotencyKey' | 'deviceId' | 'actionName'>,
      results: ActionResult[],
      now: number,
    ): ActionResult | undefined {
      const taken = boundByOthers(probe);
      return results
        .filter(
          (r) =>
            r.actionName === probe.actionName &&
            !taken.has(r.startDateTime) &&
            Date.parse(r.startDateTime) >= now - adoptWithinMs,
        )
        .sort((a, b) => Date.parse(b.startDateTime) - Date.parse(a.startDateTime))[0];
    },
  };
}

export type CommandLedger = ReturnType<typeof createCommandLedger>;
