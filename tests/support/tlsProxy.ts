/**
 * A TLS-terminating proxy for tests, standing in for a secured Temporal frontend: it speaks TLS (ALPN h2,
 * as gRPC over TLS needs) on a free loopback port, requires a client certificate issued by the given CA,
 * and pipes each accepted connection to a plaintext target (the dev server's gRPC port). It records the
 * common name of every client certificate it accepted, so a test can show that traffic really went
 * through it with that certificate.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface TlsProxy {
  address: string;
  /** Common names of the client certificates of accepted connections, in order. */
  acceptedClients: string[];
  close(): Promise<void>;
}

export async function startTlsProxy(opts: {
  target: string;
  certPem: string;
  keyPem: string;
  /** The CA that client certificates must be issued by. */
  clientCaPem: string;
}): Promise<TlsProxy> {
  const [targetHost, targetPort] = [opts.target.slice(0, opts.target.lastIndexOf(':')), opts.target.split(':').pop()];
  const acceptedClients: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      cert: opts.certPem,
      key: opts.keyPem,
      ca: [opts.clientCaPem],
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (client) => {
      const cn = client.getPeerCertificate().subject?.CN;
      acceptedClients.push(Array.isArray(cn) ? cn.join(',') : String(cn));
      const upstream = net.connect(Number(targetPort), targetHost);
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.once('error', end).once('close', end);
      upstream.once('error', end).once('close', end);
    },
  );
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // A refused handshake is the point of some tests, not a failure of the proxy.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    acceptedClients,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
