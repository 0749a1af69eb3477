/** api/routes/codec.ts: the codec endpoint of the Temporal Web UI (its codec server protocol). */
import { z } from 'zod';
import { codecBody, codecPayload, MAX_PAYLOADS } from '../../codecEndpoint';
import { describeRoute } from '../registry';

const answer = z.object({ payloads: z.array(codecPayload.required()) });

const common =
  'The Temporal Web UI codec server protocol: `{ "payloads": [ { "metadata": { key: base64 }, "data": base64 } ] }` ' +
  `(at most ${MAX_PAYLOADS} payloads), answered in the same form and order. Set the UI's codec endpoint to ` +
  '`<API>/api/v1/codec` with "Pass the user access token" on (the token must be one the API accepts as an admin). ' +
  'CORS: only the origins of TEMPORAL_UI_ORIGINS (preflight answered, headers Authorization, Content-Type and ' +
  "X-Namespace allowed); another Origin is refused with 403. An `X-Namespace` other than the API's namespace is " +
  'refused (400). Answers are `Cache-Control: no-store`.';

export const codecRoutes = [
  describeRoute({
    method: 'post',
    path: '/api/v1/codec/decode',
    tag: 'Temporal Web UI',
    summary: 'Decrypt payloads (AES-256-GCM, key id in the metadata) for the Temporal Web UI',
    description:
      `${common} Payloads that are not encrypted come back unchanged; a payload under an unknown key id or altered ` +
      'is refused with 400 `undecodable-payload`. Every decode is logged with the admin who asked (never the data).',
    roles: ['admin'],
    body: codecBody,
    responses: [{ status: 200, description: 'The payloads decoded (personal data)', schema: answer }],
    errors: [400, 413],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/codec/encode',
    tag: 'Temporal Web UI',
    summary: 'Encrypt payloads with the current key (the UI uses it to send signals or start workflows)',
    description: common,
    roles: ['admin'],
    body: codecBody,
    responses: [{ status: 200, description: 'The payloads encrypted with the current key', schema: answer }],
    errors: [400, 413],
  }),
];
