import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { Db } from '../db/executor.ts';
import { UsageError } from '../errors.ts';
import { detectEncoding, decodeStream, type TextEncoding } from './encoding.ts';
import { sniffDelimiter, sniffRecordDelimiter } from './sniff.ts';
import { chunkRecords, type RecordChunk } from './chunker.ts';

/** What the file is, decided before anything is stored: a problem here exits 2 and creates nothing. */
export interface FilePlan {
  encoding: TextEncoding;
  bom: number;
  delimiter: string;
  recordDelimiter: '\n' | '\r\n' | '\r';
  header: string[];
}

const SAMPLE_BYTES = 64 * 1024;
/** About 20k rows of a typical contact list per chunk: big enough for COPY, small enough for memory. */
export const CHUNK_BYTES = 1024 * 1024;
/** The first chunk is small (~1,000 rows) so sending can begin within a second of `create --start-at now`. */
export const FIRST_CHUNK_BYTES = 48 * 1024;

async function readHead(path: string, bytes: number): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(bytes), 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function decodedSample(path: string, encoding: TextEncoding, bom: number): Promise<string> {
  const out: Buffer[] = [];
  let size = 0;
  const src = createReadStream(path, { start: 0, end: SAMPLE_BYTES * 2 - 1 });
  for await (const chunk of src.pipe(decodeStream(encoding, bom))) {
    out.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= SAMPLE_BYTES) break;
  }
  src.destroy();
  return Buffer.concat(out).toString('utf8');
}

/** Encoding, delimiters and header of a contact file; UsageError for anything that is not a CSV. */
export async function inspectFile(path: string): Promise<FilePlan> {
  const head = await readHead(path, 4096);
  if (head.length === 0) throw new UsageError(`${path} is empty: expected a CSV with a header row`);
  const utf16 = (head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff);
  if (!utf16 && head.includes(0)) throw new UsageError(`${path} is not a CSV file (it holds binary data)`);
  const { encoding, bom } = await detectEncoding(path);
  const sample = await decodedSample(path, encoding, bom);
  const recordDelimiter = sniffRecordDelimiter(sample);
  const delimiter = sniffDelimiter(sample);
  // Parse only whole lines of the sample (a 64 KiB cut may fall inside a quoted field); the header is the
  // first record that is not blank or made of delimiters and spaces only.
  const cut = sample.lastIndexOf(recordDelimiter === '\r\n' ? '\n' : recordDelimiter);
  let records: string[][];
  try {
    records = parse(cut > 0 ? sample.slice(0, cut + 1) : sample, {
      delimiter, record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true, relax_quotes: true, skip_empty_lines: true, to: 100,
    }) as string[][];
  } catch (err) {
    throw new UsageError(`${path} is not a readable CSV: ${(err as Error).message}`);
  }
  const header = records.find((r) => r.some((f) => f.trim() !== ''));
  if (!header) throw new UsageError(`${path} has no header row`);
  return { encoding, bom, delimiter, recordDelimiter, header: header.map((h) => h.trim()) };
}

/**
 * Stream the file into `ingest_chunks`: decoded to UTF-8, cut into chunks of whole records, each stored
 * with the line its first record starts on. Returns the number of chunks.
 */
export interface UploadOptions {
  onChunk?: (seq: number, bytes: number) => void;
  /** Awaited (at most FIRST_CHUNK_PAUSE_MS) once the first chunk is stored, before the rest is read. */
  afterFirstChunk?: () => Promise<void>;
}

/** The longest the upload waits for `afterFirstChunk`: a pause, never a dependency. */
const FIRST_CHUNK_PAUSE_MS = 2_000;

/** The file as the upload stores it: decoded to UTF-8 and cut into chunks of whole records. */
export function fileChunks(path: string, plan: FilePlan): AsyncGenerator<RecordChunk> {
  const source = createReadStream(path, { highWaterMark: 256 * 1024 }).pipe(decodeStream(plan.encoding, plan.bom));
  return chunkRecords(source, { targetBytes: CHUNK_BYTES, firstTargetBytes: FIRST_CHUNK_BYTES, recordDelimiter: plan.recordDelimiter, delimiter: plan.delimiter });
}

export async function uploadChunks(db: Db, campaignId: string, path: string, plan: FilePlan, opts: UploadOptions = {}): Promise<number> {
  let chunks = 0;
  for await (const chunk of fileChunks(path, plan)) {
    let text = chunk.data.toString('utf8');
    // PostgreSQL text cannot hold NUL; a stray one (binary junk past the sniffed head) becomes U+FFFD.
    if (text.includes('\0')) text = text.replaceAll('\0', '\uFFFD');
    await db.q('ingest_chunk_insert', [campaignId, chunk.seq, chunk.firstLine, text]);
    chunks = chunk.seq + 1;
    opts.onChunk?.(chunk.seq, chunk.data.length);
    if (chunk.seq === 0 && opts.afterFirstChunk) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([opts.afterFirstChunk(), new Promise<void>((r) => (timer = setTimeout(r, FIRST_CHUNK_PAUSE_MS)))]);
      clearTimeout(timer);
    }
  }
  await db.q('ingest_upload_finish', [campaignId]);
  return chunks;
}
