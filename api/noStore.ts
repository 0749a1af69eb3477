/**
 * JSON answers that carry personal data (assets and their history, workflow views, applications, tasks,
 * signatures) must not be kept by browsers or shared caches (DESIGN §6).
 */
import type { RequestHandler } from 'express';

export const NO_STORE = { 'Cache-Control': 'no-store' } as const;

export const noStore: RequestHandler = (_req, res, next) => {
  res.set(NO_STORE);
  next();
};
