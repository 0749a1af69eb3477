/**
 * Loaded once per worker, before any workflow, and shared by every workflow the worker keeps cached
 * (the bundle's `preloadModules`, worker/workflowSources.ts). A cached workflow otherwise evaluates every
 * module it imports in its own copy: zod alone is about 2.7 MB of heap per workflow, most of what a
 * waiting process costs the worker. zod keeps no per-workflow state (only its global
 * config, settled here); the report schemas, which are built from it, stay per workflow.
 *
 * zod's package says it has no side effects, so a bare `require('zod')` would be dropped from the bundle:
 * this module uses it, which keeps it.
 */
import { z } from 'zod';

// zod sets its defaults (English messages, the memoizer) in its global config at the first schema it
// builds. The SDK freezes what is preloaded once this module has run, so they must be set now.
if (!z.object({ preloaded: z.string() }).safeParse({}).error) throw new Error('zod did not load');
