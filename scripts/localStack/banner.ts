/**
 * The block printed once the local stack is ready: every address, ready-to-use tokens, an example call.
 */
import type { ApiTokenEntry } from '../../config/env';
import type { SeedResult } from '../seedDemoData';
import type { StackPlan } from './plan';

function tokenFor(tokens: ApiTokenEntry[], role: ApiTokenEntry['role']): string {
  const entry = tokens.find((t) => t.role === role);
  return entry ? `${entry.token}   (actor ${entry.actorId})` : `(none: add one to API_TOKENS)`;
}

/** A day a week ahead, so the example's planned collection date is accepted whenever it is run. */
function weekAhead(now: Date): string {
  const d = new Date(now);
  d.setUTCDate(d.getUTCDate() + 7);
  return d.toISOString().slice(0, 10);
}

export const READY_MARKER = 'device-lifecycle local stack is ready';

export function readyBanner(
  plan: StackPlan,
  opts: { startupMs: number; seed: SeedResult; readyAt?: [string, number][]; now?: Date },
): string {
  const { config } = plan;
  const api = plan.api.baseUrl;
  const root = `http://${plan.api.host}:${plan.api.port}`;
  const admin = config.API_TOKENS.find((t) => t.role === 'admin')?.token ?? '<admin token>';
  const body = JSON.stringify({
    reason: 'Demo: hand the device to a new user',
    plannedCollectionDate: weekAhead(opts.now ?? new Date()),
    storageLocation: 'Tokyo HQ IT storage',
  });
  const line = '─'.repeat(96);
  const rows = [
    line,
    ` ${READY_MARKER} in ${(opts.startupMs / 1000).toFixed(1)} s`,
    ...(opts.readyAt?.length
      ? [`   (ready at: ${opts.readyAt.map(([name, s]) => `${name} ${s.toFixed(1)} s`).join(', ')})`]
      : []),
    line,
    `  API               ${api}`,
    `  health            ${api}/healthz   readiness ${api}/readyz   (also ${root}/healthz)`,
    `  Temporal UI       http://127.0.0.1:${plan.temporal.uiPort}   (namespace ${config.TEMPORAL_NAMESPACE})`,
    `  Temporal gRPC     ${plan.temporal.address}   (task queue ${config.TEMPORAL_TASK_QUEUE})`,
    `  MDM emulator      ${plan.mdm.baseUrl}   OpenAPI ${plan.mdm.baseUrl}/openapi.json   (Bearer ${config.MDM_API_KEY})`,
    `  mail sink         http://${plan.mail.host}:${plan.mail.httpPort}/messages   (SMTP ${plan.mail.host}:${plan.mail.smtpPort})`,
    `  PostgreSQL        ${config.DATABASE_URL}`,
    `  data              ${plan.dataDir}`,
    '',
    `  admin token       ${tokenFor(config.API_TOKENS, 'admin')}`,
    `  field-staff token ${tokenFor(config.API_TOKENS, 'field-staff')}`,
    `  viewer token      ${tokenFor(config.API_TOKENS, 'viewer')}`,
    '',
    `  demo data         ${opts.seed.assets.total} assets (${opts.seed.assets.created} new), ` +
      `${opts.seed.devices.total} enrolled in the MDM (${opts.seed.devices.registered} new)`,
    '',
    '  try:',
    `    curl -s -H 'Authorization: Bearer ${admin}' '${api}/workflows'`,
    `    curl -s -X POST -H 'Authorization: Bearer ${admin}' -H 'Content-Type: application/json' \\`,
    `      -d '${body}' \\`,
    `      ${api}/devices/A-000001/change-user`,
    '',
    '  A part that dies is restarted (its data kept). Ctrl-C stops everything (data stays in the data folder).',
    line,
  ];
  return `${rows.join('\n')}\n`;
}
