import type { TemplateDef } from '../templates/types.ts';
import { validateRow } from './validate-row.ts';
import { normaliseParam, type ParamOptions } from './param-options.ts';
import { parseChunk } from './parse-chunk.ts';

/** Everything a validator needs to judge the rows of one campaign; sent once to each worker thread. */
export interface ChunkContext {
  template: TemplateDef;
  headerLength: number;
  phoneIndex: number;
  slotColumns: Array<{ slot: string; index: number }>;
  defaultCountry?: string | undefined;
  delimiter: string;
  /** A lone CR is a line break only in files whose records end with CR (old Mac exports). */
  crBreaks: boolean;
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

/** Parse and validate one chunk of whole records (chunk 0 starts with the header, which is skipped). */
export function validateChunk(ctx: ChunkContext, text: string, firstLine: number, hasHeader: boolean): ChunkResult {
  const out: ChunkResult = { lines: [], phoneInput: [], e164: [], params: [], reason: [], detail: [] };
  const normalise = ctx.paramOptions.trim || ctx.paramOptions.collapse_spaces;
  const slotIndexes = new Set(ctx.slotColumns.map((s) => s.index));
  for (const { line: start, fields } of parseChunk(text, firstLine, ctx.delimiter, hasHeader, ctx.crBreaks)) {
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
