/**
 * A small SMTP server that accepts every message and keeps it: the local stack's mail sink (no relay is
 * reachable from a development machine) and the thing tests read mail back from.
 */
import { EventEmitter } from 'node:events';
import { appendFile, mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The Message-ID header, angle brackets included. */
  messageId?: string;
  from?: string;
  to: string[];
  cc: string[];
  /** Recipients from the SMTP envelope (includes Bcc). */
  envelopeTo: string[];
  envelopeFrom?: string;
  subject: string;
  text: string;
  html?: string;
  headers: Record<string, string>;
  /** Attached files (mailparser's attachments), their bytes in base64 so the JSONL file stays readable. */
  attachments: { filename?: string; contentType: string; contentBase64: string }[];
  receivedAt: string;
}

export interface SmtpSinkOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Append every message to this JSONL file as well (its folder is created). */
  file?: string;
  /** Keep at most this many messages in memory (oldest dropped first). */
  maxMessages?: number;
}

export interface SmtpSink {
  port: number;
  host: string;
  messages(): ReceivedMail[];
  /** Resolves with the first message, received before or after the call, that matches. */
  waitFor(predicate: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  clear(): void;
  close(): Promise<void>;
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return list.flatMap((a) => a.value.flatMap((v) => (v.address ? [v.address] : [])));
}

function headerText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object' && 'text' in value && typeof value.text === 'string') return value.text;
  if (value && typeof value === 'object' && 'value' in value) return String((value as { value: unknown }).value);
  return JSON.stringify(value);
}

export async function startSmtpSink({
  port = 0,
  host = '127.0.0.1',
  file,
  maxMessages = 10_000,
}: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const closing = new AbortController();
  if (file) await mkdir(path.dirname(file), { recursive: true });

  const server = new SMTPServer({
    authOptional: true,
    // nodemailer upgrades to TLS when offered, and the sink's certificate would be self-signed
    disabledCommands: ['STARTTLS'],
    logger: false,
    banner: 'device-lifecycle SMTP sink',
    size: 25 * 1024 * 1024,
    // close() should not wait 30 s for a pooled client that keeps its connection open
    closeTimeout: 1_000,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then(async (parsed) => {
          const mail: ReceivedMail = {
            messageId: parsed.messageId,
            from: addresses(parsed.from)[0],
            to: addresses(parsed.to),
            cc: addresses(parsed.cc),
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : undefined,
            headers: Object.fromEntries([...parsed.headers].map(([k, v]) => [k, headerText(v)])),
            attachments: parsed.attachments.map((a) => ({
              filename: a.filename,
              contentType: a.contentType,
              contentBase64: a.content.toString('base64'),
            })),
            receivedAt: new Date().toISOString(),
          };
          if (file) await appendFile(file, `${JSON.stringify(mail)}\n`, 'utf8');
          received.push(mail);
          if (received.length > maxMessages) received.splice(0, received.length - maxMessages);
          events.emit('mail', mail);
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After start-up a client's broken connection is that client's problem, not a reason to crash.
  server.on('error', () => {});
  const address = server.server.address() as AddressInfo;

  return {
    port: address.port,
    host,
    messages: () => [...received],
    clear: () => {
      received.length = 0;
    },
    waitFor(predicate, timeoutMs = 5_000) {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      if (closing.signal.aborted) return Promise.reject(new Error('SMTP sink is closed'));
      return new Promise((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer);
          events.off('mail', onMail);
          closing.signal.removeEventListener('abort', onClose);
        };
        const onMail = (mail: ReceivedMail) => {
          if (!predicate(mail)) return;
          finish();
          resolve(mail);
        };
        const onClose = () => {
          finish();
          reject(new Error('SMTP sink closed while waiting for a message'));
        };
        const timer = setTimeout(() => {
          finish();
          const seen = received.map((m) => `"${m.subject}" to ${m.to.join(', ')}`).join('; ') || 'none';
          reject(new Error(`no matching message within ${timeoutMs} ms (received ${received.length}: ${seen})`));
        }, timeoutMs);
        events.on('mail', onMail);
        closing.signal.addEventListener('abort', onClose);
      });
    },
    close() {
      closing.abort();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
