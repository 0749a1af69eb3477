/**
 * `Authorization: Bearer <apiKey>` on every API and admin route, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './httpError';

export function bearerAuth(apiKey: string): RequestHandler {
  const expected = digest(apiKey);
  return (req, _res, next) => {
    const header = req.get('Authorization');
    const match = /^Bearer (.+)$/.exec(header ?? '');
    if (!match)
      throw new HttpError(401, 'unauthorized', 'Missing Authorization: Bearer <api key> header.', {
        field: 'Authorization',
      });
    if (!timingSafeEqual(digest(match[1]), expected)) {
      throw new HttpError(401, 'unauthorized', 'Invalid API key in the Authorization header.', {
        field: 'Authorization',
      });
    }
    next();
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();
