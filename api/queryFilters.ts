/** Query-string values used as filters by the asset, application and task lists. */
import { z } from 'zod';

// Control characters have no business in a department name and would only complicate query escaping.
export const filterText = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine(
    (s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
    'must not contain control characters',
  );
