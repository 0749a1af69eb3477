/**
 * A TLS handshake of our own with the Temporal frontend, made when a connection failed: gRPC reports a
 * failed handshake only as "Failed to connect before the deadline", while Node's TLS socket says why
 * (untrusted server certificate, wrong name, client certificate required or refused). The probe uses the
 * same CA, client certificate and server name as the connection, speaks ALPN h2 like gRPC, and after
 * the handshake sends the HTTP/2 preface and waits for the server's first bytes, because under TLS 1.3
 * a server refuses a client certificate only after the client considers the handshake done.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { temporalHost, type TemporalTransportSettings } from './connectionSettings';

const HTTP2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

export interface TlsProbeResult {
  ok: boolean;
  /**
   * Node's error code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED), or
   * CLOSED_AFTER_HANDSHAKE when the server hung up without a word once the handshake was done.
   */
  code?: string;
  message?: string;
}

/** Handshakes with the server the settings point to; never throws. */
export function probeTemporalTls(s: TemporalTransportSettings, timeoutMs = 10_000): Promise<TlsProbeResult> {
  const address = s.TEMPORAL_ADDRESS;
  const host = temporalHost(address);
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const servername = s.TEMPORAL_TLS_SERVER_NAME ?? (isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: TlsProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = tls.connect({
      host,
      port,
      servername,
      ca: s.TEMPORAL_TLS_CA_FILE?.pem,
      cert: s.TEMPORAL_TLS_CERT_FILE?.pem,
      key: s.TEMPORAL_TLS_KEY_FILE?.pem,
      ALPNProtocols: ['h2'],
      // Names are checked here as gRPC checks them: against the server name, else the address's host.
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(s.TEMPORAL_TLS_SERVER_NAME ?? host, cert),
    });
    const timer = setTimeout(() => done({ ok: false, code: 'ETIMEDOUT', message: 'no answer' }), timeoutMs);
    let handshakeDone = false;
    socket.once('secureConnect', () => {
      handshakeDone = true;
      socket.write(HTTP2_PREFACE);
    });
    socket.once('data', () => done({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, code: err.code, message: err.message }));
    // A server that checks client certificates outside the TLS library closes without an alert.
    socket.once('close', () =>
      done(
        handshakeDone
          ? {
              ok: false,
              code: 'CLOSED_AFTER_HANDSHAKE',
              message: 'the server closed the connection after the handshake',
            }
          : { ok: false, code: 'ECONNRESET', message: 'the server closed the connection during the handshake' },
      ),
    );
  });
}
