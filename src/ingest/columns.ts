import { UsageError } from '../errors.ts';
import type { TemplateDef } from '../templates/types.ts';
import { autoMapSlots } from '../templates/placeholders.ts';

/** interface.md: `--phone-column` defaults to the first of these (case-insensitive). */
export const DEFAULT_PHONE_COLUMNS = ['phone', 'msisdn', 'mobile', 'wa_id', 'to'];

/** Header names compare case- and space-insensitively: "Phone Number" matches "phonenumber". */
export function columnKey(name: string): string {
  return name.toLowerCase().replace(/\s+/g, '');
}

function listColumns(header: string[]): string {
  return header.map((h) => JSON.stringify(h)).join(', ');
}

export function findColumn(header: string[], name: string): number {
  const key = columnKey(name);
  return header.findIndex((h) => columnKey(h) === key);
}

export interface ColumnPlan {
  phoneColumn: string;
  phoneIndex: number;
  /** slot → column name, as stored on the campaign. */
  paramMap: Record<string, string>;
  slotColumns: Array<{ slot: string; index: number }>;
}

/**
 * Decide which column feeds the phone number and each template slot, or exit 2 saying what to fix and
 * which columns the file has.
 */
export function planColumns(header: string[], template: TemplateDef, phoneColumn: string | undefined, params: Record<string, string>): ColumnPlan {
  let phoneIndex: number;
  if (phoneColumn) {
    phoneIndex = findColumn(header, phoneColumn);
    if (phoneIndex < 0) throw new UsageError(`--phone-column ${phoneColumn}: no such column; the file has ${listColumns(header)}`);
  } else {
    phoneIndex = -1;
    for (const name of DEFAULT_PHONE_COLUMNS) {
      phoneIndex = findColumn(header, name);
      if (phoneIndex >= 0) break;
    }
    if (phoneIndex < 0) {
      throw new UsageError(`no phone column: name one with --phone-column (default names: ${DEFAULT_PHONE_COLUMNS.join(', ')}); the file has ${listColumns(header)}`);
    }
  }
  const paramMap: Record<string, string> = {};
  for (const [slot, column] of Object.entries(params)) {
    if (!template.slots.includes(slot)) {
      throw new UsageError(`--param ${slot}=${column}: template ${template.name} has no slot ${slot}; its slots are ${template.slots.join(', ') || '(none)'}`);
    }
    const idx = findColumn(header, column);
    if (idx < 0) throw new UsageError(`--param ${slot}=${column}: no such column; the file has ${listColumns(header)}`);
    paramMap[slot] = header[idx]!;
  }
  const auto = autoMapSlots(template.slots.filter((s) => !(s in paramMap)), header);
  for (const [slot, column] of Object.entries(auto)) paramMap[slot] = column;
  const missing = template.slots.filter((s) => !(s in paramMap));
  if (missing.length > 0) {
    throw new UsageError(`template ${template.name} slot${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ha${missing.length > 1 ? 've' : 's'} no column: add --param ${missing[0]}=COLUMN; the file has ${listColumns(header)}`);
  }
  const slotColumns = template.slots.map((slot) => ({ slot, index: header.indexOf(paramMap[slot]!) }));
  return { phoneColumn: header[phoneIndex]!, phoneIndex, paramMap, slotColumns };
}

/** Parse repeated `--param SLOT=COLUMN` flags. */
export function parseParamFlags(flags: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0 || eq === f.length - 1) throw new UsageError(`--param ${f}: expected SLOT=COLUMN, e.g. body.1=first_name`);
    out[f.slice(0, eq).trim()] = f.slice(eq + 1).trim();
  }
  return out;
}
