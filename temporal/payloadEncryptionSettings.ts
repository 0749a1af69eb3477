/**
 * Settings of the payload codec (temporal/payloadCodec.ts) and of its endpoint for the Temporal Web UI,
 * as config/env.ts fields and the checks that need several of them.
 *
 * - PAYLOAD_ENCRYPTION_KEYS: `id:<base64 of 32 random bytes>,id2:<...>`; every key that may have encrypted
 *   something still in history (rotation: old keys stay listed until their histories are gone).
 * - PAYLOAD_ENCRYPTION_KEY_ID: the key that encrypts from now on; required when several keys are listed.
 * - TEMPORAL_UI_ORIGINS: the origins (scheme://host:port) of the Temporal Web UI allowed to call the codec
 *   endpoint from the browser.
 *
 * Required in production; in development and test the codec is off unless the keys are set. Key material is
 * never echoed: messages name the entry by position and id only.
 */
import { z } from 'zod';

/** A key id goes into every payload's metadata: short, printable, no separators of the setting. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const KEY_BYTES = 32;

export interface PayloadKey {
  readonly id: string;
  /** Not enumerable: a logged or serialised config does not show it. */
  readonly key: Buffer;
}

function payloadKey(id: string, key: Buffer): PayloadKey {
  const entry = { id } as PayloadKey;
  Object.defineProperty(entry, 'key', { value: key, enumerable: false });
  return entry;
}

/** Strict base64 (standard or url-safe alphabet, padding optional): Buffer.from would skip junk silently. */
function base64Bytes(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

const payloadKeys = z.string().transform((s, ctx) => {
  const keys: PayloadKey[] = [];
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const [i, item] of items.entries()) {
    const colon = item.indexOf(':');
    const id = item.slice(0, colon);
    const bytes = colon > 0 ? base64Bytes(item.slice(colon + 1).trim()) : undefined;
    const problem = !KEY_ID_PATTERN.test(id)
      ? `entry #${i + 1} must be id:<base64 key> with an id of letters, digits, '.', '_' or '-' (at most 64)`
      : bytes?.length !== KEY_BYTES
        ? `entry #${i + 1} (id ${id}): the key must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`
        : undefined;
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    keys.push(payloadKey(id, bytes!));
  }
  if (keys.length === 0) ctx.addIssue({ code: 'custom', message: 'defines no key' });
  if (new Set(keys.map((k) => k.id)).size !== keys.length)
    ctx.addIssue({ code: 'custom', message: 'repeats a key id' });
  return keys;
});

const origin = z
  .string()
  .trim()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s.replace(/\/$/, '');
    } catch {
      return false;
    }
  }, 'each entry must be an origin like http://localhost:8233 (scheme, host and port; no path)')
  .transform((s) => s.replace(/\/$/, ''));

export const payloadEncryptionFields = {
  PAYLOAD_ENCRYPTION_KEYS: payloadKeys.optional(),
  PAYLOAD_ENCRYPTION_KEY_ID: z
    .string()
    .trim()
    .regex(KEY_ID_PATTERN, 'must be a key id of PAYLOAD_ENCRYPTION_KEYS')
    .optional(),
  TEMPORAL_UI_ORIGINS: z
    .string()
    .default('http://localhost:8233')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(origin).min(1)),
};

interface EncryptionConfig {
  NODE_ENV: string;
  PAYLOAD_ENCRYPTION_KEYS?: PayloadKey[];
  PAYLOAD_ENCRYPTION_KEY_ID?: string;
}

/** The checks across variables: required in production, and the current key must be a listed one. */
export function payloadEncryptionProblems(c: EncryptionConfig): string[] {
  const keys = c.PAYLOAD_ENCRYPTION_KEYS;
  const current = c.PAYLOAD_ENCRYPTION_KEY_ID;
  if (!keys) {
    if (c.NODE_ENV === 'production')
      return ['PAYLOAD_ENCRYPTION_KEYS: must be set in production (personal data would reach Temporal in clear)'];
    return current ? ['PAYLOAD_ENCRYPTION_KEY_ID: set without PAYLOAD_ENCRYPTION_KEYS'] : [];
  }
  if (current === undefined) {
    return keys.length === 1
      ? []
      : ['PAYLOAD_ENCRYPTION_KEY_ID: must name the key that encrypts when PAYLOAD_ENCRYPTION_KEYS lists several'];
  }
  if (!keys.some((k) => k.id === current)) {
    return [
      `PAYLOAD_ENCRYPTION_KEY_ID=${JSON.stringify(current)}: not among the ids of PAYLOAD_ENCRYPTION_KEYS (${keys.map((k) => k.id).join(', ')})`,
    ];
  }
  return [];
}

/** The keys and the current key id, or undefined when the codec is off (development or test without keys). */
export function payloadEncryption(c: EncryptionConfig): { keys: PayloadKey[]; currentKeyId: string } | undefined {
  const keys = c.PAYLOAD_ENCRYPTION_KEYS;
  if (!keys) return undefined;
  return { keys, currentKeyId: c.PAYLOAD_ENCRYPTION_KEY_ID ?? keys[0]!.id };
}
