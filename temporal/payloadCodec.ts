/**
 * AES-256-GCM payload codec: every payload leaves the process encrypted, so Temporal's history, its
 * database and its backups hold no personal data in clear (DESIGN §6).
 *
 * An encrypted payload is the whole original payload (metadata and data, as protobuf) sealed under the
 * current key with a fresh random 12-byte IV: `data` = IV | ciphertext | 16-byte tag, metadata
 * `encoding: binary/encrypted` and `encryption-key-id: <id>`. The key id is authenticated too (additional
 * data), so a payload relabelled with another key id is refused rather than misread.
 *
 * Rotation: decode with whichever known key the payload names, encode with the current one. A payload
 * that is not encrypted (history written before the codec was turned on) is passed through unchanged.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
// The package is CommonJS: a default import works under both tsx (ESM) and the bundlers.
import proto from '@temporalio/proto';
import type { PayloadKey } from './payloadEncryptionSettings';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';

const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);
const additionalData = (keyId: string) => Buffer.from(`${ENCRYPTED_ENCODING}:${keyId}`, 'utf8');

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(
    keys: readonly PayloadKey[],
    private readonly currentKeyId: string,
  ) {
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    for (const [id, key] of this.keys) {
      if (key.length !== 32) throw new ValueError(`payload key ${id} must be 32 bytes (AES-256), got ${key.length}`);
    }
    if (!this.keys.has(currentKeyId)) {
      throw new ValueError(`the current payload key id ${currentKeyId} is not among the keys (${this.keyIds()})`);
    }
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.seal(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.open(p));
  }

  private keyIds(): string {
    return [...this.keys.keys()].join(', ');
  }

  private seal(payload: Payload): Payload {
    const keyId = this.currentKeyId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.keys.get(keyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(keyId));
    const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
        [METADATA_KEY_ID]: Buffer.from(keyId),
      },
      data: sealed,
    };
  }

  private open(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const keyId = text(payload.metadata?.[METADATA_KEY_ID]);
    if (!keyId) throw new ValueError(`an encrypted payload has no ${METADATA_KEY_ID}: cannot tell which key to use`);
    const key = this.keys.get(keyId);
    if (!key) {
      throw new ValueError(
        `a payload is encrypted with key id ${JSON.stringify(keyId)}, which is not among PAYLOAD_ENCRYPTION_KEYS ` +
          `(known: ${this.keyIds()}); add that key back to decrypt it`,
      );
    }
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new ValueError(`an encrypted payload (key id ${keyId}) is too short to be one: truncated?`);
    }
    const decipher = createDecipheriv(CIPHER, key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new ValueError(
        `an encrypted payload (key id ${keyId}) failed authentication: it was altered, or key ${keyId} is not the key that encrypted it`,
      );
    }
    return proto.temporal.api.common.v1.Payload.decode(plain);
  }
}
