/** api/routes/signatures.ts: reading a delivery signature (admins only, audited). */
import { z } from 'zod';
import { RECEIPT_ID_PATTERN } from '../../routes/signatures';
import { describeRoute } from '../registry';

const receiptId = {
  receiptId: {
    description:
      'The id in a delivery receipt `receipt:<id>:sha256:<hex>` (the `signature` of a device-delivered report)',
    schema: { type: 'string', pattern: RECEIPT_ID_PATTERN.source },
  },
};

const signature = z.object({
  receiptId: z.string(),
  receipt: z.string().meta({ description: 'receipt:<id>:sha256:<hex>, as the workflow and the audit trail hold it' }),
  sha256: z.string().meta({ description: 'SHA-256 (hex) of the stored PNG bytes or of the typed text in UTF-8' }),
  kind: z.enum(['png', 'text']),
  mediaType: z.enum(['image/png', 'text/plain']),
  dataUrl: z.string().optional().meta({ description: 'the drawn signature (kind png)' }),
  width: z.number().int().nullable().optional(),
  height: z.number().int().nullable().optional(),
  text: z.string().optional().meta({ description: 'the typed signature (kind text)' }),
  workflowId: z.string(),
  assetNumber: z.string(),
  storedBy: z.string(),
  storedByRole: z.string(),
  storedAt: z.iso.datetime({ offset: true }),
});

export const signaturesRoutes = [
  describeRoute({
    method: 'get',
    path: '/api/v1/signatures/{receiptId}',
    tag: 'Signatures',
    summary: 'A delivery signature (admins only; every read is audited)',
    description:
      'Signatures are kept by the API, outside Temporal: a device-delivered report reaches the workflow with only its ' +
      'receipt. Each read writes a `signature-read` event to the asset history naming the admin. Sent with ' +
      '`Cache-Control: no-store`.',
    roles: ['admin'],
    pathParams: receiptId,
    responses: [{ status: 200, description: 'The signature and its hash', schema: signature }],
    errors: [404, 503],
  }),
];
