/**
 * Reading a JSON request body. Like the CSV import (csvBody.ts), bytes that are not valid in the body's
 * charset are refused (400) instead of being decoded to U+FFFD and stored as such. So are strings that no
 * database column can hold and no text can mean: a NUL character, or a lone UTF-16 surrogate written as a
 * `\ud800` escape (valid JSON, but not Unicode text).
 */
import { TextDecoder } from 'node:util';
import express, { type RequestHandler } from 'express';
import { ApiError, invalidInput } from './errors';

export const JSON_TYPES = ['application/json', 'application/*+json'];

function checkEncoding(buf: Buffer, charset: string): void {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new ApiError(415, 'unsupported-media-type', `unsupported charset "${charset}"; send JSON as utf-8`);
  }
  try {
    decoder.decode(buf);
  } catch {
    // A 4xx status makes body-parser pass this error on as it is (it would otherwise make it a 403).
    throw invalidInput('invalid request body', [{ field: '(body)', problem: `is not valid ${charset}` }]);
  }
}

const LONE_SURROGATE = /\p{Cs}/u;

/** The reviver sees every key and string of the parsed body: refuse what no text column can hold. */
function refuseUnstorableText(key: string, value: unknown): unknown {
  for (const text of [key, value]) {
    if (typeof text !== 'string') continue;
    // body-parser answers a SyntaxError from here as 400 malformed-json, naming the problem.
    if (text.includes('\u0000'))
      throw new SyntaxError('a string holds a NUL character (\\u0000), which no text field can store');
    if (LONE_SURROGATE.test(text)) throw new SyntaxError('a string holds a lone UTF-16 surrogate (e.g. \\ud800)');
  }
  return value;
}

export function jsonBody(limit: string): RequestHandler {
  return express.json({
    limit,
    strict: true,
    type: JSON_TYPES,
    verify: (_req, _res, buf, charset) => checkEncoding(buf, charset || 'utf-8'),
    reviver: refuseUnstorableText,
  });
}
