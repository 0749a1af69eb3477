/**
 * Least exposure without a stack (issue 12 item 6): anonymous /readyz names components and ok or not,
 * never why; the HTTP MDM adapter refuses a device id that would leave the device's URL path before any
 * request; configuration errors and the API's log lines never print a password, token or URL user-info.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/env';
import { redactConsole, redactingLogger, redactSecrets } from '../config/redact';
import { MdmRejectedError } from '../mdm/errors';
import { createHttpMdm } from '../mdm/httpAdapter';
import { memoryDb, startApi, TOKENS } from './support/apiHarness';

describe('anonymous /readyz', () => {
  it('answers component names and ok or failed only, not the errors', async () => {
    const api = await startApi({ db: memoryDb([], { pingFails: true }) });
    try {
      const res = await api.call('GET', '/readyz');
      expect(res.status).toBe(503);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain('database down');
      expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|no answer within|task queue/);
      expect(res.body.error.details.checks).toEqual([
        { name: 'temporal', ok: false },
        { name: 'database', ok: false },
        { name: 'worker', ok: false },
      ]);
    } finally {
      await api.close();
    }
  });

  it('sends authenticated answers with Cache-Control: no-store', async () => {
    const api = await startApi();
    try {
      const res = await api.call('GET', '/api/v1/assets', { token: TOKENS.viewer });
      expect(res.headers.get('cache-control')).toBe('no-store');
    } finally {
      await api.close();
    }
  });
});

describe('the HTTP MDM adapter', () => {
  it('refuses . and .. and ids with / before building a URL (no request is made)', async () => {
    // Nothing listens there: an id that got as far as a request would fail as unavailable instead.
    const mdm = createHttpMdm({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', timeoutMs: 1_000, maxAttempts: 1 });
    for (const id of ['..', '.', '../jobs', 'a/b', '']) {
      const error = await Promise.resolve()
        .then(() => mdm.getDevice(id))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, id).toBeInstanceOf(MdmRejectedError);
      expect((error as MdmRejectedError).mdmCode).toBe('invalid_device_id');
      const del = await Promise.resolve()
        .then(() => mdm.deleteDevice(id, 'k-1'))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(del, id).toBeInstanceOf(MdmRejectedError);
    }
  });
});

describe('secrets in configuration errors and logs', () => {
  it('a configuration error never prints the password of DATABASE_URL or SMTP_URL', () => {
    let error: unknown;
    try {
      loadConfig({
        NODE_ENV: 'test',
        DATABASE_URL: 'postgres://app:Sup3r-S3cret@db:5432/x',
        SMTP_URL: 'smtp://mailer:M41l-S3cret@',
        DATABASE_POOL_SIZE: 'many',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = `${String(error)} ${JSON.stringify((error as ConfigError).problems)}`;
    expect(text).toContain('SMTP_URL');
    expect(text).not.toContain('M41l-S3cret');
    expect(text).not.toContain('Sup3r-S3cret');
    expect(text).not.toContain('mailer:');
  });

  it("masks URL user-info, bearer tokens, dlk_ keys and the configuration's secrets in every log line", () => {
    const lines: string[] = [];
    const sink = {
      error: (...a: unknown[]) => lines.push(a.map((x) => (x instanceof Error ? x.stack : String(x))).join(' ')),
      warn: (...a: unknown[]) => lines.push(a.map(String).join(' ')),
      info: (...a: unknown[]) => lines.push(a.map(String).join(' ')),
    };
    const logger = redactingLogger(sink);
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: 'postgres://app:Db-Pa55word@db:5432/x',
      MDM_API_KEY: 'mdm-key-0123456789',
    });
    // Registers the configuration's secrets (the processes call it at start); console itself is patched too.
    redactConsole(config);
    logger.error('[api] failed:', new Error('connect to postgres://app:Db-Pa55word@db:5432/x refused'));
    logger.warn('[api] upstream said: Authorization: Bearer abc.def.ghi with dlk_AbCdEf123456');
    logger.info(`[worker] using key mdm-key-0123456789 and token=zzz-top-secret`);
    const all = lines.join('\n');
    for (const secret of ['Db-Pa55word', 'abc.def.ghi', 'AbCdEf123456', 'mdm-key-0123456789', 'zzz-top-secret']) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain('postgres://***@db:5432/x');
    expect(redactSecrets('smtps://user:pw@mail.example.com:465')).toBe('smtps://***@mail.example.com:465');
  });
});
