/**
 * How every process of the service reaches Temporal: the client and worker connection options built from
 * the transport settings (temporal/connectionSettings.ts), and connection failures explained in terms of
 * those settings. The API, the worker and the scripts connect only through here, so TLS, mutual TLS and
 * the API key apply everywhere at once.
 */
import { Connection, type ConnectionOptions } from '@temporalio/client';
import type { NativeConnection, NativeConnectionOptions, TLSConfig } from '@temporalio/worker';
import { probeTemporalTls } from './connectionProbe';
import { temporalTlsEnabled, type TemporalTransportSettings } from './connectionSettings';

/** The TLS part of the options, or undefined for plaintext. */
export function temporalTlsConfig(s: TemporalTransportSettings): TLSConfig | undefined {
  if (!temporalTlsEnabled(s)) return undefined;
  const tls: TLSConfig = {};
  if (s.TEMPORAL_TLS_CA_FILE) tls.serverRootCACertificate = s.TEMPORAL_TLS_CA_FILE.pem;
  if (s.TEMPORAL_TLS_CERT_FILE && s.TEMPORAL_TLS_KEY_FILE) {
    tls.clientCertPair = { crt: s.TEMPORAL_TLS_CERT_FILE.pem, key: s.TEMPORAL_TLS_KEY_FILE.pem };
  }
  if (s.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = s.TEMPORAL_TLS_SERVER_NAME;
  return tls;
}

/** Options for a client Connection (API, scripts). `tls: false` is explicit so the SDK never guesses. */
export function clientConnectionOptions(
  s: TemporalTransportSettings,
  extra: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
): ConnectionOptions {
  return { ...extra, address: s.TEMPORAL_ADDRESS, tls: temporalTlsConfig(s) ?? false, apiKey: s.TEMPORAL_API_KEY };
}

/** Options for the worker's NativeConnection. */
export function workerConnectionOptions(s: TemporalTransportSettings): NativeConnectionOptions {
  return { address: s.TEMPORAL_ADDRESS, tls: temporalTlsConfig(s) ?? false, apiKey: s.TEMPORAL_API_KEY };
}

/** For log lines: how the connection is secured, without any secret. */
export function describeTemporalTransport(s: TemporalTransportSettings): string {
  const tls = temporalTlsConfig(s);
  if (!tls) return 'plaintext';
  const parts = [tls.clientCertPair ? 'mutual TLS' : 'TLS'];
  parts.push(s.TEMPORAL_TLS_CA_FILE ? `CA ${s.TEMPORAL_TLS_CA_FILE.file}` : 'system CAs');
  if (s.TEMPORAL_TLS_SERVER_NAME) parts.push(`server name ${s.TEMPORAL_TLS_SERVER_NAME}`);
  if (s.TEMPORAL_API_KEY) parts.push('API key');
  return parts.join(', ');
}

/** The whole error text, causes included (Core and grpc-js put the TLS reason deep in the chain). */
function fullText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 10; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(' <- ');
}

