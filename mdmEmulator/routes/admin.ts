/**
 * Test and operator controls: fault injection, the request log, the clock, settings, reset, and raw
 * state (including deleted records and internal job fields). Not part of what a real MDM offers.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { knownDevice } from '../context';
import { faultRuleBody } from '../faults';
import { outageBody } from '../outage';
import { rateLimitBody } from '../rateLimit';
import { parseBody, parseParam, parseQuery } from '../schemas';
import { emptyState } from '../types';

const advanceBody = z.strictObject({
  ms: z
    .number()
    .int()
    .min(0)
    .max(365 * 24 * 3600 * 1000),
});
const settingsBody = z.strictObject({ omitJobIds: z.boolean() });
const requestsQuery = z.strictObject({
  method: z.string().toUpperCase().optional(),
  pathPrefix: z.string().optional(),
});

export function adminRouter(ctx: EmulatorContext): Router {
  const router = Router();
  const { store, clock, engine, faults, rateLimit, outage } = ctx;

  router.get('/faults', (_req, res) => {
    res.json({ rules: faults.rules });
  });
  router.post('/faults', (req, res) => {
    res.status(201).json(faults.add(parseBody(faultRuleBody, req)));
  });
  router.delete('/faults', (_req, res) => {
    faults.rules = [];
    res.status(204).end();
  });

  router.get('/rate-limit', (_req, res) => {
    res.json(rateLimit.view());
  });
  router.put('/rate-limit', (req, res) => {
    res.json(rateLimit.set(parseBody(rateLimitBody, req)));
  });
  router.delete('/rate-limit', (_req, res) => {
    rateLimit.clear();
    outage.end();
    res.status(204).end();
  });

  router.get('/outage', (_req, res) => {
    res.json({ outage: outage.current() });
  });
  router.put('/outage', (req, res) => {
    res.json({ outage: outage.start(parseBody(outageBody, req)) });
  });
  router.delete('/outage', (_req, res) => {
    outage.end();
    res.status(204).end();
  });

  router.get('/requests', (req, res) => {
    const query = parseQuery(requestsQuery, req);
    const requests = faults.requests.filter(
      (r) => (!query.method || r.method === query.method) && (!query.pathPrefix || r.path.startsWith(query.pathPrefix)),
    );
    res.json({ requests });
  });
  router.delete('/requests', (_req, res) => {
    faults.requests = [];
    res.status(204).end();
  });

  router.post('/clock/advance', (req, res) => {
    clock.advance(parseBody(advanceBody, req).ms);
    engine.tick();
    store.commit();
    res.json({ now: clock.iso(), offsetMs: store.state.clockOffsetMs });
  });

  router.put('/settings', (req, res) => {
    store.state.settings = parseBody(settingsBody, req);
    store.commit();
    res.json(store.state.settings);
  });

  router.post('/reset', (_req, res) => {
    store.replace(emptyState());
    faults.clear();
    rateLimit.clear();
    outage.end();
    res.status(204).end();
  });

  router.get('/devices/:id', (req, res) => {
    engine.tick();
    res.json(knownDevice(ctx, parseParam(req, 'id')));
  });
  router.get('/jobs', (_req, res) => {
    engine.tick();
    res.json({ jobs: Object.values(store.state.jobs) });
  });
  return router;
}
