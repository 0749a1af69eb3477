/**
 * The one data converter of every part that talks to Temporal — API, worker, workflow bundle, scripts,
 * tests — built from the configuration, so all of them agree on how payloads and failures look:
 *
 * - the AES-256-GCM payload codec (temporal/payloadCodec.ts) when PAYLOAD_ENCRYPTION_KEYS is set (always
 *   in production; development and test run without it unless set);
 * - failure messages and stack traces encoded (temporal/codecFailureConverter.cjs), so the codec covers
 *   them too. Without the codec they are encoded but readable, which every SDK client decodes alike.
 *
 * Codecs run in the worker's main thread, outside the workflow sandbox: workflow code never sees a key.
 * The failure converter does run in the sandbox as well (workflow failures), so the bundle is built with it
 * (worker/workflowBundle.ts).
 */
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from './payloadCodec';
import { payloadEncryption, type PayloadKey } from './payloadEncryptionSettings';

export const failureConverterPath = fileURLToPath(new URL('./codecFailureConverter.cjs', import.meta.url));

export interface PayloadEncryptionConfig {
  NODE_ENV: string;
  PAYLOAD_ENCRYPTION_KEYS?: PayloadKey[];
  PAYLOAD_ENCRYPTION_KEY_ID?: string;
}

/** The payload codec of this configuration, or undefined when encryption is off. */
export function payloadCodecFor(config: PayloadEncryptionConfig): AesGcmPayloadCodec | undefined {
  const encryption = payloadEncryption(config);
  return encryption && new AesGcmPayloadCodec(encryption.keys, encryption.currentKeyId);
}

/** For `new Client({ dataConverter })` and `Worker.create({ dataConverter })` alike. */
export function dataConverterFor(config: PayloadEncryptionConfig): DataConverter {
  const codec = payloadCodecFor(config);
  return { failureConverterPath, payloadCodecs: codec ? [codec] : [] };
}

/** One line for start-up logs: whether payloads are encrypted, and with which key id (never a key). */
export function describeEncryption(config: PayloadEncryptionConfig): string {
  const encryption = payloadEncryption(config);
  return encryption
    ? `payloads encrypted (AES-256-GCM, key ${encryption.currentKeyId}; ${encryption.keys.length} key(s) known)`
    : 'payloads NOT encrypted (PAYLOAD_ENCRYPTION_KEYS unset; development/test only)';
}
