/**
 * The HTTP listener NanoMDM's `-webhook-url` points at (http://<NANOMDM_WEBHOOK_LISTEN>/webhook). It runs
 * beside the port in the worker process (createMdmPort starts it, MdmPortSetup.close stops it). With
 * several worker replicas, point NanoMDM at a load balancer over them: every replica writes the same
 * PostgreSQL store. NanoMDM sends each event once and does not retry, so the listener answers only after
 * the event is stored; when NANOMDM_WEBHOOK_HMAC_KEY is set, it refuses bodies whose X-Hmac-Signature
 * (base64 HMAC-SHA256, NanoMDM's -webhook-hmac-key) does not match.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookEvent } from './events';

export interface WebhookListener {
  url: string;
  close(): Promise<void>;
}

export async function startWebhookListener(options: {
  host: string;
  port: number;
  hmacKey?: string;
  onEvent: (event: WebhookEvent) => Promise<void>;
  log?: (line: string) => void;
}): Promise<WebhookListener> {
  const log = options.log ?? ((l: string) => console.error(`[nanomdm-webhook] ${l}`));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const reply = (status: number, text: string) => res.writeHead(status, { 'Content-Type': 'text/plain' }).end(text);
      if (req.method !== 'POST' || req.url !== '/webhook') return reply(404, 'not found');
      if (options.hmacKey && !signatureMatches(options.hmacKey, body, req.headers['x-hmac-signature'])) {
        return reply(401, 'bad X-Hmac-Signature');
      }
      let event: WebhookEvent;
      try {
        event = JSON.parse(body.toString('utf8')) as WebhookEvent;
      } catch {
        return reply(400, 'not JSON');
      }
      options.onEvent(event).then(
        () => reply(200, 'ok'),
        (err: Error) => {
          log(`could not apply ${event.topic}: ${err.message}`);
          reply(500, 'not stored');
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}/webhook`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function signatureMatches(key: string, body: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = createHmac('sha256', key).update(body).digest();
  const given = Buffer.from(header, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
