/**
 * The Temporal transport settings (TLS, mutual TLS, API key) as config/env.ts reads them, and the checks
 * between them. Certificate and key files are read and parsed here, at start-up, so a wrong path or a
 * file of the wrong kind stops the process with the variable's name instead of failing the first
 * connection with a gRPC error.
 *
 * TEMPORAL_TLS unset means: on when any TLS file, the server name or an API key is given, off otherwise.
 * TEMPORAL_TLS=off together with one of those is refused (a bearer key or a client key sent in clear is
 * a mistake, not a choice).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A PEM file read at start-up: its path (for messages) and its bytes (for the connection). */
export interface PemFile {
  file: string;
  pem: Buffer;
}

type PemKind = 'certificate' | 'private key';

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'file cannot be read (permission denied)';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return `file cannot be read (${code ?? (err as Error).message})`;
}

/** Why `pem` is not a usable PEM of this kind, or undefined when it is. */
function pemProblem(pem: Buffer, kind: PemKind): string | undefined {
  const text = pem.toString('utf8');
  if (kind === 'certificate') {
    if (!text.includes('-----BEGIN CERTIFICATE-----')) return 'is not a PEM certificate (no BEGIN CERTIFICATE block)';
    try {
      const cert = new X509Certificate(pem);
      if (Date.parse(cert.validTo) < Date.now()) return `holds a certificate that expired on ${cert.validTo}`;
    } catch (err) {
      return `holds a certificate that cannot be parsed (${(err as Error).message})`;
    }
    return undefined;
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return 'is not a PEM private key (no BEGIN PRIVATE KEY block)';
  if (text.includes('ENCRYPTED')) return 'holds an encrypted private key; give the key without a passphrase';
  try {
    createPrivateKey(pem);
  } catch (err) {
    // The message of a failed key parse names no key material, only the reason.
    return `holds a private key that cannot be parsed (${(err as Error).message})`;
  }
  return undefined;
}

const pemFile = (kind: PemKind) =>
  z
    .string()
    .trim()
    .min(1)
    .transform((file, ctx): PemFile => {
      let pem: Buffer;
      try {
        pem = readFileSync(file);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: readProblem(err) });
        return z.NEVER;
      }
      const problem = pemProblem(pem, kind);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      return { file, pem };
    });

/** The environment variables, merged into config/env.ts's schema. */
export const temporalTransportFields = {
  TEMPORAL_TLS: z.enum(['on', 'off']).optional(),
  // The CA that signed the server's certificate; without it, the system's CAs (enough for Temporal Cloud).
  TEMPORAL_TLS_CA_FILE: pemFile('certificate').optional(),
  // Mutual TLS: this client's certificate and its key, both or neither.
  TEMPORAL_TLS_CERT_FILE: pemFile('certificate').optional(),
  TEMPORAL_TLS_KEY_FILE: pemFile('private key').optional(),
  // The name the server's certificate is checked against, when it is not the host of TEMPORAL_ADDRESS.
  TEMPORAL_TLS_SERVER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be a host name')
    .optional(),
  // Sent as `Authorization: Bearer <key>` (Temporal Cloud API keys). Secret: never echoed.
  TEMPORAL_API_KEY: z.string().trim().min(1).optional(),
  // Hosts reached without TLS even in production: only for a private network no one else is on, e.g. the
  // compose network's `temporal` (its Temporal publishes no port). Named explicitly, never a default.
  TEMPORAL_PLAINTEXT_HOSTS: z
    .string()
    .optional()
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    ),
};

/** The parsed settings, as they sit in Config. */
export interface TemporalTransportSettings {
  NODE_ENV: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_PLAINTEXT_HOSTS?: string[];
  TEMPORAL_TLS?: 'on' | 'off';
  TEMPORAL_TLS_CA_FILE?: PemFile;
  TEMPORAL_TLS_CERT_FILE?: PemFile;
  TEMPORAL_TLS_KEY_FILE?: PemFile;
  TEMPORAL_TLS_SERVER_NAME?: string;
  TEMPORAL_API_KEY?: string;
}

const TLS_IMPLYING = [
  'TEMPORAL_TLS_CA_FILE',
  'TEMPORAL_TLS_CERT_FILE',
  'TEMPORAL_TLS_KEY_FILE',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_API_KEY',
] as const;

/** Whether the connection uses TLS (see the rule at the top of this file). */
export function temporalTlsEnabled(s: TemporalTransportSettings): boolean {
  if (s.TEMPORAL_TLS) return s.TEMPORAL_TLS === 'on';
  return TLS_IMPLYING.some((k) => s[k] !== undefined);
}

/** The host of `host:port` or `[ipv6]:port`. */
export function temporalHost(address: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(address);
  return bracketed ? bracketed[1]! : address.slice(0, address.lastIndexOf(':'));
}

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && v4.slice(1).every((n) => Number(n) <= 255);
}

/** Problems between the settings, each starting with the variable to change. */
export function temporalTransportProblems(s: TemporalTransportSettings): string[] {
  const problems: string[] = [];
  const given = TLS_IMPLYING.filter((k) => s[k] !== undefined);
  if (s.TEMPORAL_TLS === 'off' && given.length > 0) {
    problems.push(
      `TEMPORAL_TLS=off: contradicts ${given.join(', ')} (these need TLS); set TEMPORAL_TLS=on or leave it unset`,
    );
  }
  if ((s.TEMPORAL_TLS_CERT_FILE === undefined) !== (s.TEMPORAL_TLS_KEY_FILE === undefined)) {
    const missing = s.TEMPORAL_TLS_CERT_FILE ? 'TEMPORAL_TLS_KEY_FILE' : 'TEMPORAL_TLS_CERT_FILE';
    const set = s.TEMPORAL_TLS_CERT_FILE ? 'TEMPORAL_TLS_CERT_FILE' : 'TEMPORAL_TLS_KEY_FILE';
    problems.push(`${missing}: must be set when ${set} is (mutual TLS needs the certificate and its key, or neither)`);
  } else if (s.TEMPORAL_TLS_CERT_FILE && s.TEMPORAL_TLS_KEY_FILE) {
    const cert = new X509Certificate(s.TEMPORAL_TLS_CERT_FILE.pem);
    if (!cert.checkPrivateKey(createPrivateKey(s.TEMPORAL_TLS_KEY_FILE.pem))) {
      problems.push(
        `TEMPORAL_TLS_KEY_FILE=${JSON.stringify(s.TEMPORAL_TLS_KEY_FILE.file)}: is not the key of the certificate in TEMPORAL_TLS_CERT_FILE`,
      );
    }
  }
  const host = temporalHost(s.TEMPORAL_ADDRESS);
  const allowedPlaintext = s.TEMPORAL_PLAINTEXT_HOSTS?.includes(host) ?? false;
  if (s.NODE_ENV === 'production' && !temporalTlsEnabled(s) && !isLoopbackHost(host) && !allowedPlaintext) {
    problems.push(
      `TEMPORAL_TLS: must be on in production for a Temporal that is not on loopback (TEMPORAL_ADDRESS=${s.TEMPORAL_ADDRESS}); ` +
        'set TEMPORAL_TLS=on (with TEMPORAL_TLS_CA_FILE for a private CA, TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE ' +
        'for mutual TLS) or TEMPORAL_API_KEY; only on a private network of its own may TEMPORAL_PLAINTEXT_HOSTS name it',
    );
  }
  return problems;
}
