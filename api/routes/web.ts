/**
 * The field-staff page (api/web/) as static files at /field/. The page itself needs no authentication:
 * it holds no data; every API call it makes carries the token the user pastes.
 */
import path from 'node:path';
import express, { Router } from 'express';

export const FIELD_PAGE_PATH = '/field';
const WEB_ROOT = path.join(import.meta.dirname, '..', 'web');

// Own scripts and styles only; API calls to this origin only; signatures are drawn to data: URLs.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function webRouter(): Router {
  const router = Router();
  router.use(FIELD_PAGE_PATH, (req, res, next) => {
    // Static files are no Express route: name them once for the request metrics (bounded label).
    res.locals.metricsRoute = `${FIELD_PAGE_PATH}/*`;
    res.set('Content-Security-Policy', CSP);
    res.set('X-Content-Type-Options', 'nosniff');
    // `/field` without the slash would resolve the page's relative URLs against `/`.
    if (req.originalUrl === FIELD_PAGE_PATH) {
      res.redirect(301, `${FIELD_PAGE_PATH}/`);
      return;
    }
    next();
  });
  // no-cache: a phone must revalidate and pick up a fixed page on the next visit.
  router.use(
    FIELD_PAGE_PATH,
    express.static(WEB_ROOT, {
      index: 'index.html',
      redirect: false,
      setHeaders: (res) => res.set('Cache-Control', 'no-cache'),
    }),
  );
  return router;
}
