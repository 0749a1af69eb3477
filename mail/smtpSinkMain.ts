/**
 * Runs the SMTP sink for the local stack: `npx tsx mail/smtpSinkMain.ts`.
 * Env: SMTP_SINK_PORT (2525, the port in the default SMTP_URL), SMTP_SINK_HOST (127.0.0.1),
 * SMTP_SINK_FILE (<DATA_DIR>/mail/messages.jsonl), SMTP_SINK_HTTP_PORT (8025; 0 = no HTTP listing).
 * GET http://host:8025/messages lists what arrived (newest last); ?to=addr filters by recipient.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { startSmtpSink } from './smtpSink';

const env = z
  .object({
    SMTP_SINK_PORT: z.coerce.number().int().min(0).max(65535).default(2525),
    SMTP_SINK_HOST: z.string().min(1).default('127.0.0.1'),
    SMTP_SINK_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8025),
    DATA_DIR: z.string().min(1).default('.data'),
    SMTP_SINK_FILE: z.string().min(1).optional(),
  })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v)));

const file = path.resolve(env.SMTP_SINK_FILE ?? path.join(env.DATA_DIR, 'mail', 'messages.jsonl'));
const sink = await startSmtpSink({ port: env.SMTP_SINK_PORT, host: env.SMTP_SINK_HOST, file });
console.log(`SMTP sink listening on smtp://${sink.host}:${sink.port}; messages are appended to ${file}`);

const http = env.SMTP_SINK_HTTP_PORT
  ? createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://sink');
      if (req.method !== 'GET' || url.pathname !== '/messages') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'GET /messages' }));
        return;
      }
      const to = url.searchParams.get('to')?.toLowerCase();
      const messages = sink.messages().filter((m) => !to || m.envelopeTo.some((r) => r.toLowerCase() === to));
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ messages }));
    })
  : undefined;
if (http) {
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(env.SMTP_SINK_HTTP_PORT, env.SMTP_SINK_HOST, resolve);
  });
  const { port } = http.address() as AddressInfo;
  console.log(`received messages: http://${env.SMTP_SINK_HOST}:${port}/messages`);
}

const stop = () => {
  http?.close();
  void sink.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
