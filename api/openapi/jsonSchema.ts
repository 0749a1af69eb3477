/**
 * zod -> JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). Requests are described as the client
 * sends them (`io: 'input'`): a field with a default is optional, a coerced query number is a number.
 * The spec must refuse exactly what the API refuses (Schemathesis checks both ways), so two things zod
 * leaves loose are made exact here: a trimmed string that must not be empty refuses whitespace only, and
 * an e-mail address is described by the pattern the API checks, not by `format: email`.
 */
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

/**
 * What String.prototype.trim() removes, spelled out: `\s` means something else in other regex engines
 * (Python's has \x1c-\x1f and lacks \ufeff).
 */
const WHITESPACE = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
/** Holds at least one character that trimming keeps (unanchored, as JSON Schema patterns are). */
export const NOT_BLANK_PATTERN = `[^${WHITESPACE}]`;

interface CheckDef {
  check?: string;
  tx?: (value: string) => string;
}

function trims(schema: z.ZodType): boolean {
  const checks = ((schema._zod.def as { checks?: { _zod: { def: CheckDef } }[] }).checks ?? []).map((c) => c._zod.def);
  return checks.some((c) => c.check === 'overwrite' && c.tx?.(' a ') === 'a');
}

function exactStrings(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: JsonSchema }): void {
  const schema = ctx.zodSchema as unknown as z.ZodType;
  if (schema._zod.def.type !== 'string') return;
  const json = ctx.jsonSchema;
  // Validators read `format: email` each their own way (RFC 5321 lengths, quoted local parts...); the
  // pattern zod emits beside it is the rule the API applies.
  if (json.format === 'email' && typeof json.pattern === 'string') delete json.format;
  // Trimmed to nothing, the value is refused: so is a value of whitespace only.
  if (trims(schema) && !schema.safeParse('').success) {
    if (typeof json.pattern === 'string') json.allOf = [{ pattern: NOT_BLANK_PATTERN }];
    else json.pattern = NOT_BLANK_PATTERN;
  }
}

export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  // Refinements have no JSON Schema form of their own: a schema states one in .meta() where JSON Schema can
  // (the inactivation's acknowledgement: if/then); the API enforces them all and says so in the 400.
  // `unrepresentable: 'any'` keeps parts with no JSON Schema form permissive.
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    override: exactStrings,
  }) as JsonSchema;
  delete json.$schema; // the dialect is the document's (jsonSchemaDialect), not repeated per schema
  return json;
}
