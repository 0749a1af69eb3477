/**
 * The request and answer of the codec endpoint (api/routes/codec.ts) in the Temporal Web UI's codec server
 * protocol: `{ "payloads": [ { "metadata": { "<key>": "<base64>" }, "data": "<base64>" } ] }`, the
 * protobuf JSON form of Payload, both ways. Shared with the OpenAPI description.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

/** A batch the UI sends for one history page; large enough for signatures, bounded all the same. */
export const CODEC_BODY_LIMIT = '8mb';
export const MAX_PAYLOADS = 1_000;

const base64 = z
  .string()
  .max(8 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');

export const codecPayload = z.strictObject({
  metadata: z.record(z.string().min(1).max(200), base64).nullish(),
  data: base64.nullish(),
});

export const codecBody = z.strictObject({
  payloads: z.array(codecPayload).max(MAX_PAYLOADS),
});

type JsonPayload = z.infer<typeof codecPayload>;

const bytes = (b64: string) => Buffer.from(b64.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

export function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, bytes(v)])),
    data: p.data ? bytes(p.data) : undefined,
  };
}

export function toJson(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

/** Encoding applies the codecs in order, decoding in the opposite order (as the SDK does). */
export async function runCodecs(codecs: readonly PayloadCodec[], op: 'encode' | 'decode', payloads: Payload[]) {
  let out = payloads;
  for (const codec of op === 'encode' ? codecs : [...codecs].reverse()) out = await codec[op](out);
  return out;
}
