/**
 * The raw baseline workflow (its own workflowsPath, bundled by bench/rawWorker.ts): replays the shape
 * of a real change-user run — the same activities (no-op bodies), search-attribute upserts, timers,
 * markers and Updates, in the same order — with none of the product's logic. What the product adds on
 * top of this is what the benchmark measures.
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import {
  allHandlersFinished,
  condition,
  defineUpdate,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RawAttribute, RawInput } from './rawScript';

const TYPES: Record<RawAttribute['type'], SearchAttributeType> = {
  Keyword: SearchAttributeType.KEYWORD,
  Bool: SearchAttributeType.BOOL,
  Text: SearchAttributeType.TEXT,
  Int: SearchAttributeType.INT,
  Double: SearchAttributeType.DOUBLE,
  Datetime: SearchAttributeType.DATETIME,
  KeywordList: SearchAttributeType.KEYWORD_LIST,
};

const noop = proxyActivities<Record<string, () => Promise<void>>>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

export async function benchRawChangeUser(input: RawInput): Promise<{ ops: number }> {
  // One handler per report name, registered before the first await; each answers at once.
  const received = new Map<string, number>();
  const names = new Set(input.ops.flatMap((op) => (op.op === 'await-update' ? [op.update] : [])));
  for (const name of names) {
    setHandler(defineUpdate<{ accepted: true; event: string }, [unknown]>(name), () => {
      received.set(name, (received.get(name) ?? 0) + 1);
      return { accepted: true as const, event: name };
    });
  }
  const taken = new Map<string, number>();
  let markers = 0;
  let running: Promise<void>[] = [];
  for (const op of input.ops) {
    switch (op.op) {
      case 'activity':
        running.push(noop[op.type]!());
        break;
      case 'await-activities':
        await Promise.all(running);
        running = [];
        break;
      case 'upsert':
        upsertSearchAttributes(
          op.attributes.map(
            (a) => ({ key: defineSearchAttributeKey(a.name, TYPES[a.type]), value: a.value }) as SearchAttributePair,
          ),
        );
        break;
      case 'sleep':
        await sleep(op.ms);
        break;
      case 'await-update': {
        const wanted = (taken.get(op.update) ?? 0) + 1;
        const arrived = () => (received.get(op.update) ?? 0) >= wanted;
        if (op.timerMs !== undefined) await condition(arrived, op.timerMs);
        else await condition(arrived);
        taken.set(op.update, wanted);
        break;
      }
      case 'marker':
        patched(`bench-raw-marker-${markers++}`);
        break;
    }
  }
  await Promise.all(running);
  await condition(allHandlersFinished);
  return { ops: input.ops.length };
}
