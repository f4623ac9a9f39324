import { parse } from 'csv-parse/sync';
import type { TemplateDef } from '../templates/types.ts';
import { validateRow } from './validate-row.ts';
import { normaliseParam, type ParamOptions } from './param-options.ts';

/** Everything a validator needs to judge the rows of one campaign; sent once to each worker thread. */
export interface ChunkContext {
  template: TemplateDef;
  headerLength: number;
  phoneIndex: number;
  slotColumns: Array<{ slot: string; index: number }>;
  defaultCountry?: string | undefined;
  delimiter: string;
  paramOptions: ParamOptions;
}

/**
 * The verdicts on one chunk, column-wise (cheap to pass between threads). `e164` is set for candidates
 * (rows that passed every check that needs no database); `reason` for invalid rows.
 */
export interface ChunkResult {
  lines: number[];
  phoneInput: string[];
  e164: Array<string | null>;
  params: Array<string | null>;
  reason: Array<string | null>;
  detail: Array<string | null>;
}

function breaks(field: string): number {
  if (field.indexOf('\n') < 0 && field.indexOf('\r') < 0) return 0;
  let n = 0;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13 && field.charCodeAt(i + 1) !== 10) n++;
  }
  return n;
}

function blank(fields: string[]): boolean {
  for (const f of fields) if (f.trim() !== '') return false;
  return true;
}

/**
 * Parse and validate one chunk of whole records. Line numbers are physical lines: each record starts on
 * the line after the previous one ended (csv-parse's own counter counts a CRLF inside quotes twice).
 * Chunk 0 starts with the header, which is skipped (with any blank lines before it).
 */
export function validateChunk(ctx: ChunkContext, text: string, firstLine: number, hasHeader: boolean): ChunkResult {
  const records = parse(text, {
    delimiter: ctx.delimiter,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
    // A stray quote inside an unquoted cell (`5" screen`) is kept as text rather than failing the file.
    relax_quotes: true,
    skip_empty_lines: false,
    max_record_size: 1_000_000,
  }) as string[][];
  const out: ChunkResult = { lines: [], phoneInput: [], e164: [], params: [], reason: [], detail: [] };
  let line = firstLine;
  let headerSeen = !hasHeader;
  const normalise = ctx.paramOptions.trim || ctx.paramOptions.collapse_spaces;
  const slotIndexes = new Set(ctx.slotColumns.map((s) => s.index));
  for (const fields of records) {
    const start = line;
    let n = 0;
    for (const f of fields) n += breaks(f);
    line = start + n + 1;
    if (blank(fields)) continue;
    if (!headerSeen) {
      headerSeen = true;
      continue;
    }
    const input = normalise ? fields.map((f, i) => (slotIndexes.has(i) ? normaliseParam(f, ctx.paramOptions) : f)) : fields;
    const v = validateRow({
      fields: input, headerLength: ctx.headerLength, phoneIndex: ctx.phoneIndex, slotColumns: ctx.slotColumns,
      template: ctx.template, defaultCountry: ctx.defaultCountry,
    });
    out.lines.push(start);
    out.phoneInput.push(v.phoneInput);
    if (v.outcome === 'invalid') {
      out.e164.push(null);
      out.params.push(null);
      out.reason.push(v.reason);
      out.detail.push(v.detail);
    } else {
      out.e164.push(v.e164);
      out.params.push(JSON.stringify(v.params));
      out.reason.push(null);
      out.detail.push(null);
    }
  }
  return out;
}
