import type { Report } from './report.ts';

/**
 * CSV cell encoding for what this tool writes (the export, `report --format csv`): RFC 4180 quoting, and
 * no cell that a spreadsheet would run as a formula (OWASP "CSV injection").
 *
 * - A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (the
 *   spreadsheet shows the rest as text) and is quoted, as OWASP advises. The one exception, from
 *   interface.md "The export": a `+` or `-` followed only by digits is left alone, so `phone_e164` stays
 *   `+6281234567890` (a spreadsheet reads such a cell as a number at worst, never as a formula).
 * - A cell holding a comma, a double quote, a line feed or a carriage return is quoted, its quotes doubled
 *   (RFC 4180). So is one holding a semicolon or a tab: spreadsheets in locales whose list separator is
 *   `;` split on it, and a quoted cell stays one cell whatever the separator.
 * - null and undefined are empty cells; numbers are written as JavaScript prints them.
 *
 * Records end with LF. RFC 4180 names CRLF, but every spreadsheet and CSV parser reads LF, and line tools
 * (grep, cut, split('\n')) then see no stray CR; a line break inside a cell is always quoted.
 */

const NEEDS_QUOTES = /[",;\t\r\n]/;

export const RECORD_END = '\n';
/** The UTF-8 byte order mark, for files meant for Excel (--bom): without it Excel reads UTF-8 as ANSI. */
export const BOM = '\ufeff';

/**
 * True when a spreadsheet would read `text` as a formula (and encodeCell therefore prefixes a `'`): it
 * starts with `=`, `@`, a tab or a carriage return, or with `+` or `-` not followed only by digits.
 * (Char codes and a loop rather than a regular expression: the export calls this for every cell.)
 */
export function startsFormula(text: string): boolean {
  if (text.length === 0) return false;
  const c = text.charCodeAt(0);
  if (c === 0x3d || c === 0x40 || c === 0x09 || c === 0x0d) return true; // = @ TAB CR
  if (c !== 0x2b && c !== 0x2d) return false; // + -
  if (text.length === 1) return true;
  for (let i = 1; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (d < 0x30 || d > 0x39) return true;
  }
  return false; // a signed integer: `+6281234567890`, `-5`
}

export type Cell = string | number | bigint | boolean | null | undefined;

/** One cell as it goes in the file: neutralised, then quoted when it must be. */
export function encodeCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : String(value);
  if (startsFormula(text)) return `"'${text.replaceAll('"', '""')}"`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record, its line end included. */
export function encodeRow(cells: readonly Cell[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) line += (i === 0 ? '' : ',') + encodeCell(cells[i]);
  return line + RECORD_END;
}

/**
 * `campaign report ID --format csv`: the report JSON flattened to `section,key,value,detail` rows, one per
 * field, in the JSON's order. `section` is the field's parent object (`report` for the top-level fields,
 * `ingest.invalid_reasons` for the nested one), `key` its name, so `section.key` is the field's path in
 * the JSON. `failures` is a list: each failure is one row, key its code, value its count, detail its title
 * (the only rows with a detail). Nulls are empty cells; rates are fractions (0.895), as in the JSON. A field
 * the report gains later shows up by the same rule.
 */
export function renderReportCsv(r: Report, opts: { bom?: boolean } = {}): string {
  const rows: Cell[][] = [['section', 'key', 'value', 'detail']];
  const walk = (section: string, obj: object): void => {
    for (const [k, v] of Object.entries(obj)) {
      const path = section === 'report' ? k : `${section}.${k}`;
      if (k === 'failures' && section === 'report' && Array.isArray(v)) {
        for (const f of v as Report['failures']) rows.push(['failures', f.code, f.count, f.title]);
      } else if (Array.isArray(v)) {
        v.forEach((item, i) => (item !== null && typeof item === 'object' ? walk(`${path}.${i}`, item) : rows.push([path, i, item as Cell, null])));
      } else if (v !== null && typeof v === 'object') {
        walk(path, v);
      } else {
        rows.push([section, k, v as Cell, null]);
      }
    }
  };
  walk('report', r);
  return (opts.bom ? BOM : '') + rows.map(encodeRow).join('');
}
