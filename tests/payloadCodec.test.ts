/**
 * Payload encryption (issue 12 item 2, DESIGN §6). Unit: the AES-256-GCM codec's round trip, rotation, and
 * refusals. On real parts: a change-user process runs to completion on the dev server with a real worker,
 * the API and the codec on; its raw history, read with a client that has no codec, holds none of the test's
 * names, e-mails, phone numbers or signature in clear; decoded through the API's codec endpoint it holds
 * them all. The endpoint answers admins only, and CORS only to the Temporal UI's origin.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter, type FailureConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/env';
import { failureConverterPath } from '../temporal/codecDataConverter';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../temporal/payloadCodec';
import type { PayloadKey } from '../temporal/payloadEncryptionSettings';
import { workflowIdFor } from '../workflows/definitions';
import { reportUpdates } from '../workflows/definitions';
import { startApiFor, TOKENS, type ApiHarness } from './support/apiHarness';
import { dateInDays, newAssetNumber, report } from './support/fixtures';
import { startHarness, type Harness } from './support/lifecycleHarness';

const key = (id: string): PayloadKey => {
  const entry = { id } as PayloadKey;
  Object.defineProperty(entry, 'key', { value: randomBytes(32), enumerable: false });
  return entry;
};
const env = (keys: PayloadKey[], current: string) => ({
  PAYLOAD_ENCRYPTION_KEYS: keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
  PAYLOAD_ENCRYPTION_KEY_ID: current,
});
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');
const plain = (value: unknown) => defaultPayloadConverter.toPayload(value);

describe('the AES-256-GCM payload codec', () => {
  const k1 = key('k1');
  const k2 = key('k2');

  it('encrypts with the current key and a fresh IV each time, and decrypts back to the same payload', async () => {
    const codec = new AesGcmPayloadCodec([k1], 'k1');
    const original = plain({ name: 'Secret Person', email: 'secret@example.com' });
    const [a, b] = await codec.encode([original, original]);
    expect(text(a!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(a!.metadata!['encryption-key-id'])).toBe('k1');
    expect(text(a!.data)).not.toContain('Secret Person');
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    const [back] = await codec.decode([a!]);
    expect(defaultPayloadConverter.fromPayload(back!)).toEqual({ name: 'Secret Person', email: 'secret@example.com' });
  });

  it('rotates: an old key still decrypts, the new current key encrypts', async () => {
    const before = new AesGcmPayloadCodec([k1], 'k1');
    const after = new AesGcmPayloadCodec([k1, k2], 'k2');
    const [old] = await before.encode([plain('written before the rotation')]);
    expect(defaultPayloadConverter.fromPayload((await after.decode([old!]))[0]!)).toBe('written before the rotation');
    const [fresh] = await after.encode([plain('written after')]);
    expect(text(fresh!.metadata!['encryption-key-id'])).toBe('k2');
    // A process that knows only the old key cannot read the new payloads, and says which key it lacks.
    await expect(before.decode([fresh!])).rejects.toThrow(
      /key id "k2", which is not among PAYLOAD_ENCRYPTION_KEYS \(known: k1\)/,
    );
  });

  it('refuses a tampered ciphertext, a relabelled key id and a missing key id with clear errors', async () => {
    const codec = new AesGcmPayloadCodec([k1, k2], 'k1');
    const [sealed] = await codec.encode([plain('tamper with me')]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] ^= 1;
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(/key id k1\) failed authentication/);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, 'encryption-key-id': Buffer.from('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/key id k2\) failed authentication/);
    const unlabelled = { ...sealed!, metadata: { encoding: sealed!.metadata!.encoding! } };
    await expect(codec.decode([unlabelled])).rejects.toThrow(/no encryption-key-id/);
  });

  it('passes payloads that were never encrypted through (histories from before the codec)', async () => {
    const codec = new AesGcmPayloadCodec([k1], 'k1');
    const p = plain({ before: 'codec' });
    expect(await codec.decode([p])).toEqual([p]);
  });

  it('is configured from the environment: required in production, the current key must be listed, keys never echoed', () => {
    const keys = env([k1, k2], 'k2');
    expect(loadConfig({ ...keys }).PAYLOAD_ENCRYPTION_KEY_ID).toBe('k2');
    expect(() => loadConfig({ ...keys, PAYLOAD_ENCRYPTION_KEY_ID: 'k3' })).toThrow(/not among the ids .*\(k1, k2\)/);
    expect(() => loadConfig({ PAYLOAD_ENCRYPTION_KEYS: keys.PAYLOAD_ENCRYPTION_KEYS })).toThrow(
      /PAYLOAD_ENCRYPTION_KEY_ID: must name the key/,
    );
    const short = `k1:${randomBytes(16).toString('base64')}`;
    let message = '';
    try {
      loadConfig({ PAYLOAD_ENCRYPTION_KEYS: short });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/PAYLOAD_ENCRYPTION_KEYS=\(redacted\): entry #1 \(id k1\): the key must be 32 bytes/);
    expect(message).not.toContain(short.slice(3));
    expect(JSON.stringify(loadConfig({ ...keys }))).not.toContain(k1.key.toString('base64'));
    expect(loadConfig({}).PAYLOAD_ENCRYPTION_KEYS).toBeUndefined();
  });

  it('encodes failure messages and stack traces into a payload (which the codec then encrypts)', () => {
    const { failureConverter } = createRequire(import.meta.url)(failureConverterPath) as {
      failureConverter: FailureConverter;
    };
    const failure = failureConverter.errorToFailure(
      new Error('mail to someone@example.com refused'),
      defaultPayloadConverter,
    );
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(text(failure.encodedAttributes?.data)).toContain('someone@example.com');
  });
});

/** Every payload in a history with the path it sits at (search attributes are payloads too, never encoded). */
function payloadsOf(value: unknown, path = '', out: { path: string; payload: Payload }[] = []) {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return out;
  const record = value as Record<string, unknown>;
  const metadata = record.metadata as Record<string, Uint8Array> | undefined;
  if (metadata && typeof metadata === 'object' && metadata.encoding instanceof Uint8Array) {
    out.push({ path, payload: record as Payload });
    return out;
  }
  for (const [k, v] of Object.entries(record)) payloadsOf(v, `${path}.${k}`, out);
  return out;
}

