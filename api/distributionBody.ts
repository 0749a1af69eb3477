/**
 * Request shape of a distribution from stock (DESIGN §3.3): POST /devices/{assetNumber}/distribution (the
 * admin chose the asset) and POST /distributions (the product picks one). The device goes to an
 * application (its id) or to a user an admin names; exactly one of the two.
 */
import { z } from 'zod';
import { newUserSchema } from '../workflows/reportSchemas';

export const distributionBody = z
  .strictObject({
    reason: z.string().trim().min(1, 'must not be empty').max(2000).default('distribution from stock'),
    applicationId: z.uuid('must be an application id (a UUID)').optional(),
    newUser: newUserSchema.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.applicationId === undefined) === (v.newUser === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [v.applicationId === undefined ? 'applicationId' : 'newUser'],
        message: 'give exactly one of applicationId (a recorded application) or newUser (the user details)',
      });
    }
  })
  .meta({ oneOf: [{ required: ['applicationId'] }, { required: ['newUser'] }] });
export type DistributionBody = z.infer<typeof distributionBody>;
