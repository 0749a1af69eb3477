/**
 * POST /codec/decode and /codec/encode: the codec server the Temporal Web UI calls to show payloads the
 * payload codec encrypted (temporal/payloadCodec.ts), for signed-in admins only: decoded payloads hold
 * personal data. The codecs are the API's Temporal client's own, so the endpoint always agrees with what the
 * service writes.
 *
 * The UI calls it from the browser, so it is cross-origin: `codecCors` answers preflights (no credentials
 * are needed for those) and allows only the origins of TEMPORAL_UI_ORIGINS; a request from any other origin
 * is refused. Requests without an Origin (curl, scripts) are not cross-origin and need only the token.
 */
import { ValueError } from '@temporalio/common';
import { Router, type RequestHandler } from 'express';
import type { Config } from '../../config/env';
import { actorOf, requireRole } from '../auth';
import { CODEC_BODY_LIMIT, codecBody, fromJson, runCodecs, toJson } from '../codecEndpoint';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { JSON_TYPES, jsonBody } from '../jsonBody';
import { parseBody } from '../validation';

export const CODEC_PATH = /^\/api\/v1\/codec\/(?:en|de)code\/?$/i;
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Namespace';

/** CORS for the codec paths only, before authentication and the 405 check (a preflight carries no token). */
export function codecCors(config: Pick<Config, 'TEMPORAL_UI_ORIGINS'>): RequestHandler {
  const allowed = new Set(config.TEMPORAL_UI_ORIGINS);
  return (req, res, next) => {
    if (!CODEC_PATH.test(req.path)) return next();
    const origin = req.get('origin');
    res.vary('Origin');
    if (origin !== undefined && !allowed.has(origin)) {
      throw new ApiError(403, 'origin-not-allowed', `origin ${origin} may not call the codec (TEMPORAL_UI_ORIGINS)`);
    }
    if (origin !== undefined) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method !== 'OPTIONS') return next();
    res.set('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
    res.set('Access-Control-Max-Age', '600');
    res.status(204).end();
  };
}

const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is(JSON_TYPES)) {
    throw new ApiError(415, 'unsupported-media-type', 'request body must be JSON (Content-Type: application/json)');
  }
  next();
};

export function codecRouter(ctx: ApiContext): Router {
  const router = Router();
  const codecs = ctx.temporal.options.dataConverter.payloadCodecs ?? [];
  for (const op of ['decode', 'encode'] as const) {
    router.post(`/codec/${op}`, requireRole('admin'), requireJson, jsonBody(CODEC_BODY_LIMIT), async (req, res) => {
      const namespace = req.get('x-namespace');
      if (namespace !== undefined && namespace !== ctx.namespace) {
        throw new ApiError(400, 'wrong-namespace', `this codec serves namespace ${ctx.namespace}, not ${namespace}`);
      }
      const { payloads } = parseBody(codecBody, req);
      let out;
      try {
        out = await runCodecs(codecs, op, payloads.map(fromJson));
      } catch (err) {
        if (!(err instanceof ValueError)) throw err;
        throw new ApiError(400, 'undecodable-payload', err.message);
      }
      // Who read personal data out of Temporal, and how much (never what).
      if (op === 'decode') ctx.logger.info(`[codec] ${actorOf(res).id} decoded ${payloads.length} payload(s)`);
      res.set('Cache-Control', 'no-store');
      res.json({ payloads: out.map(toJson) });
    });
  }
  return router;
}
