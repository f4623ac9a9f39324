import type { TemplateDef } from '../templates/types.ts';
import { validateRow } from './validate-row.ts';
import { normaliseParam, type ParamOptions } from './param-options.ts';
import { forEachRecord } from './parse-chunk.ts';
import { copyValue } from './copy-text.ts';

/** Everything a validator needs to judge the rows of one campaign; sent once to each worker thread. */
export interface ChunkContext {
  campaignId: string;
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
 * The verdicts on one chunk, in a shape that is cheap to pass between threads and to send to COPY: a
 * number array, an offset array and the UTF-8 bytes of the rows' COPY text, all three transferred, not
 * copied. Moving six arrays of 20k strings per chunk instead cost the main thread 1.4 s of garbage
 * collection per 300k rows (B1 profile); one string of all the rows cost this thread 1.5 s per 1M rows
 * in `join` and 0.9 s in pushing its 12M pieces, and the main thread then sliced it and encoded it again.
 *
 * Row i: `keys[i]` is its E.164 digits as a number (exact: at most 15 digits < 2^53) when it passed every
 * check that needs no database, NaN when it is invalid; `copy.subarray(ends[i - 1] ?? 0, ends[i])` is
 * its whole COPY row (COPY_COLUMNS) in UTF-8, ending with a newline. An invalid row is final; a row with a
 * key is written as accepted (`rowPrefix(campaignId, 'accepted')` then the rest), which it is unless the main
 * thread finds it suppressed or a duplicate: only those rows are rewritten there, so a chunk of accepted
 * and invalid rows goes to COPY as it came (the per-row splicing cost the store stage, the critical path
 * of B1, 0.9 s per 1M rows).
 */
export interface ChunkResult {
  rows: number;
  keys: Float64Array<ArrayBuffer>;
  ends: Int32Array<ArrayBuffer>;
  copy: Uint8Array<ArrayBuffer>;
  /** The E.164 numbers of the rows with a key, in row order, joined by commas (for suppression_find_many). */
  numbers: string;
}

/** The columns of each row, in order. */
export const COPY_COLUMNS = ['campaign_id', 'outcome', 'status', 'line', 'phone_input', 'phone_e164', 'params', 'reason', 'detail'] as const;

/** A row's columns before `line`: campaign_id, outcome, and status (`queued` for an accepted row, else NULL). */
export function rowPrefix(campaignId: string, outcome: 'accepted' | 'invalid' | 'duplicate' | 'suppressed'): string {
  return `${campaignId}\t${outcome}\t${outcome === 'accepted' ? 'queued' : '\\N'}\t`;
}

/** A growable UTF-8 buffer; at most 3 bytes per UTF-16 unit, so a row's worst case is known before writing it. */
class Utf8Out {
  bytes: Buffer;
  length = 0;
  constructor(capacity: number) {
    this.bytes = Buffer.from(new ArrayBuffer(capacity));
  }
  write(s: string): void {
    const need = this.length + s.length * 3;
    if (need > this.bytes.length) {
      const grown = Buffer.from(new ArrayBuffer(Math.max(need, this.bytes.length * 2)));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.length += this.bytes.write(s, this.length);
  }
}

// One buffer per thread, reused chunk after chunk: a fresh 1.5 MB buffer per chunk was garbage V8 did not
// hurry to collect (off-heap), +15 MB peak RSS in B1.
let scratch: Utf8Out | null = null;

/**
 * At least as many as the records csv-parse can find in the text: each ends at a CR, an LF or a CRLF
 * (whatever the file's own line ends: forEachRecord gives csv-parse all three), or at the end.
 */
function recordBound(text: string): number {
  let n = 1;
  for (let p = text.indexOf('\n'); p >= 0; p = text.indexOf('\n', p + 1)) n++;
  for (let p = text.indexOf('\r'); p >= 0; p = text.indexOf('\r', p + 1)) n++;
  return n;
}

/** Parse and validate one chunk of whole records (chunk 0 starts with the header, which is skipped). */
export function validateChunk(ctx: ChunkContext, text: string, firstLine: number, hasHeader: boolean): ChunkResult {
  // Room for every row without a first pass over the records.
  const capacity = recordBound(text);
  const keys = new Float64Array(capacity);
  const ends = new Int32Array(capacity);
  // One template string per row, written out at once: the row's rope is young garbage right away, and
  // the thread never holds more than the chunk's bytes (the text is mostly ASCII, so about its size,
  // plus the E.164 and the JSON of each accepted row).
  const out = scratch ?? new Utf8Out(Math.ceil(text.length * 1.5) + 64);
  scratch = out;
  out.length = 0;
  const normalise = ctx.paramOptions.trim || ctx.paramOptions.collapse_spaces;
  const slotIndexes = new Set(ctx.slotColumns.map((s) => s.index));
  const numbers: string[] = [];
  const accepted = rowPrefix(ctx.campaignId, 'accepted');
  const invalid = rowPrefix(ctx.campaignId, 'invalid');
  let i = 0;
  forEachRecord(text, firstLine, ctx.delimiter, hasHeader, ctx.crBreaks, (start, fields) => {
    const input = normalise ? fields.map((f, j) => (slotIndexes.has(j) ? normaliseParam(f, ctx.paramOptions) : f)) : fields;
    const v = validateRow({
      fields: input, headerLength: ctx.headerLength, phoneIndex: ctx.phoneIndex, slotColumns: ctx.slotColumns,
      template: ctx.template, defaultCountry: ctx.defaultCountry,
    });
    if (v.outcome === 'invalid') {
      keys[i] = NaN;
      out.write(`${invalid}${start}\t${copyValue(v.phoneInput)}\t\\N\t\\N\t${copyValue(v.reason)}\t${copyValue(v.detail)}\n`);
    } else {
      keys[i] = Number(v.e164.slice(1));
      numbers.push(v.e164);
      out.write(`${accepted}${start}\t${copyValue(v.phoneInput)}\t${copyValue(v.e164)}\t${copyValue(JSON.stringify(v.params))}\t\\N\t\\N\n`);
    }
    ends[i] = out.length;
    i++;
  });
  // Transfer exactly the written bytes: a copy of one chunk's size beats sending the slack.
  const copy = new Uint8Array(out.length);
  copy.set(out.bytes.subarray(0, out.length));
  // The arrays are transferred whole: cut them to the rows (a copy of at most 12 bytes a line).
  return { rows: i, keys: keys.slice(0, i), ends: ends.slice(0, i), copy, numbers: numbers.join(',') };
}
