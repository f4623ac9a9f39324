import { createWriteStream, unlinkSync } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { sql } from '../db/queries.ts';
import { UsageError } from '../errors.ts';
import { BOM, encodeCell, encodeRow, RECORD_END } from './csv.ts';
import { isUuid } from '../ids.ts';

/** interface.md "The export": the header, exactly, in this order (a contract). */
export const EXPORT_COLUMNS = [
  'line', 'phone_input', 'phone_e164', 'outcome', 'reason', 'error_code', 'error_title', 'message_id',
  'attempts', 'sent_at', 'delivered_at', 'read_at', 'failed_at',
] as const;


/** COPY takes no bind parameters: the query of sql/queries/export.sql with the id as a quoted literal. */
export function exportCopySql(campaignId: string): string {
  if (!isUuid(campaignId)) throw new UsageError(`${campaignId} is not a campaign id`);
  const select = sql('export_rows').replace(/;\s*$/, '').replaceAll('$1', `'${campaignId}'::uuid`);
  return `COPY (${select}) TO STDOUT (FORMAT text)`;
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** One field of COPY's text format: `\N` is NULL, backslash sequences stand for control characters. */
function copyField(raw: string): string | null {
  if (raw === '\\N') return null;
  if (!raw.includes('\\')) return raw;
  // COPY TO writes only these sequences (never octal or hex ones).
  return raw.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c);
}

/** The positions of the time columns (`…_at`): they arrive as UTC timestamps, DateStyle ISO. */
const IS_TIME: readonly boolean[] = EXPORT_COLUMNS.map((c) => c.endsWith('_at'));

/**
 * `2025-03-01 10:00:05.25` (a UTC timestamp as PostgreSQL writes it with DateStyle ISO) to
 * `2025-03-01T10:00:05.250Z`: ISO 8601 UTC with milliseconds (the microseconds cut), as the report writes times.
 */
export function isoUtc(ts: string): string {
  if (ts.length < 19 || ts[4] !== '-' || ts[10] !== ' ' || ts[13] !== ':') throw new Error(`unexpected timestamp from COPY: ${ts} (DateStyle must be ISO)`);
  const ms = ts.length > 20 ? ts.slice(20, 23).padEnd(3, '0') : '000';
  return `${ts.slice(0, 10)}T${ts.slice(11, 19)}.${ms}Z`;
}

/**
 * COPY text rows in, CSV records out. Rows are cut at LF bytes (a line break inside a value arrives
 * escaped as `\n`), so a row split across chunks, even inside a UTF-8 sequence, is joined before decoding.
 */
export class CopyTextToCsv extends Transform {
  rows = 0;
  #rest: Buffer | null = null;
  readonly #onRows: ((rows: number) => void) | undefined;

