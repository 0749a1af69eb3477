/**
 * Retry-After as Microsoft Graph sends it. Graph's throttling guidance shows a fractional number of
 * seconds ("Retry-After: 2.128", https://learn.microsoft.com/en-us/graph/throttling, "Sample response"),
 * which mdm/httpClient.ts's integer-or-date reading would not take; the HTTP-date form is read too.
 */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
