/* global require, exports */
/**
 * The failure converter of client, worker and workflow bundle: error messages and stack traces go into an
 * encoded payload (then encrypted by the payload codec, temporal/payloadCodec.ts) instead of plain text,
 * since they can quote personal data (a mail recipient, a name).
 *
 * CommonJS on purpose: the SDK loads it by path with require() (worker, outside any TypeScript loader in
 * tests) and webpack bundles it into the workflow code (temporal/codecDataConverter.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
