/**
 * Reading a `text/csv` request body (the app otherwise takes JSON only). The bytes are decoded here, not
 * by the body parser, so a file in the wrong encoding is refused instead of being stored as mojibake:
 * UTF-8 by default (with or without a BOM), or the `charset` the client names (Japanese Excel saves CSV
 * as Shift_JIS: `Content-Type: text/csv; charset=shift_jis`).
 */
import { TextDecoder } from 'node:util';
import express, { type Request, type RequestHandler } from 'express';
import { ApiError, invalidInput } from './errors';

export const CSV_TYPES = ['text/csv', 'application/csv'];

/** Refuses anything that is not CSV (415), then reads at most `limit` bytes (413 beyond). */
export function csvBody(limit: string): RequestHandler[] {
  const requireCsv: RequestHandler = (req, _res, next) => {
    if (!req.is(CSV_TYPES)) {
      throw new ApiError(
        415,
        'unsupported-media-type',
        'request body must be CSV (Content-Type: text/csv; charset=utf-8)',
      );
    }
    next();
  };
  return [requireCsv, express.raw({ type: CSV_TYPES, limit })];
}

function charsetOf(req: Request): string {
  const match = /;\s*charset\s*=\s*"?([A-Za-z0-9._-]+)"?/i.exec(req.get('content-type') ?? '');
  return (match?.[1] ?? 'utf-8').toLowerCase();
}

/** The body as text; 400 when it is empty or not valid in its charset, 415 for an unknown charset. */
export function csvText(req: Request): string {
  const body: unknown = req.body;
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw invalidInput('empty request body', [{ field: '(body)', problem: 'expected a CSV file with a header row' }]);
  }
  const charset = charsetOf(req);
  let decoder: TextDecoder;
  try {
    // fatal: invalid bytes are an error, not U+FFFD; the BOM is dropped by the decoder.
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new ApiError(415, 'unsupported-media-type', `unsupported charset "${charset}"; use utf-8 or shift_jis`);
  }
  try {
    return decoder.decode(body);
  } catch {
    throw invalidInput('invalid CSV encoding', [
      {
        field: '(body)',
        problem: `is not valid ${charset}; save the file as UTF-8, or send the charset it uses (e.g. text/csv; charset=shift_jis)`,
      },
    ]);
  }
}
