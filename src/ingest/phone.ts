import {
  isSupportedCountry,
  parsePhoneNumberWithError,
  ParseError,
  validatePhoneNumberLength,
  type CountryCode,
  type PhoneNumber,
} from 'libphonenumber-js/max';

/**
 * Normalises one phone cell to E.164, the way people type numbers into spreadsheets. All numbering-plan
 * knowledge comes from libphonenumber-js (`/max` metadata, so `isValid()` checks number ranges and not
 * only lengths); this file only decides which spellings to try and how to say why a cell was refused.
 *
 * Speed (Node 24, one core of the 2-vCPU dev box, 200k valid Indonesian numbers in four spellings):
 * 95k–140k numbers/s once warm, so 1M rows cost about 10 s of CPU; cells that fail cost about twice as
 * much (~57k/s) because they get a second parse and a length check. The common case is one parse plus
 * `isValid()`.
 */

export type PhoneResult = { ok: true; e164: string } | { ok: false; detail: string };

// Excel's "#N/A", "n/a", "tel:…", vanity numbers and "ext. 5" all contain letters. Rejecting them up
// front is cheaper than a parse and avoids silently sending to an extension-less landline.
const LETTER = /[A-Za-z]/;
// Digits and the punctuation people put between them, with nothing else: "6281234567890",
// "62 812-3456-7890". Such a cell may be a full number whose '+' was lost (Excel drops it).
const DIGITS_ONLY = /^[\d\s().\-/]+$/;
const INTERNATIONAL_00 = /^00/;
// "6281234567890.0": a number column that went through a float (pandas, some exporters). Read as a phone
// number, the ".0" would become a trailing digit and a different, possibly valid, number.
const FLOAT_TAIL = /^(\+?\d+)\.0+$/;

/** Whether `code` is a country libphonenumber knows (for checking `--default-country` once). */
export function isKnownCountry(code: string): boolean {
  return isSupportedCountry(code.toUpperCase());
}

export function normalizePhone(input: string, defaultCountry: string | undefined): PhoneResult {
  // Spreadsheets pad cells; strict parsing would refuse the spaces around an otherwise good number.
  let raw = input.trim();
  if (raw === '') return { ok: false, detail: 'empty' };
  if (LETTER.test(raw)) return { ok: false, detail: 'not a number' };
  const floatTail = FLOAT_TAIL.exec(raw);
  if (floatTail) raw = floatTail[1] ?? raw;

  const country = defaultCountry ? (defaultCountry.toUpperCase() as CountryCode) : undefined;
  const plus = raw.includes('+');

  const first = attempt(raw, country);
  if (first.ok) return first;

  // Fallbacks, tried only after the plain reading failed:
  // - "0062 812…": 00 is the international prefix in most of the world but not in every country's
  //   metadata (Indonesia dials 001/007/…), so libphonenumber reads it as a national number.
  // - "6281234567890" / "5511987654321": the country code is there and only the '+' is missing.
  if (!plus) {
    if (INTERNATIONAL_00.test(raw)) {
      const second = attempt('+' + raw.replace(INTERNATIONAL_00, ''), undefined);
      // The writer clearly meant an international number, so its failure is the one worth reporting.
      return second.ok ? second : { ok: false, detail: describe(second, raw, country) };
    }
    if (DIGITS_ONLY.test(raw)) {
      const second = attempt('+' + raw, undefined);
      if (second.ok) return second;
    }
  }
  return { ok: false, detail: describe(first, raw, country) };
}

type Attempt =
  | { ok: true; e164: string }
  | { ok: false; error: string; parsed: PhoneNumber | null; text: string; country: CountryCode | undefined };

function attempt(text: string, country: CountryCode | undefined): Attempt {
  let parsed: PhoneNumber;
  try {
    // extract: false — the whole cell must be the number, "call 0812… after 5pm" is not one.
    parsed = parsePhoneNumberWithError(text, { defaultCountry: country, extract: false });
  } catch (err) {
    const error = err instanceof ParseError ? err.message : 'NOT_A_NUMBER';
    return { ok: false, error, parsed: null, text, country };
  }
  if (parsed.isValid() && !parsed.ext) return { ok: true, e164: parsed.number };
  return { ok: false, error: 'INVALID', parsed, text, country };
}

/** Short words for why an attempt failed, naming the country whose rules were applied. */
function describe(a: Attempt, raw: string, defaultCountry: CountryCode | undefined): string {
  if (a.ok) return '';
  const where = (): string => {
    if (a.parsed) return a.parsed.country ?? `+${a.parsed.countryCallingCode}`;
    return a.text.includes('+') ? '' : (defaultCountry ?? '');
  };
  const forWhere = (): string => {
    const w = where();
    return w ? ` for ${w}` : '';
  };
  switch (a.error) {
    case 'NOT_A_NUMBER':
      return 'not a number';
    case 'INVALID_COUNTRY':
      if (!raw.includes('+') && !defaultCountry) return 'no country code and no --default-country';
      return 'unknown country code';
    case 'TOO_SHORT':
      return `too short${forWhere()}`;
    case 'TOO_LONG':
      return `too long${forWhere()}`;
  }
  // Parsed but not valid: say whether the length is the problem before calling it invalid.
  let length: string | undefined;
  try {
    length = validatePhoneNumberLength(a.text, { defaultCountry: a.country });
  } catch {
    length = undefined;
  }
  if (length === 'TOO_SHORT') return `too short${forWhere()}`;
  if (length === 'TOO_LONG') return `too long${forWhere()}`;
  return `not a valid number${forWhere()}`;
}
