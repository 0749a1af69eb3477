/** Query-string values used as filters by the asset, application and task lists. */
import { z } from 'zod';

// Control characters have no business in a department name and would only complicate query escaping.
export const filterText = z
  .string()
  .trim()
  .min(1)
  .max(200)
  // A pattern, not a refine(): the OpenAPI document then states the rule too.
  // eslint-disable-next-line no-control-regex -- control characters are what it finds
  .regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters');