describe('on real parts: a finished change-user history', () => {
  const keys = [key('old-key'), key('current')];
  const suffix = randomUUID().slice(0, 8);
  const digits = String(parseInt(suffix, 16)).padStart(10, '0').slice(0, 8);
  const personal = {
    newName: `Quilla Marker${suffix}`,
    newEmail: `quilla.${suffix}@example.com`,
    newPhone: `+81 90 ${digits.slice(0, 4)} ${digits.slice(4)}`,
    oldName: `Olaf Former${suffix}`,
    oldEmail: `olaf.${suffix}@example.com`,
    oldPhone: `+81 3 ${digits.slice(4)} ${digits.slice(0, 4)}`,
    adminName: `Ada Charge${suffix}`,
    signature: `data:image/png;base64,iVBORw0KGgoSIGNATURE${suffix}`,
  };
  let h: Harness;
  let api: ApiHarness;

  beforeAll(async () => {
    h = await startHarness({ payloadEncryption: { keys, currentKeyId: 'current' } });
    api = await startApiFor(h, { ...env(keys, 'current'), ADMIN_IN_CHARGE_NAME: personal.adminName });
  });
  afterAll(async () => {
    await api?.close();
    await h?.stop();
  });

  it('holds no name, e-mail, phone or signature in clear; decoded through the codec endpoint it holds them all', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({
      assetNumber,
      userName: personal.oldName,
      userEmail: personal.oldEmail,
      userPhone: personal.oldPhone,
    });
    const started = await api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
      token: TOKENS.admin,
      body: {
        reason: 'Leaver',
        plannedCollectionDate: dateInDays(7),
        storageLocation: 'Shelf 1',
        newUser: {
          name: personal.newName,
          email: personal.newEmail,
          phone: personal.newPhone,
          department: 'Engineering',
          location: 'Osaka',
        },
      },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const handle = h.client.workflow.getHandle(workflowIdFor(assetNumber));
    await h.waitForStep(handle, 'awaiting-collection');
    await h.mail.waitFor((m) => m.to.includes(personal.oldEmail));
    await handle.executeUpdate(reportUpdates['device-collected'], {
      args: [report({ collectedBy: 'Bob Field', storageLocation: 'Shelf 3' })],
    });
    await h.waitForStep(handle, 'awaiting-reenrollment');
    await h.emulator.reEnroll(mdmDeviceId);
    await handle.executeUpdate(reportUpdates['device-reenrolled'], { args: [report()] });
    await h.waitForStep(handle, 'awaiting-delivery');
    await h.mail.waitFor((m) => m.to.includes(personal.newEmail));
    // Straight to the workflow, as a raw signature would travel if the API did not store it first.
    await handle.executeUpdate(reportUpdates['device-delivered'], {
      args: [report({ receivedBy: personal.newName, signature: personal.signature })],
    });
    const final = await handle.result().catch((err: unknown) => {
      throw err instanceof WorkflowFailedError ? (err.cause ?? err) : err;
    });
    expect(final.status).toBe('completed');

    // Raw: a client without the codec, the history as the server stores and serves it.
    const raw = new Client({ connection: h.client.connection });
    const history = await raw.workflow.getHandle(handle.workflowId).fetchHistory();
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    const inClear = Object.entries(personal).filter(([, v]) => bytes.includes(Buffer.from(v, 'utf8')));
    expect(inClear, `personal data in clear in the raw history: ${JSON.stringify(inClear)}`).toEqual([]);
    const description = await raw.workflow.getHandle(handle.workflowId).describe();
    expect(JSON.stringify(description.raw)).not.toContain(personal.newName);

    // Every payload is encrypted except search attributes (indexed by the server, never personal data) and
    // patch markers (their ids, written by the SDK's core, which no codec sees).
    const found = payloadsOf(history.events);
    const unencrypted = found.filter((p) => text(p.payload.metadata!.encoding) !== ENCRYPTED_ENCODING);
    expect(
      unencrypted
        .filter((p) => !/\.searchAttributes\.|\.markerRecordedEventAttributes\.details\.patch-data\./.test(p.path))
        .map((p) => p.path),
    ).toEqual([]);
    const encrypted = found.filter((p) => text(p.payload.metadata!.encoding) === ENCRYPTED_ENCODING);
    expect(encrypted.length).toBeGreaterThan(20);
    expect(new Set(encrypted.map((p) => text(p.payload.metadata!['encryption-key-id'])))).toEqual(new Set(['current']));

    // Decoded through the API's codec endpoint, as the Temporal Web UI does: everything is there.
    const asJson = (p: Payload) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(p.data ?? []).toString('base64'),
    });
    const body = { payloads: encrypted.map((p) => asJson(p.payload)) };
    const decoded = await api.call('POST', '/api/v1/codec/decode', {
      token: TOKENS.admin,
      body,
      headers: { 'x-namespace': 'default' },
    });
    expect(decoded.status, JSON.stringify(decoded.body).slice(0, 300)).toBe(200);
    expect(decoded.headers.get('cache-control')).toBe('no-store');
    const clear = (decoded.body as { payloads: { data: string }[] }).payloads
      .map((p) => Buffer.from(p.data, 'base64').toString('utf8'))
      .join('\n');
    for (const [what, value] of Object.entries(personal)) expect(clear, what).toContain(value);

    // Admins only.
    expect((await api.call('POST', '/api/v1/codec/decode', { body })).status).toBe(401);
    expect((await api.call('POST', '/api/v1/codec/decode', { token: TOKENS.viewer, body })).status).toBe(403);
    expect((await api.call('POST', '/api/v1/codec/decode', { token: TOKENS.field, body })).status).toBe(403);
  });

  it("answers the UI's preflight from its origin only, and encodes with the current key", async () => {
    const preflight = await fetch(`${api.baseUrl}/api/v1/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:8233',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-namespace',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization.*Content-Type.*X-Namespace/);
    const elsewhere = await fetch(`${api.baseUrl}/api/v1/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();

    const payload = plain('hello');
    const json = {
      metadata: { encoding: Buffer.from(payload.metadata!.encoding!).toString('base64') },
      data: Buffer.from(payload.data!).toString('base64'),
    };
    const encoded = await api.call('POST', '/api/v1/codec/encode', {
      token: TOKENS.admin,
      body: { payloads: [json] },
      headers: { origin: 'http://localhost:8233' },
    });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    const sealed = (encoded.body as { payloads: { metadata: Record<string, string> }[] }).payloads[0]!;
    expect(Buffer.from(sealed.metadata['encryption-key-id']!, 'base64').toString()).toBe('current');
    const refused = await api.call('POST', '/api/v1/codec/decode', {
      token: TOKENS.admin,
      body: { payloads: [{ ...sealed, data: Buffer.alloc(40).toString('base64') }] },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('undecodable-payload');
  });
});
