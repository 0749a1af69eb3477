/**
 * Delivery signatures as the API takes them (DESIGN §6): a drawn signature (a PNG, as a `data:image/png;
 * base64,` URL or bare base64) or a typed name. A PNG is checked as an image of bounded size (the PNG
 * signature bytes, an IHDR chunk with a correct CRC and dimensions within bounds, an IEND chunk at the end)
 * before it is stored; the workflow then gets only the receipt, `receipt:<id>:sha256:<hex>`.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { invalidInput } from './errors';

/** What the field page draws is at most 1280 x 360 px and a few kB; these leave room for other clients. */
export const SIGNATURE_LIMITS = {
  maxPngBytes: 200 * 1024,
  maxWidth: 2000,
  maxHeight: 1000,
  /** A typed signature is a name. */
  maxTextChars: 200,
} as const;

export const SIGNATURE_FIELD = 'data.signature';

export interface SignatureContent {
  kind: 'png' | 'text';
  content: Buffer;
  sha256: string;
  width?: number;
  height?: number;
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const DATA_URL_PREFIX = /^data:image\/png;base64,/i;
/** Base64 of the PNG signature bytes: a bare base64 signature starts with it. */
const BARE_PNG_BASE64 = /^iVBORw0KGgo/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function refuse(problem: string): never {
  throw invalidInput('invalid device-delivered report', [{ field: SIGNATURE_FIELD, problem }]);
}

export function sha256Hex(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** The signature as it will be stored, or a 400 naming `data.signature` and what is wrong. */
export function parseSignature(value: string): SignatureContent {
  if (value.startsWith('data:')) {
    if (!DATA_URL_PREFIX.test(value)) refuse('a drawn signature must be a data:image/png;base64, URL');
    return parsePng(value.replace(DATA_URL_PREFIX, ''));
  }
  if (BARE_PNG_BASE64.test(value)) return parsePng(value);
  return parseTyped(value);
}

function parseTyped(value: string): SignatureContent {
  const text = value.trim();
  if (text.length === 0) refuse('must not be empty');
  if (text.length > SIGNATURE_LIMITS.maxTextChars) {
    refuse(`a typed signature is a name of at most ${SIGNATURE_LIMITS.maxTextChars} characters; draw it as a PNG`);
  }
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(text)) refuse('a typed signature must not contain control characters');
  const content = Buffer.from(text, 'utf8');
  return { kind: 'text', content, sha256: sha256Hex(content) };
}

function parsePng(base64: string): SignatureContent {
  const compact = base64.replace(/\s+/g, '');
  // Checked before decoding, so a huge body is not decoded to be refused.
  if (Math.floor((compact.length * 3) / 4) > SIGNATURE_LIMITS.maxPngBytes + 2) refuse(tooLarge());
  if (!BASE64.test(compact) || compact.length % 4 !== 0) refuse('the PNG is not valid base64');
  const png = Buffer.from(compact, 'base64');
  if (png.length > SIGNATURE_LIMITS.maxPngBytes) refuse(tooLarge());
  const { width, height } = pngSize(png);
  return { kind: 'png', content: png, sha256: sha256Hex(png), width, height };
}

const tooLarge = () => `the PNG must be at most ${SIGNATURE_LIMITS.maxPngBytes / 1024} kB`;

/** Width and height from a PNG's IHDR chunk, or a 400 saying what makes it no PNG (or too large a one). */
function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 8 + 25 + 12 || !png.subarray(0, 8).equals(PNG_MAGIC)) refuse('is not a PNG image');
  // The first chunk: length 13, type IHDR, 13 bytes of data, CRC over type and data.
  if (png.readUInt32BE(8) !== 13 || png.toString('latin1', 12, 16) !== 'IHDR') refuse('is not a PNG image (no IHDR)');
  if (crc32(png.subarray(12, 29)) !== png.readUInt32BE(29)) refuse('is not a PNG image (damaged IHDR)');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  if (width < 1 || height < 1) refuse('the PNG has no pixels');
  if (width > SIGNATURE_LIMITS.maxWidth || height > SIGNATURE_LIMITS.maxHeight) {
    refuse(
      `the PNG is ${width} x ${height} px; at most ${SIGNATURE_LIMITS.maxWidth} x ${SIGNATURE_LIMITS.maxHeight} px`,
    );
  }
  // IEND: length 0, type, CRC (fixed), at the very end: a truncated upload is refused.
  if (png.toString('latin1', png.length - 8, png.length - 4) !== 'IEND') refuse('is not a whole PNG image (no IEND)');
  return { width, height };
}

/** What the workflow is told instead of the signature. */
export function receiptText(id: string, sha256: string): string {
  return `receipt:${id}:sha256:${sha256}`;
}

const RECEIPT = /^receipt:([0-9a-f-]{36}):sha256:([0-9a-f]{64})$/;

export function parseReceipt(text: string): { id: string; sha256: string } | undefined {
  const m = RECEIPT.exec(text);
  return m ? { id: m[1]!, sha256: m[2]! } : undefined;
}
