/**
 * The API's own description, without authentication: `GET /openapi.json` (OpenAPI 3.1, generated from
 * the request schemas, see api/openapi/) and `GET /docs`, a self-contained page that renders it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import { openApiDocument } from '../openapi';

const DOCS_PAGE = path.join(import.meta.dirname, '..', 'openapi', 'docs.html');

export function docsRouter(): Router {
  const router = Router();
  // Read once: a missing page should fail at start-up, not on the first visitor.
  const page = readFileSync(DOCS_PAGE, 'utf8');

  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });

  router.get('/docs', (_req, res) => {
    // The page runs only its own inline script and fetches only this origin.
    res.set(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
    );
    res.type('html').send(page);
  });

  return router;
}
