import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogMailer, createSmtpMailer, MailDeliveryError, messageIdFor, type SmtpMailer } from '../mail/mailer';
import { PATIENCE_MS } from './support/patience';
import { startSmtpSink, type SmtpSink } from './support/smtpSink';

const from = 'device-lifecycle@example.com';
let sink: SmtpSink;
let mailer: SmtpMailer;
let tmp: string;
let jsonl: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mail-test-'));
  jsonl = path.join(tmp, 'mail', 'messages.jsonl');
  sink = await startSmtpSink({ port: 0, file: jsonl });
  mailer = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${sink.port}`, from });
});

afterAll(async () => {
  mailer?.close();
  await sink?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('SMTP mailer and sink', () => {
  it('delivers Japanese subject and body intact, with recipients', async () => {
    const subject = '【回収のお願い】端末 A-000123 の回収日：2026年12月1日';
    const text =
      '山田 太郎 様\n\n業務用スマートフォン（資産番号 A-000123）を回収いたします。\n理由：利用者変更\n\nご協力をお願いいたします。📱';
    const html = '<p>山田 太郎 様</p><p>端末を<strong>回収</strong>いたします。</p>';
    const sent = await mailer.send({ to: ['taro.yamada@example.com', 'hanako@example.com'], subject, text, html });

    const mail = await sink.waitFor((m) => m.subject === subject, PATIENCE_MS);
    expect(mail.to).toEqual(['taro.yamada@example.com', 'hanako@example.com']);
    expect(mail.envelopeTo).toEqual(['taro.yamada@example.com', 'hanako@example.com']);
    expect(mail.from).toBe(from);
    expect(mail.text.trim()).toBe(text);
    expect(mail.html).toContain('<strong>回収</strong>');
    expect(mail.messageId).toBe(sent.messageId);
  });

  it('derives the Message-ID from the idempotency key, so a retried send carries the same id', async () => {
    const key = 'device-A-000124/scheduled/notify-user';
    const msg = { to: ['user@example.com'], subject: 'Retry test', text: 'once', idempotencyKey: key };
    const first = await mailer.send(msg);
    const second = await mailer.send(msg);
    expect(first.messageId).toBe(messageIdFor(key, from));
    expect(second.messageId).toBe(first.messageId);
    expect(messageIdFor(key, from)).toMatch(/^<[0-9a-f]{40}\.device-lifecycle@example\.com>$/);
    expect(messageIdFor('another key', from)).not.toBe(first.messageId);

    await sink.waitFor(
      (m) => m.subject === 'Retry test' && sink.messages().filter((x) => x.subject === 'Retry test').length === 2,
      PATIENCE_MS,
    );
    const copies = sink.messages().filter((m) => m.subject === 'Retry test');
    expect(copies.map((m) => m.messageId)).toEqual([first.messageId, first.messageId]);
    expect(copies[0].headers['x-idempotency-key']).toBe(key);
  });

  it('appends received mail to the JSONL file', async () => {
    await mailer.send({ to: ['file@example.com'], subject: 'ファイル保存', text: '本文' });
    await sink.waitFor((m) => m.subject === 'ファイル保存', PATIENCE_MS);
    const lines = (await readFile(jsonl, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { subject: string; text: string });
    expect(lines.find((l) => l.subject === 'ファイル保存')?.text.trim()).toBe('本文');
  });

  it('waitFor times out cleanly, naming what did arrive', async () => {
    await expect(sink.waitFor((m) => m.subject === 'never sent', 300)).rejects.toThrow(
      /no matching message within 300 ms \(received \d+: /,
    );
    // the timed-out waiter is gone: a later message still resolves a new waiter and nothing else fires
    const later = sink.waitFor((m) => m.subject === 'after timeout', PATIENCE_MS);
    await mailer.send({ to: ['x@example.com'], subject: 'after timeout', text: '.' });
    await expect(later).resolves.toMatchObject({ subject: 'after timeout' });
  });

  it('reports an unreachable relay as a transient delivery error', async () => {
    const closed = await startSmtpSink({ port: 0 });
    await closed.close();
    const broken = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${closed.port}`, from, timeoutMs: 2_000 });
    try {
      const err = await broken.send({ to: ['x@example.com'], subject: 's', text: 't' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MailDeliveryError);
      expect((err as MailDeliveryError).permanent).toBe(false);
    } finally {
      broken.close();
    }
  });

  it('reports a 5xx refusal as a permanent delivery error', async () => {
    const refusing = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
      },
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const { port } = refusing.server.address() as AddressInfo;
    const strict = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from });
    try {
      const err = await strict.send({ to: ['nobody@example.com'], subject: 's', text: 't' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MailDeliveryError);
      expect(err).toMatchObject({ permanent: true, responseCode: 550 });
    } finally {
      strict.close();
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
    }
  });

  it('refuses a message without recipients as permanent', async () => {
    await expect(mailer.send({ to: [], subject: 's', text: 't' })).rejects.toMatchObject({
      name: 'MailDeliveryError',
      permanent: true,
    });
  });
});

describe('log mailer', () => {
  it('logs instead of sending, with a stable id for an idempotency key', async () => {
    const lines: { line: string; fields: Record<string, unknown> }[] = [];
    const log = createLogMailer((line, fields) => lines.push({ line, fields }), from);
    const result = await log.send({ to: ['a@example.com'], subject: '件名', text: '本文', idempotencyKey: 'k1' });
    expect(result.messageId).toBe(messageIdFor('k1', from));
    expect(lines).toHaveLength(1);
    expect(lines[0].fields).toMatchObject({
      to: ['a@example.com'],
      subject: '件名',
      text: '本文',
      messageId: result.messageId,
    });
    const plain = await log.send({ to: ['a@example.com'], subject: 's', text: 't' });
    expect(plain.messageId).not.toBe(result.messageId);
  });
});
