/**
 * `npm run tools`: obtains the binaries the tests and the local stack need (the Temporal CLI, the Java
 * time-skipping test server's classpath, the Compose validator, the NanoMDM server) and says which route gave each one and
 * how long it took. Idempotent: cached tools are reused.
 */
import { ensureValidator } from './compose/validator';
import { resolveNanomdm } from './nanomdm/resolveNanomdm';
import { resolveTemporalCli } from './temporal/resolveCli';
import { resolveTimeSkippingServer } from './temporal/timeSkippingServer';

async function timed<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await fn();
  console.log(`[tools] ${what} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

const cli = await timed('Temporal CLI', () => resolveTemporalCli());
console.log(`[tools]   ${cli.path} (route: ${cli.route}; ${cli.version.replace(/\n/g, ' ')})`);
const ts = await timed('Temporal time-skipping test server', () => resolveTimeSkippingServer());
console.log(`[tools]   ${ts}`);
const validator = await timed('Compose validator', () => ensureValidator());
console.log(`[tools]   ${validator}`);
const nanomdm = await timed('NanoMDM server', () => resolveNanomdm());
console.log(`[tools]   ${nanomdm.path} (route: ${nanomdm.route}; ${nanomdm.version})`);
