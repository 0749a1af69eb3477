/**
 * A stand-in identity provider for tests: real key pairs (jose), a JWKS served over HTTP on 127.0.0.1
 * port 0, and signed tokens with whatever claims a test needs, including wrong ones.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type TestAlgorithm = 'RS256' | 'ES256';

export interface TestSigningKey {
  kid: string;
  alg: TestAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function testSigningKey(alg: TestAlgorithm, kid: string): Promise<TestSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface JwksServer {
  url: string;
  /** How many times the key set was fetched (caching is part of what is tested). */
  fetches(): number;
  /** Replace the published keys (key rotation). */
  publish(keys: TestSigningKey[]): void;
  close(): Promise<void>;
}

export async function serveJwks(keys: TestSigningKey[]): Promise<JwksServer> {
  let published = keys;
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    fetches: () => fetches,
    publish: (next) => {
      published = next;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TokenOptions {
  issuer?: string;
  audience?: string | string[];
  /** Seconds from now; negative for an expired token; null for no `exp` at all. */
  expiresIn?: number | null;
  /** Seconds from now for `nbf` (positive: not yet valid). */
  notBefore?: number;
  /** Header `kid`, when it should differ from the key's own (a token naming a key it was not signed with). */
  kid?: string;
}

const now = () => Math.floor(Date.now() / 1000);

export async function signToken(key: TestSigningKey, claims: JWTPayload, options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' })
    .setIssuedAt();
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  if (options.expiresIn !== null) jwt.setExpirationTime(now() + (options.expiresIn ?? 300));
  if (options.notBefore !== undefined) jwt.setNotBefore(now() + options.notBefore);
  return jwt.sign(key.privateKey);
}

/** A token signed with a shared secret (HS256): must be refused by a verifier of asymmetric keys. */
export async function signHmacToken(claims: JWTPayload, options: TokenOptions & { kid: string }): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: options.kid })
    .setIssuedAt()
    .setExpirationTime(now() + 300);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode('a-shared-secret-anyone-could-know-0123456789'));
}

/** An unsigned token (`alg: none`), the classic forgery. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (o: object) => base64url.encode(JSON.stringify(o));
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, exp: now() + 300 })}.`;
}
