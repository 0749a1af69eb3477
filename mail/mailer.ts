/**
 * Outgoing mail: notices to device users, field staff and admins. Activities depend on the Mailer
 * interface only; production uses SMTP (any relay), local runs an SMTP sink or the log transport.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  html?: string;
  /**
   * Stable per logical notice (e.g. workflow id + step + notice kind). The same key always yields the same
   * Message-ID, so a send retried by Temporal after a lost SMTP reply is recognisable downstream.
   */
  idempotencyKey?: string;
  /** Files sent along, e.g. a report's CSV. */
  attachments?: MailAttachment[];
}

export interface MailAttachment {
  filename: string;
  content: string | Buffer;
  /** e.g. `text/csv; charset=utf-8` */
  contentType: string;
}

export interface Mailer {
  send(msg: MailMessage): Promise<{ messageId: string }>;
}

/** A send that failed; `permanent` when retrying cannot help (5xx reply, no valid recipient). */
export class MailDeliveryError extends Error {
  override name = 'MailDeliveryError';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly responseCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = at >= 0 ? address.slice(at + 1).replace(/[>\s].*$/, '') : '';
  return domain || 'localhost';
}

/** The Message-ID for an idempotency key: `<hash@sender-domain>`, the same on every attempt. */
export function messageIdFor(idempotencyKey: string, from: string): string {
  const hash = createHash('sha256').update(idempotencyKey, 'utf8').digest('hex').slice(0, 40);
  return `<${hash}.device-lifecycle@${domainOf(from)}>`;
}

function checkMessage(msg: MailMessage): void {
  if (msg.to.length === 0) throw new MailDeliveryError('mail has no recipient', true);
  if (msg.subject.trim() === '') throw new MailDeliveryError('mail has no subject', true);
}

export interface SmtpMailerOptions {
  /** smtp://host:port or smtps://user:pass@host:port, as SMTP_URL in config/env.ts. */
  smtpUrl: string;
  from: string;
  /** Connection, greeting and socket timeouts; an activity must not hang on a silent relay. */
  timeoutMs?: number;
}

export interface SmtpMailer extends Mailer {
  /** Closes pooled connections (a worker calls this on shutdown). */
  close(): void;
}

export function createSmtpMailer({ smtpUrl, from, timeoutMs = 15_000 }: SmtpMailerOptions): SmtpMailer {
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: 2,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  return {
    async send(msg) {
      checkMessage(msg);
      const messageId = msg.idempotencyKey ? messageIdFor(msg.idempotencyKey, from) : undefined;
      try {
        const info = await transport.sendMail({
          from,
          to: msg.to,
          subject: msg.subject,
          text: msg.text,
          html: msg.html,
          messageId,
          headers: msg.idempotencyKey ? { 'X-Idempotency-Key': msg.idempotencyKey } : undefined,
          attachments: msg.attachments?.map(({ filename, content, contentType }) => ({
            filename,
            content,
            contentType,
          })),
        });
        return { messageId: info.messageId };
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        const permanent = code !== undefined && code >= 500 && code < 600;
        throw new MailDeliveryError(`sending "${msg.subject}" failed: ${(err as Error).message}`, permanent, code, {
          cause: err,
        });
      }
    },
    close() {
      transport.close();
    },
  };
}

export type MailLog = (line: string, fields: Record<string, unknown>) => void;

/** Writes mail to a log instead of sending it: for local runs without an SMTP sink, and for tests. */
export function createLogMailer(
  log: MailLog = (line, fields) => console.log(line, JSON.stringify(fields)),
  from = 'device-lifecycle@localhost',
): Mailer {
  let counter = 0;
  return {
    send(msg) {
      try {
        checkMessage(msg);
      } catch (err) {
        return Promise.reject(err);
      }
      counter += 1;
      const messageId = msg.idempotencyKey
        ? messageIdFor(msg.idempotencyKey, from)
        : `<${Date.now()}.${process.pid}.${counter}.log@${domainOf(from)}>`;
      log('mail (log transport, not sent)', {
        messageId,
        to: msg.to,
        subject: msg.subject,
        text: msg.text,
        ...(msg.html ? { html: msg.html } : {}),
        ...(msg.idempotencyKey ? { idempotencyKey: msg.idempotencyKey } : {}),
        ...(msg.attachments?.length
          ? {
              attachments: msg.attachments.map((a) => ({
                filename: a.filename,
                contentType: a.contentType,
                bytes: Buffer.byteLength(a.content),
              })),
            }
          : {}),
      });
      return Promise.resolve({ messageId });
    },
  };
}
