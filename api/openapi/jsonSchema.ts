/**
 * zod -> JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). Requests are described as the client
 * sends them (`io: 'input'`): a field with a default is optional, a coerced query number is a number.
 */
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  // Refinements (e.g. "acknowledgeProfileStays must be true when forced") have no JSON Schema form; the
  // API still enforces them and says so in the 400. `unrepresentable: 'any'` keeps such parts permissive.
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema; // the dialect is the document's (jsonSchemaDialect), not repeated per schema
  return json;
}
