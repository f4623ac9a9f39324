import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { poolDb } from '../db/executor.ts';
import { sql } from '../db/queries.ts';
import type { Logger } from '../log.ts';
import { getTemplateById } from '../templates/store.ts';
import { planColumns } from './columns.ts';
import { COPY_COLUMNS, rowPrefix, type ChunkResult } from './validate-chunk.ts';
import { ValidatorPool } from './worker-pool.ts';
import { NumberSet } from './number-set.ts';
import { metrics } from '../metrics.ts';

export const ERRORS_SAMPLE = 10;

export interface IngestSummary {
  rows: number;
  accepted: number;
  invalid: number;
  duplicate: number;
  suppressed: number;
  invalid_reasons: Record<string, number>;
  errors_sample: Array<{ line: number; reason: string; detail: string }>;
}

export interface IngestProgress { rows: number; accepted: number; invalid: number; duplicate: number; suppressed: number }

/** Chunks validated ahead of the one being stored: enough to keep every core busy, bounded memory. */
export const PIPELINE_DEPTH = 3;
const POLL_MS = 25;

const COPY_RECIPIENTS = `COPY recipients (${COPY_COLUMNS.join(', ')}) FROM STDIN`;

export interface ProcessOptions {
  onProgress?: (p: IngestProgress) => void;
  /** Validation threads; default one per core but one. */
  threads?: number;
  /** Threads already started (see ValidatorPool): processIngest configures them; their owner closes them. */
  validators?: ValidatorPool;
}

/** E.164 digits as one exact double (15 digits < 2^53). */
const key = (e164: string): number => Number(e164.slice(1));

/**
 * Validate a campaign's uploaded chunks, in order, into `recipients`. One process at a time per campaign
 * (an advisory lock), using every core through validation threads; the rows of each chunk are stored with
 * COPY in the transaction that advances the checkpoint, so a crash at any point resumes at the first chunk
 * not stored and stores nothing twice. Runs while the upload is still going (it waits for the next chunk),
 * so sending can start on the first validated rows. Returns null when another process holds the campaign.
 */
