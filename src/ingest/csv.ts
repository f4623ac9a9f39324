import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { UsageError } from '../errors.ts';

/** One data record: the line where it starts in the file (the header is line 1) and its fields. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export interface CsvSource {
  header: string[];
  /** Data records in file order; blank lines and lines of only delimiters and spaces are skipped. */
  records: AsyncGenerator<CsvRecord>;
}

/** Count line breaks inside a quoted field: CRLF, LF and a lone CR each count once. */
function newlines(field: string): number {
  if (field.indexOf('\n') < 0 && field.indexOf('\r') < 0) return 0;
  let n = 0;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13 && field.charCodeAt(i + 1) !== 10) n++;
  }
  return n;
}

function isBlank(fields: string[]): boolean {
  for (const f of fields) if (f.trim() !== '') return false;
  return true;
}

/** Refuse what is not a text CSV before a campaign is created for it. */
async function sniff(file: string): Promise<void> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4096), 0, 4096, 0);
    if (bytesRead === 0) throw new UsageError(`${file} is empty: expected a CSV with a header row`);
    const head = buffer.subarray(0, bytesRead);
    const utf16 = (head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff);
    if (!utf16 && head.includes(0)) throw new UsageError(`${file} is not a CSV file (it holds binary data)`);
  } finally {
    await fh.close();
  }
}

/**
 * Stream a CSV file: the header, then every data record with the line it starts on. Never reads the whole
 * file. csv-parse's own line counter counts a CRLF inside quotes twice, so the start line is derived
 * here: each record starts on the line after the previous one ends, and ends after its embedded breaks.
 */
export async function openCsv(file: string, opts: { delimiter?: string } = {}): Promise<CsvSource> {
  await sniff(file);
  const parser = createReadStream(file).pipe(
    parse({
      bom: true,
      delimiter: opts.delimiter ?? ',',
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      skip_empty_lines: false,
      max_record_size: 1_000_000,
    }),
  );
  const it = parser[Symbol.asyncIterator]() as AsyncIterator<string[]>;
  let nextLine = 1;
  const advance = (fields: string[]) => {
    const start = nextLine;
    let breaks = 0;
    for (const f of fields) breaks += newlines(f);
    nextLine = start + breaks + 1;
    return start;
  };
  let header: string[] | null = null;
  try {
    for (;;) {
      const first = await it.next();
      if (first.done) break;
      advance(first.value);
      if (!isBlank(first.value)) {
        header = first.value;
        break;
      }
    }
  } catch (err) {
    parser.destroy();
    throw new UsageError(`${file} is not a readable CSV: ${(err as Error).message}`);
  }
  if (!header) throw new UsageError(`${file} has no header row`);

  async function* records(): AsyncGenerator<CsvRecord> {
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        const line = advance(r.value);
        if (isBlank(r.value)) continue;
        yield { line, fields: r.value };
      }
    } catch (err) {
      throw new UsageError(`${file}: CSV syntax error near line ${nextLine}: ${(err as Error).message}`);
    } finally {
      parser.destroy();
    }
  }
  return { header: header.map((h) => h.trim()), records: records() };
}
