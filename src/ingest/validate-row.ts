import type { TemplateDef, TemplateParams } from '../templates/types.ts';
import { normalizePhone } from './phone.ts';

/**
 * The verdict on one CSV record, for the checks that need nothing but the record itself. `suppressed` and
 * `duplicate` depend on the database and are decided by the caller afterwards, in the spec's order.
 */
export type InvalidReason = 'malformed_row' | 'invalid_phone' | 'missing_param' | 'invalid_param';

export type RowVerdict =
  | { outcome: 'invalid'; reason: InvalidReason; detail: string; phoneInput: string }
  | { outcome: 'candidate'; e164: string; params: TemplateParams; phoneInput: string };

export interface RowInput {
  /** The record's fields as parsed from the CSV. */
  fields: string[];
  /** Number of columns in the header. */
  headerLength: number;
  phoneIndex: number;
  /** Where each template slot is read from; every slot of `template.slots` must appear. */
  slotColumns: ReadonlyArray<{ slot: string; index: number }>;
  template: TemplateDef;
  defaultCountry?: string | undefined;
}

// Limits from Meta (see spec/whatsapp.md). Body parameters past 1,024 characters are refused when the
// template has other components; we refuse them always rather than find out at send time.
export const HEADER_PARAM_MAX = 60;
export const BODY_PARAM_MAX = 1024;

// Meta answers 132018 for a parameter with a newline, a tab or more than four consecutive spaces.
// \r counts as a newline: CRLF files put it inside quoted multi-line cells.
const FORBIDDEN = /[\n\r\t]| {5}/;
const BLANK = /^\s*$/;

/**
 * Checks one record in the spec's order (first failing check wins): malformed_row, invalid_phone,
 * missing_param (any slot), invalid_param (any slot). Values are kept exactly as written.
 * Throws only when `slotColumns` misses a slot of the template, which is a caller bug, not a bad row.
 */
export function validateRow(input: RowInput): RowVerdict {
  const { fields, headerLength, template } = input;
  const phoneInput = fields[input.phoneIndex] ?? '';

  if (fields.length > headerLength) {
    return {
      outcome: 'invalid',
      reason: 'malformed_row',
      detail: `${fields.length} fields but the header has ${headerLength}`,
      phoneInput,
    };
  }

  const phone = normalizePhone(phoneInput, input.defaultCountry);
  if (!phone.ok) return { outcome: 'invalid', reason: 'invalid_phone', detail: phone.detail, phoneInput };

  // Fewer fields than the header: the missing trailing ones are empty.
  const values: string[] = template.slots.map((slot) => fields[columnOf(input.slotColumns, slot)] ?? '');

  for (let i = 0; i < values.length; i++) {
    if (BLANK.test(values[i] ?? '')) {
      return { outcome: 'invalid', reason: 'missing_param', detail: `${template.slots[i]} is empty`, phoneInput };
    }
  }

  const params: TemplateParams = {};
  for (let i = 0; i < values.length; i++) {
    const slot = template.slots[i] ?? '';
    const value = values[i] ?? '';
    const problem = paramProblem(slot, value, template);
    if (problem !== null) {
      return { outcome: 'invalid', reason: 'invalid_param', detail: `${slot} ${problem}`, phoneInput };
    }
    params[slot] = value;
  }

  return { outcome: 'candidate', e164: phone.e164, params, phoneInput };
}

function columnOf(slotColumns: RowInput['slotColumns'], slot: string): number {
  // A linear scan: templates have a handful of slots, and a Map per row would cost more.
  for (const sc of slotColumns) if (sc.slot === slot) return sc.index;
  throw new Error(`no column is mapped to template slot ${slot}`);
}

/** What is wrong with one value, as words that follow the slot name; null when it can be sent. */
export function paramProblem(slot: string, value: string, template: TemplateDef): string | null {
  const isHeader = slot === 'header.1';
  if (isHeader && template.headerFormat !== null && template.headerFormat !== 'text') {
    return isHttpUrl(value) ? null : `is not an http(s) link to the ${template.headerFormat}`;
  }

  const bad = FORBIDDEN.exec(value);
  if (bad) {
    const c = bad[0];
    if (c === '\t') return 'contains a tab';
    if (c === '\n' || c === '\r') return 'contains a line break';
    return 'has more than 4 consecutive spaces';
  }

  const max = isHeader ? HEADER_PARAM_MAX : slot.startsWith('body.') ? BODY_PARAM_MAX : null;
  // .length counts UTF-16 units; count code points only when it matters, so an emoji counts once.
  if (max !== null && value.length > max) {
    const chars = countCodePoints(value);
    if (chars > max) return `longer than ${max} characters (${chars})`;
  }
  return null;
}

function countCodePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function isHttpUrl(value: string): boolean {
  // The URL parser forgives surrounding and embedded spaces; WhatsApp's media fetcher may not.
  if (/\s/.test(value)) return false;
  const url = URL.parse(value);
  return url !== null && (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
}