export async function processIngest(pool: pg.Pool, campaignId: string, log: Logger, opts: ProcessOptions = {}): Promise<IngestSummary | null> {
  const db = poolDb(pool);
  const lock = await pool.connect();
  // Threads started here are closed here; ones passed in (opts.validators) belong to the caller.
  let started: ValidatorPool | null = null;
  try {
    const got = (await lock.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended('ingest:' || $1, 0)) AS ok`, [campaignId])).rows[0]!.ok;
    if (!got) return null;
    const c = (await db.q('campaign_get', [campaignId])).rows[0];
    if (!c) return null;
    if (c.ingest_state === 'done') return await summary(db, campaignId);
    const template = await getTemplateById(db, c.template_id);
    const header: string[] = c.source_header;
    const plan = planColumns(header, template, c.phone_column, c.param_map);
    const validators = opts.validators ?? (started = new ValidatorPool(opts.threads));
    validators.configure({
      campaignId, template, headerLength: header.length, phoneIndex: plan.phoneIndex, slotColumns: plan.slotColumns,
      defaultCountry: c.default_country ?? undefined, delimiter: c.source_delimiter ?? ',', crBreaks: c.source_record_delimiter === '\r', paramOptions: c.param_options ?? {},
    });

    const { invalid_reasons: _, ...progress }: IngestProgress & { invalid_reasons: unknown } = (await db.q('recipient_outcome_counts', [campaignId])).rows[0];
    const seen = new NumberSet();
    const scratch = new CopyScratch();
    for (const r of (await db.q<{ phone_e164: string }>('ingest_accepted_numbers', [campaignId])).rows) seen.add(key(r.phone_e164));

    let next: number = c.ingest_next_seq;
    const inflight = new Map<number, Promise<ChunkResult>>();
    let dispatched = next;
    for (;;) {
      // Keep up to PIPELINE_DEPTH chunks validating ahead of the one we store next.
      while (inflight.size < PIPELINE_DEPTH) {
        const chunk = (await db.q<{ first_line: number; data: string }>('ingest_chunk_get', [campaignId, dispatched])).rows[0];
        if (!chunk) break;
        inflight.set(dispatched, validators.validate(chunk.data, chunk.first_line, dispatched === 0));
        dispatched++;
      }
      const pending = inflight.get(next);
      if (!pending) {
        const s = (await db.q('ingest_status', [campaignId])).rows[0];
        if (!s) throw new Error(`campaign ${campaignId} was removed during ingest`);
        if (s.ingest_state !== 'uploading' && next >= s.ingest_chunks) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
        continue;
      }
      const result = await pending;
      inflight.delete(next);
      await storeChunk(pool, campaignId, next, result, seen, progress, scratch);
      next++;
      opts.onProgress?.(progress);
    }
    const done = (await db.q('campaign_ingest_finish', [campaignId])).rows[0];
    if (done) await db.q('ingest_chunks_delete', [campaignId]);
    log.info({ campaign: campaignId, rows: progress.rows }, 'ingest validated');
    return await summary(db, campaignId);
  } finally {
    await started?.close();
    await lock.query(`SELECT pg_advisory_unlock(hashtextextended('ingest:' || $1, 0))`, [campaignId]).catch(() => {});
    lock.release();
  }
}

/**
 * The COPY data of one chunk, reused by one ingest: its chunks are stored one at a time, and COPY has
 * sent every byte by the time the pipeline resolves. A fresh buffer per chunk is off-heap garbage that V8
 * collects late.
 */
class CopyScratch {
  private buf = Buffer.alloc(0);
  get(size: number): Buffer {
    if (this.buf.length < size) this.buf = Buffer.allocUnsafeSlow(Math.max(size, this.buf.length * 2));
    return this.buf;
  }
}

/**
 * Decide `suppressed` and `duplicate` for the chunk's candidates (in line order, against every earlier
 * accepted row) and store all its rows with COPY, in one transaction with the checkpoint.
 */
async function storeChunk(pool: pg.Pool, campaignId: string, seq: number, r: ChunkResult, seen: NumberSet, progress: IngestProgress, scratch: CopyScratch): Promise<void> {
  const client = await pool.connect();
  const added: number[] = [];
  try {
    await client.query('BEGIN');
    await client.query(sql('ingest_store_work_mem'));
    const blocked = new Set((await client.query<{ phone_e164: string }>(sql('suppression_find_many'), [r.numbers])).rows.map((x) => key(x.phone_e164)));
    const counts = { rows: 0, accepted: 0, invalid: 0, duplicate: 0, suppressed: 0 };
    // Rows come written as accepted or invalid (see ChunkResult); only a duplicate or suppressed row is
    // rewritten, into a reused buffer with the runs of rows around it. Most chunks go to COPY untouched.
    const skip = Buffer.byteLength(rowPrefix(campaignId, 'accepted'));
    const rewritten = { duplicate: Buffer.from(rowPrefix(campaignId, 'duplicate')), suppressed: Buffer.from(rowPrefix(campaignId, 'suppressed')) };
    const rows = Buffer.from(r.copy.buffer, r.copy.byteOffset, r.copy.byteLength);
    let data: Buffer | null = null;
    let length = 0;
    let run = 0;
    for (let i = 0; i < r.rows; i++) {
      const k = r.keys[i]!;
      let outcome: 'accepted' | 'invalid' | 'duplicate' | 'suppressed';
      if (Number.isNaN(k)) outcome = 'invalid';
      else if (blocked.has(k)) outcome = 'suppressed';
      else if (seen.has(k)) outcome = 'duplicate';
      else {
        outcome = 'accepted';
        seen.add(k);
        added.push(k);
      }
      counts.rows++;
      counts[outcome]++;
      if (outcome === 'duplicate' || outcome === 'suppressed') {
        // The prefix of a rewritten row is at most as long as the accepted one it replaces.
        data ??= scratch.get(rows.length);
        const start = i === 0 ? 0 : r.ends[i - 1]!;
        length += rows.copy(data, length, run, start);
        length += rewritten[outcome].copy(data, length);
        length += rows.copy(data, length, start + skip, r.ends[i]!);
        run = r.ends[i]!;
      }
    }
    if (data) length += rows.copy(data, length, run, rows.length);
    const out = data ? data.subarray(0, length) : rows;
    await pipeline(Readable.from([out]), client.query(copyFrom(COPY_RECIPIENTS)));
    const advanced = await client.query(sql('ingest_checkpoint_advance'), [campaignId, seq]);
    if (advanced.rowCount === 0) throw new Error(`ingest ${campaignId}: chunk ${seq} was stored by another process`);
    await client.query('COMMIT');
    for (const k of Object.keys(counts) as Array<keyof typeof counts>) progress[k] += counts[k];
    metrics.ingestRows(counts);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    for (const k of added) seen.delete(k);
    throw err;
  } finally {
    client.release();
  }
}

async function summary(db: ReturnType<typeof poolDb>, campaignId: string): Promise<IngestSummary> {
  const c = (await db.q('campaign_get', [campaignId])).rows[0];
  const sample = (await db.q<{ line: number; reason: string; detail: string | null }>('campaign_errors_sample', [campaignId, ERRORS_SAMPLE])).rows;
  return {
    rows: c.ingest_rows, accepted: c.ingest_accepted, invalid: c.ingest_invalid, duplicate: c.ingest_duplicate,
    suppressed: c.ingest_suppressed, invalid_reasons: c.invalid_reasons,
    errors_sample: sample.map((s) => ({ line: s.line, reason: s.reason, detail: s.detail ?? '' })),
  };
}
