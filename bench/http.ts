/**
 * The bench's HTTP client for the API: counts every answer by status (the report's "zero 5xx"), keeps
 * the first server errors for the report, waits out 429s (an existing stack keeps its rate limit; the
 * stack the bench starts itself has it raised), and times each call.
 */
import { sleep } from './stats';

export interface ApiAnswer<T> {
  status: number;
  body: T;
  /** Duration of the attempt that answered (a 429 waited out is not counted in). */
  ms: number;
}

export interface CallOptions {
  token: string;
  body?: unknown;
  /** Sent as text/csv instead of JSON. */
  csv?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface ServerError {
  method: string;
  path: string;
  status: number;
  body: string;
}

export class ApiClient {
  readonly statuses = new Map<number, number>();
  readonly serverErrors: ServerError[] = [];
  transportErrors = 0;
  rateLimited = 0;

  constructor(readonly baseUrl: string) {}

  /** The API root without `/api/v1` (for /healthz and /readyz at the root). */
  get origin(): string {
    return new URL(this.baseUrl).origin;
  }

  async call<T = unknown>(method: string, path: string, opts: CallOptions): Promise<ApiAnswer<T>> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${opts.token}`, ...opts.headers };
    let payload: string | undefined;
    if (opts.csv !== undefined) {
      headers['content-type'] = 'text/csv';
      payload = opts.csv;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(opts.body);
    }
    const deadline = Date.now() + 120_000;
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, {
          method,
          headers,
          body: payload,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
        });
        text = await res.text();
      } catch (err) {
        this.transportErrors += 1;
        throw new Error(`${method} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      const elapsed = performance.now() - t0;
      this.statuses.set(res.status, (this.statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500 && this.serverErrors.length < 20) {
        this.serverErrors.push({ method, path, status: res.status, body: text.slice(0, 500) });
      }
      if (res.status === 429 && attempt < 50 && Date.now() < deadline) {
        this.rateLimited += 1;
        const retryAfter = Number(res.headers.get('retry-after') ?? '1');
        await sleep(Math.min(10_000, Math.max(200, (Number.isFinite(retryAfter) ? retryAfter : 1) * 1000)));
        continue;
      }
      let body: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json')) {
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text
        }
      }
      return { status: res.status, body: body as T, ms: elapsed };
    }
  }

  /** Counts answers with a status from `from` to `to` inclusive. */
  count(from: number, to: number): number {
    let n = 0;
    for (const [status, c] of this.statuses) if (status >= from && status <= to) n += c;
    return n;
  }

  describeStatuses(): string {
    return [...this.statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${status}×${n}`)
      .join(', ');
  }
}

/** Throws with the answer when `status` is not what the caller needs. */
export function expectStatus<T>(answer: ApiAnswer<T>, wanted: number | number[], what: string): ApiAnswer<T> {
  const ok = Array.isArray(wanted) ? wanted.includes(answer.status) : answer.status === wanted;
  if (!ok) {
    const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    throw new Error(`${what}: HTTP ${answer.status} ${body.slice(0, 400)}`);
  }
  return answer;
}