const UNTRUSTED_SERVER = [
  /unable to verify the first certificate/i,
  /self[- ]signed certificate/i,
  /unable to get (local )?issuer certificate/i,
  /UnknownIssuer/,
  /certificate verify failed/i,
  /BadSignature/,
  /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/,
];
const WRONG_NAME = [/does not match certificate's altnames/i, /NotValidForName/, /ERR_TLS_CERT_ALTNAME_INVALID/];
const CLIENT_CERT_REFUSED = [
  /certificate required/i,
  /CertificateRequired/,
  /alert bad certificate/i,
  /BadCertificate/,
  /unknown ca/i,
  /UnknownCA/,
];
const TLS_TO_PLAINTEXT = [/wrong version number/i, /CorruptMessage/, /InvalidContentType/, /packet length too long/i];
const UNAUTHENTICATED = [/UNAUTHENTICATED/i, /PERMISSION_DENIED|PermissionDenied/];

/** Why a connection failed, in terms of the settings to change; undefined when it is not a transport matter. */
export function explainTemporalConnectError(err: unknown, s: TemporalTransportSettings): string | undefined {
  const text = fullText(err);
  const at = `Temporal at ${s.TEMPORAL_ADDRESS}`;
  const ca = s.TEMPORAL_TLS_CA_FILE ? `TEMPORAL_TLS_CA_FILE=${s.TEMPORAL_TLS_CA_FILE.file}` : 'the system CAs';
  if (WRONG_NAME.some((p) => p.test(text))) {
    return `${at}: its TLS certificate is not issued for the name we checked (${s.TEMPORAL_TLS_SERVER_NAME ?? 'the host of TEMPORAL_ADDRESS'}); set TEMPORAL_TLS_SERVER_NAME to a name in the certificate`;
  }
  if (UNTRUSTED_SERVER.some((p) => p.test(text))) {
    return `${at}: its TLS certificate is not signed by a CA we trust (${ca}); set TEMPORAL_TLS_CA_FILE to the CA that issued the server's certificate`;
  }
  if (CLIENT_CERT_REFUSED.some((p) => p.test(text))) {
    return s.TEMPORAL_TLS_CERT_FILE
      ? `${at}: refused our client certificate (TEMPORAL_TLS_CERT_FILE=${s.TEMPORAL_TLS_CERT_FILE.file}); the server does not trust its issuer`
      : `${at}: requires a client certificate (mutual TLS); set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE`;
  }
  if (/CLOSED_AFTER_HANDSHAKE/.test(text)) {
    return s.TEMPORAL_TLS_CERT_FILE
      ? `${at}: closed the connection right after the TLS handshake, most likely refusing our client certificate (TEMPORAL_TLS_CERT_FILE=${s.TEMPORAL_TLS_CERT_FILE.file}); check that the server trusts its issuer`
      : `${at}: closed the connection right after the TLS handshake; if it requires mutual TLS, set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE`;
  }
  if (temporalTlsEnabled(s) && TLS_TO_PLAINTEXT.some((p) => p.test(text))) {
    return `${at}: does not speak TLS on that port; check TEMPORAL_ADDRESS or set TEMPORAL_TLS=off`;
  }
  if (UNAUTHENTICATED.some((p) => p.test(text))) {
    return s.TEMPORAL_API_KEY
      ? `${at}: refused our credentials; check TEMPORAL_API_KEY (and that it may use the namespace)`
      : `${at}: requires credentials; set TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE`;
  }
  return undefined;
}

/** An error whose message says what to change, keeping the SDK's error as its cause. */
export class TemporalConnectError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'TemporalConnectError';
  }
}

/**
 * The SDK's error, or one saying what to change. gRPC hides why a TLS handshake failed ("Failed to
 * connect before the deadline"), so with TLS on an unexplained failure is followed by a handshake probe.
 */
async function explained(err: unknown, s: TemporalTransportSettings): Promise<unknown> {
  let why = explainTemporalConnectError(err, s);
  if (why === undefined && temporalTlsEnabled(s)) {
    const probe = await probeTemporalTls(s);
    if (!probe.ok) why = explainTemporalConnectError(new Error(`${probe.code ?? ''} ${probe.message ?? ''}`), s);
  }
  if (why === undefined) return err;
  const first = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
  return new TemporalConnectError(`${why} (${first})`, err);
}

/** A client connection, connected now; a transport failure is thrown as a TemporalConnectError. */
export async function connectTemporalClient(
  s: TemporalTransportSettings,
  extra?: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'>,
): Promise<Connection> {
  try {
    const connection = await Connection.connect(clientConnectionOptions(s, extra));
    // Connection.connect succeeds once the channel is up; with TLS a refused client certificate shows
    // only on the first call, so make one.
    try {
      await connection.workflowService.getSystemInfo({});
    } catch (err) {
      await connection.close();
      throw err;
    }
    return connection;
  } catch (err) {
    throw await explained(err, s);
  }
}

/** A client connection that connects on first use (the API starts before Temporal is there). */
export function lazyTemporalClient(
  s: TemporalTransportSettings,
  extra?: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'>,
): Connection {
  return Connection.lazy(clientConnectionOptions(s, extra));
}

/** The worker's connection; the native bridge is loaded only by processes that run a worker. */
export async function connectTemporalWorker(s: TemporalTransportSettings): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    return await NativeConnection.connect(workerConnectionOptions(s));
  } catch (err) {
    throw await explained(err, s);
  }
}
