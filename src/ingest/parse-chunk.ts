import { parse } from 'csv-parse/sync';

/** A data record and the physical line it starts on (the header is line 1). */
export interface LineRecord {
  line: number;
  fields: string[];
}

/** Line breaks inside a quoted field: CRLF and LF once each; a lone CR only in CR files (as chunker.ts counts). */
function breaks(field: string, crBreaks: boolean): number {
  if (field.indexOf('\n') < 0 && (!crBreaks || field.indexOf('\r') < 0)) return 0;
  let n = 0;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 10) n++;
    else if (crBreaks && c === 13 && field.charCodeAt(i + 1) !== 10) n++;
  }
  return n;
}

function blank(fields: string[]): boolean {
  for (const f of fields) if (f.trim() !== '') return false;
  return true;
}

/**
 * Parse one chunk of whole records (see chunker.ts), calling `onRecord` for each data record as csv-parse
 * reads it. Blank lines and lines of only delimiters and spaces are skipped; with `hasHeader` (chunk 0)
 * the first non-blank record is the header and is skipped too. Line numbers are physical: each record
 * starts on the line after the previous one ended, counting the breaks inside quoted fields (csv-parse's
 * own counter counts a CRLF inside quotes twice).
 *
 * One record at a time (csv-parse's `on_record`, returning null so it keeps nothing), not an array of
 * the chunk's 20k records: those lived through every young-generation collection of the chunk's
 * validation and were promoted, so the thread's old generation filled and was marked again and again
 * (`npm run bench:validate`, B1's file on one thread: 9.7 s of CPU with the array, 7.2 s without).
 */
export function forEachRecord(
  text: string, firstLine: number, delimiter: string, hasHeader: boolean, crBreaks: boolean,
  onRecord: (line: number, fields: string[]) => void,
): void {
  let line = firstLine;
  let headerSeen = !hasHeader;
  parse(text, {
    delimiter,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
    // A stray quote inside an unquoted cell (`5" screen`) is kept as text rather than failing the file.
    relax_quotes: true,
    skip_empty_lines: false,
    max_record_size: 1_000_000,
    on_record: (fields: string[]) => {
      const start = line;
      let n = 0;
      for (const f of fields) n += breaks(f, crBreaks);
      line = start + n + 1;
      if (blank(fields)) return null;
      if (!headerSeen) {
        headerSeen = true;
        return null;
      }
      onRecord(start, fields);
      return null;
    },
  });
}

/** The chunk's data records, with their lines (as forEachRecord), as one array. */
export function parseChunk(text: string, firstLine: number, delimiter: string, hasHeader: boolean, crBreaks = false): LineRecord[] {
  const out: LineRecord[] = [];
  forEachRecord(text, firstLine, delimiter, hasHeader, crBreaks, (line, fields) => out.push({ line, fields }));
  return out;
}
