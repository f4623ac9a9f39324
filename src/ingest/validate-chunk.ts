import type { TemplateDef } from '../templates/types.ts';
import { validateRow } from './validate-row.ts';
import { normaliseParam, type ParamOptions } from './param-options.ts';
import { parseChunk } from './parse-chunk.ts';
import { copyValue } from './copy-text.ts';

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
 * The verdicts on one chunk, in a shape that is cheap to pass between threads and to turn into COPY text:
 * a number array, an offset array (both transferred, not copied) and one string. Moving six arrays of
 * 20k strings per chunk instead cost the main thread 1.4 s of garbage collection per 300k rows (B1
 * profile), more than building the COPY text itself.
 *
 * Row i: `keys[i]` is its E.164 digits as a number (exact: at most 15 digits < 2^53) when it passed every
 * check that needs no database, NaN when it is invalid; `tails.slice(ends[i - 1] ?? 0, ends[i])` is its
 * COPY text from `line` on (see COPY_TAIL_COLUMNS), ending with a newline. The main thread decides
 * suppressed/duplicate/accepted and prepends the columns that depend on it.
 */
export interface ChunkResult {
  rows: number;
  keys: Float64Array<ArrayBuffer>;
  ends: Int32Array<ArrayBuffer>;
  tails: string;
}

/** The columns of each tail, in order; the main thread prepends campaign_id, outcome and status. */
export const COPY_TAIL_COLUMNS = ['line', 'phone_input', 'phone_e164', 'params', 'reason', 'detail'] as const;

/** Parse and validate one chunk of whole records (chunk 0 starts with the header, which is skipped). */
export function validateChunk(ctx: ChunkContext, text: string, firstLine: number, hasHeader: boolean): ChunkResult {
  const keys: number[] = [];
  const ends: number[] = [];
  // Every piece (values, tabs, newlines) goes into one array joined once at the end. Row strings built
  // with `+=` are ropes of ~13 cons cells each: 8 MB per 20k-row chunk, enough to push the thread past
  // its 24 MB heap (measured with --max-old-space-size on one 1 MiB chunk: needs 28 MB, this needs 20).
  const parts: string[] = [];
  let length = 0;
  const put = (v: string | null, last = false): void => {
    const c = copyValue(v);
    parts.push(c, last ? '\n' : '\t');
    length += c.length + 1;
  };
  const normalise = ctx.paramOptions.trim || ctx.paramOptions.collapse_spaces;
  const slotIndexes = new Set(ctx.slotColumns.map((s) => s.index));
  for (const { line: start, fields } of parseChunk(text, firstLine, ctx.delimiter, hasHeader, ctx.crBreaks)) {
    const input = normalise ? fields.map((f, i) => (slotIndexes.has(i) ? normaliseParam(f, ctx.paramOptions) : f)) : fields;
    const v = validateRow({
      fields: input, headerLength: ctx.headerLength, phoneIndex: ctx.phoneIndex, slotColumns: ctx.slotColumns,
      template: ctx.template, defaultCountry: ctx.defaultCountry,
    });
    if (v.outcome === 'invalid') {
      keys.push(NaN);
      put(String(start)); put(v.phoneInput); put(null); put(null); put(v.reason); put(v.detail, true);
    } else {
      keys.push(Number(v.e164.slice(1)));
      put(String(start)); put(v.phoneInput); put(v.e164); put(JSON.stringify(v.params)); put(null); put(null, true);
    }
    ends.push(length);
  }
  return { rows: keys.length, keys: Float64Array.from(keys), ends: Int32Array.from(ends), tails: parts.join('') };
}