  constructor(opts: { header?: boolean; bom?: boolean; onRows?: (rows: number) => void } = {}) {
    super({ readableObjectMode: false, writableObjectMode: false });
    this.#onRows = opts.onRows;
    const head = (opts.bom ? BOM : '') + (opts.header === false ? '' : encodeRow(EXPORT_COLUMNS));
    if (head) this.push(head);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    const last = buf.lastIndexOf(0x0a);
    if (last < 0) {
      this.#rest = Buffer.from(buf);
      return done();
    }
    this.#rest = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : null;
    const lines = buf.toString('utf8', 0, last).split('\n');
    let out = '';
    for (const line of lines) {
      const fields = line.split('\t');
      let record = '';
      for (let i = 0; i < fields.length; i++) {
        const raw = fields[i]!;
        if (i > 0) record += ',';
        if (raw === '\\N') continue; // NULL: an empty cell
        record += encodeCell(IS_TIME[i] ? isoUtc(raw) : copyField(raw));
      }
      out += record + RECORD_END;
    }
    this.rows += lines.length;
    this.#onRows?.(this.rows);
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    if (this.#rest && this.#rest.length > 0) return done(new Error('COPY output ended inside a row'));
    done();
  }
}

export interface ExportResult { id: string; rows: number; out: string }

export interface ExportOptions {
  /** A file path, or `-` for stdout. */
  out: string;
  bom?: boolean;
  /** Called as rows are written (for a progress line), with the count so far. */
  onRows?: (rows: number) => void;
  /** Where `-` writes (stdout; a test may pass another stream). */
  stdout?: Writable;
}

/**
 * Where the file goes must be writable before the database is asked for anything: a path in a missing
 * directory, a directory, or a place we may not write exits 2 with what to fix.
 */
export async function checkOutPath(out: string): Promise<void> {
  if (out === '-') return;
  if (out === '') throw new UsageError('--out: give a file name, or - for stdout');
  const s = await stat(out).catch(() => null);
  if (s?.isDirectory()) throw new UsageError(`--out ${out} is a directory: give a file name`);
  const dir = await stat(dirname(out)).catch(() => null);
  if (!dir) throw new UsageError(`--out ${out}: the directory ${dirname(out)} does not exist`);
  if (!dir.isDirectory()) throw new UsageError(`--out ${out}: ${dirname(out)} is not a directory`);
}

const unwritable = (out: string, err: unknown): UsageError =>
  new UsageError(`cannot write --out ${out}: ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.replace(/\s+/g, ' '));

/**
 * `campaign export ID --out FILE`: every data row of the campaign, in line order, streamed from one COPY
 * through the CSV encoder into the file, with backpressure all the way (a slow disk pauses the socket),
 * so memory stays bounded whatever the campaign's size. The file is written as FILE.<pid>.tmp, flushed to
 * disk, and renamed over FILE only once complete: a crash or an error never leaves a partial FILE (the
 * temporary file is removed on error). The caller has checked that the campaign exists.
 */
export async function exportCampaign(pool: pg.Pool, campaignId: string, opts: ExportOptions): Promise<ExportResult> {
  const copySql = exportCopySql(campaignId);
  await checkOutPath(opts.out);
  const encoder = new CopyTextToCsv({ bom: opts.bom, onRows: opts.onRows });
  if (opts.out === '-') {
    const stdout = opts.stdout ?? process.stdout;
    try {
      await copyThrough(pool, copySql, encoder, stdout, stdout !== process.stdout);
    } catch (err) {
      // A reader that went away (`| head`) ends the export quietly, as other command-line tools do.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    }
    return { id: campaignId, rows: encoder.rows, out: '-' };
  }
  const tmp = `${opts.out}.${process.pid}.tmp`;
  // Created before the COPY starts, so a path we may not write fails at once (exit 2), not mid-way.
  await (await open(tmp, 'w').catch((err) => { throw unwritable(opts.out, err); })).close();
  // Ctrl-C or a SIGTERM mid-way: remove the temporary file, then die of the signal as before.
  const onSignal = (signal: NodeJS.Signals): void => {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await copyThrough(pool, copySql, encoder, createWriteStream(tmp, { flush: true }), true);
    await rename(tmp, opts.out).catch((err) => { throw unwritable(opts.out, err); });
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  await syncDir(dirname(opts.out));
  return { id: campaignId, rows: encoder.rows, out: opts.out };
}

/** One COPY, through the encoder, into `dest`, on a connection of its own. */
async function copyThrough(pool: pg.Pool, copySql: string, encoder: CopyTextToCsv, dest: Writable, end: boolean): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // The time columns are parsed from the ISO output style, whatever the server's default.
    await client.query(`SET DateStyle = 'ISO, MDY'`);
    await pipeline(client.query(copyTo(copySql)), encoder, dest, { end });
    await client.query('RESET DateStyle');
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    // A COPY cut short leaves the connection mid-protocol: it is closed, not given back to the pool.
    client.release(broken);
  }
}

/** Make the rename durable (best effort: not every filesystem lets a directory be fsynced). */
async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r').catch(() => null);
  if (!h) return;
  await h.sync().catch(() => {});
  await h.close().catch(() => {});
}
