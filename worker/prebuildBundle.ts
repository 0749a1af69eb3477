/**
 * Builds the workflow bundle into the cache unless it is there (worker/workflowBundle.ts), so the next
 * worker starts serving in seconds: `npx tsx worker/prebuildBundle.ts`. The local stack runs it while
 * PostgreSQL and Temporal start; an image build can run it to ship the bundle.
 */
import { loadWorkflowBundle } from './workflowBundle';

const loaded = await loadWorkflowBundle({ log: (line) => console.warn(line) });
console.log(
  loaded.source === 'cache'
    ? `workflow bundle ${loaded.hash} already cached (${loaded.file})`
    : `workflow bundle ${loaded.hash} built in ${(loaded.ms / 1000).toFixed(1)} s: ${loaded.file}`,
);
