/**
 * Guesses a CSV's field and record delimiters from the start of the decoded file. csv-parse's own
 * `delimiter_auto` is not usable here: it crashes on any non-ASCII character in its sample ("José"), counts
 * delimiters inside quoted fields (`1,"a;b;c"` picks ';') and misreads single-column files (see
 * shared/notes/libraries.md §3). This one counts only outside double quotes, on whole records (a quoted
 * field may span lines), and trusts the header: a delimiter that does not occur in the header cannot be
 * the one, because a spreadsheet writes the same number of separators on every row.
 *
 * Works on a JS string, so non-ASCII text needs no care: only the ASCII characters " , ; \t | \r \n are
 * looked at, and none of them occurs inside a UTF-16 surrogate pair.
 */

export type FieldDelimiter = ',' | ';' | '\t' | '|';
export type RecordDelimiter = '\n' | '\r\n' | '\r';

/** In order of preference when two candidates fit equally well. */
const CANDIDATES: readonly FieldDelimiter[] = [',', ';', '\t', '|'];

/** The header and the 19 rows after it: reading further rarely changes the answer. */
const MAX_ROWS = 20;

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * The delimiter that occurs on the header, and as many times on the most of the first rows as on the
 * header. Every candidate absent from the header is out; among the rest, ties go to , ; \t | in that
 * order. A sample with no candidate on its header (a single-column file, or an empty one) gives ','.
 */
export function sniffDelimiter(sample: string): FieldDelimiter {
  const rows = sampleRows(sample);
  const header = rows[0];
  if (!header) return ',';
  let best: FieldDelimiter = ',';
  let bestScore = 0;
  for (let c = 0; c < CANDIDATES.length; c++) {
    const want = header[c]!;
    if (want === 0) continue;
    let score = 1; // the header agrees with itself; a header-only file still picks a present delimiter
    for (let r = 1; r < rows.length; r++) if (rows[r]![c] === want) score++;
    if (score > bestScore) {
      best = CANDIDATES[c]!;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Per-candidate delimiter counts for each of the first non-blank records of `sample`, the header first.
 * Counting stops at MAX_ROWS records. Blank lines (empty or spaces only) are skipped.
 */
function sampleRows(sample: string): number[][] {
  const rows: number[][] = [];
  let counts = [0, 0, 0, 0];
  let blank = true;
  let quoted = false;
  const n = sample.length;
  for (let i = 0; i < n && rows.length < MAX_ROWS; i++) {
    const ch = sample.charCodeAt(i);
    if (ch === QUOTE) {
      quoted = !quoted; // "" inside a quoted field toggles twice and leaves it quoted, as it should
      blank = false;
    } else if (quoted) {
      continue;
    } else if (ch === LF || ch === CR) {
      if (ch === CR && sample.charCodeAt(i + 1) === LF) i++;
      if (!blank) rows.push(counts);
      counts = [0, 0, 0, 0];
      blank = true;
    } else {
      const c = candidateIndex(ch);
      if (c >= 0) counts[c]!++;
      // A line of only delimiters and spaces still has its delimiters counted, as a spreadsheet wrote them
      if (ch !== 32 || c >= 0) blank = false;
    }
  }
  // The sample ended inside a record. Under MAX_ROWS records the sample is most likely the whole file, so
  // its unterminated last line is a real row; one cut off inside a quoted field is not, unless it is all
  // there is.
  if (!blank && rows.length < MAX_ROWS && (!quoted || rows.length === 0)) rows.push(counts);
  return rows;
}

function candidateIndex(ch: number): number {
  switch (ch) {
    case 44: return 0; // ,
    case 59: return 1; // ;
    case 9: return 2; // \t
    case 124: return 3; // |
    default: return -1;
  }
}

/**
 * The record delimiter used most often outside quoted fields: CRLF (Windows, and RFC 4180), LF (Unix,
 * Google Sheets) or a lone CR (Excel for Mac before 2016). Line breaks inside quoted cells are ignored:
 * Excel writes a bare LF there even in a CRLF file. A CR at the very end of the sample is not counted,
 * since its LF may be just past the sample. With no line break at all, '\n'.
 */
export function sniffRecordDelimiter(sample: string): RecordDelimiter {
  let crlf = 0;
  let lf = 0;
  let cr = 0;
  let quoted = false;
  const n = sample.length;
  for (let i = 0; i < n; i++) {
    const ch = sample.charCodeAt(i);
    if (ch === QUOTE) quoted = !quoted;
    else if (quoted) continue;
    else if (ch === LF) lf++;
    else if (ch === CR) {
      if (i + 1 === n) break;
      if (sample.charCodeAt(i + 1) === LF) {
        crlf++;
        i++;
      } else cr++;
    }
  }
  if (crlf === 0 && lf === 0 && cr === 0) return '\n';
  if (crlf >= lf && crlf >= cr) return '\r\n';
  return lf >= cr ? '\n' : '\r';
}
