/**
 * The address a request comes from, for limits that run before authentication. Behind `hops` trusted
 * proxies, each appending the address it received from to X-Forwarded-For, the client is the hops-th
 * entry from the right: entries further left were written by the client itself and prove nothing.
 */
import type { Request } from 'express';

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client. */
function normalise(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

export function clientAddress(req: Request, hops: number): string {
  const socket = normalise(req.socket.remoteAddress ?? 'unknown');
  if (hops === 0) return socket;
  const forwarded = (req.get('x-forwarded-for') ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  // Fewer entries than proxies: the request went around a proxy, and the leftmost entry is taken. An API
  // reachable around its proxies cannot trust X-Forwarded-For at all: keep it reachable only through them.
  const chain = [...forwarded, socket];
  return normalise(chain[Math.max(0, chain.length - 1 - hops)]!);
}
