import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body bytes
 * keyed with the app secret. It must be computed over the bytes as received: re-serialising parsed JSON
 * changes escapes and key order and breaks the signature.
 */

const PREFIX = 'sha256=';
const HEX_64 = /^[0-9a-f]{64}$/i;

/** `sha256=<hex>` for a body; a string is taken as UTF-8. */
export function signBody(raw: Buffer | string, secret: string): string {
  return PREFIX + createHmac('sha256', secret).update(raw).digest('hex');
}

/**
 * Whether `header` is the right signature for `raw`. Never throws: a missing, malformed or wrongly sized
 * header is simply false. The comparison of the digests runs in constant time, so an attacker cannot
 * learn the expected signature byte by byte from response times.
 */
export function verifySignature(raw: Buffer, header: string | undefined, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const trimmed = header.trim();
  // The algorithm name is case-insensitive in practice (some proxies upper-case it).
  if (trimmed.slice(0, PREFIX.length).toLowerCase() !== PREFIX) return false;
  const hex = trimmed.slice(PREFIX.length);
  // Checking the shape first keeps the lengths equal for timingSafeEqual, which throws otherwise; the
  // length of a valid signature is public, so this leaks nothing.
  if (!HEX_64.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  const expected = createHmac('sha256', secret).update(raw).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
