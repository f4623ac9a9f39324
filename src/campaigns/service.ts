import type pg from 'pg';
import type { Db } from '../db/executor.ts';
import type { Logger } from '../log.ts';
import { UsageError } from '../errors.ts';
import { getTemplate } from '../templates/store.ts';
import { planColumns } from '../ingest/columns.ts';
import { inspectFile, uploadChunks } from '../ingest/upload.ts';
import { processIngest, type IngestProgress, type IngestSummary } from '../ingest/process.ts';
import { ValidatorPool } from '../ingest/worker-pool.ts';
import type { ParamOptions } from '../ingest/param-options.ts';
import { pickCauses, type FailedCause } from '../send/retryable.ts';
import { isUuid } from '../ids.ts';


export interface CreateInput {
  name: string;
  template: string;
  language: string;
  csv: string;
  channel: string;
  phoneColumn?: string | undefined;
  params: Record<string, string>;
  defaultCountry?: string | undefined;
  paramOptions?: ParamOptions;
}

export interface CreateOptions {
  /** Validate before returning (default). Without it, a worker validates (the campaign-ingest job). */
  wait?: boolean;
  /** Start sending as soon as rows are validated (`--start-at now`). */
  startNow?: boolean;
  onProgress?: (p: IngestProgress) => void;
  /** Told once the file is stored, so a caller can hand the campaign to workers. */
  onUploaded?: (campaignId: string) => Promise<void> | void;
  /** A run of a recurring campaign: its schedule and firing (unique: a firing makes one run). */
  parent?: { id: string; fireAt: Date };
}

export interface CreateResult {
  id: string;
  state: string;
  ingest: Omit<IngestSummary, 'invalid_reasons'>;
}

export interface Io {
  db: Db;
  pool: pg.Pool;
  log: Logger;
}

const NO_ROWS: CreateResult['ingest'] = { rows: 0, accepted: 0, invalid: 0, duplicate: 0, suppressed: 0, errors_sample: [] };

/**
 * `campaign create`: check the template and the file (encoding, delimiter, columns) and exit 2 before
 * anything is stored; then store the file durably in chunks while this process validates them (other
 * processes could take over the validation if this one died). If anything fails the campaign is removed:
 * no half-created campaign stays.
 */
export async function createCampaign(io: Io, input: CreateInput, opts: CreateOptions = {}): Promise<CreateResult> {
  // Validating here: start the validation threads now, so they load while the file's head is read.
  const validators = opts.wait === false ? null : new ValidatorPool();
  try {
    return await create(io, input, opts, validators);
  } finally {
    await validators?.close();
  }
}

async function create(io: Io, input: CreateInput, opts: CreateOptions, validators: ValidatorPool | null): Promise<CreateResult> {
  const { db, pool, log } = io;
  const template = await getTemplate(db, input.template, input.language);
  const file = await inspectFile(input.csv);
  const plan = planColumns(file.header, template, input.phoneColumn, input.params);
  const campaign = (await db.q('campaign_insert', [
    input.name, template.id, input.channel, plan.phoneColumn, JSON.stringify(plan.paramMap),
    input.defaultCountry ?? null, input.csv, file.encoding, file.delimiter, file.header, JSON.stringify(input.paramOptions ?? {}), file.recordDelimiter,
  ])).rows[0];
  const id: string = campaign.id;
  try {
    if (opts.parent) await db.q('campaign_set_parent', [id, opts.parent.id, opts.parent.fireAt]);
    let state = 'draft';
    if (opts.startNow) state = (await db.q('campaign_start', [id])).rows[0].state;
    if (!validators) {
      await uploadChunks(db, id, input.csv, file);
      await opts.onUploaded?.(id);
      return { id, state, ingest: NO_ROWS };
    }
    // Upload and validate side by side: validated rows can be sent while the rest is still read. The upload
    // pauses after the first (small) chunk until it is validated and stored: on two cores the upload of a
    // big file otherwise takes the CPU that the first rows need to reach a sender (B2).
    let firstStored!: () => void;
    const first = new Promise<void>((resolve) => (firstStored = resolve));
    const upload = uploadChunks(db, id, input.csv, file, { afterFirstChunk: () => first }).then(async (n) => {
      await opts.onUploaded?.(id);
      return n;
    });
    const validate = processIngest(pool, id, log, {
      validators,
      onProgress: (p) => {
        firstStored();
        opts.onProgress?.(p);
      },
    });
    void validate.finally(firstStored).catch(() => {});
    const [up, val] = await Promise.allSettled([upload, validate]);
    if (up.status === 'rejected') throw up.reason;
    if (val.status === 'rejected') throw val.reason;
    const summary = val.value;
    if (!summary) throw new Error(`campaign ${id}: another process is validating it`);
    if (summary.rows === 0) throw new UsageError(`${input.csv} has a header but no data rows`);
    const { invalid_reasons: _, ...ingest } = summary;
    const now = (await db.q<{ state: string }>('campaign_state', [id])).rows[0]!.state;
    return { id, state: now, ingest };
  } catch (err) {
    await db.q('campaign_delete', [id]).catch(() => {});
    throw err;
  }
}

export function checkId(id: string): string {
  if (!isUuid(id)) throw new UsageError(`${id} is not a campaign id (a UUID, as printed by "campaign create" and "campaign list")`);
  return id;
}

async function stateOf(db: Db, id: string): Promise<string> {
  const r = (await db.q<{ state: string }>('campaign_state', [checkId(id)])).rows[0];
  if (!r) throw new UsageError(`unknown campaign ${id}: see "campaign list"`);
  return r.state;
}

/** `campaign start ID [--at ISO]`: now (running) or at a time (scheduled). */
export async function startCampaign(db: Db, id: string, at?: Date): Promise<{ id: string; state: string; start_at: string | null }> {
  const state = await stateOf(db, id);
  const future = at && at.getTime() > Date.now();
  const r = future ? await db.q('campaign_schedule', [id, at]) : await db.q('campaign_start', [id]);
  if (r.rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: only a draft or scheduled campaign can be started`);
  const row = r.rows[0];
  return { id, state: row.state, start_at: row.start_at ? row.start_at.toISOString() : null };
}

export async function pauseCampaign(db: Db, id: string, reason = 'paused by the operator'): Promise<void> {
  const state = await stateOf(db, id);
  if ((await db.q('campaign_pause', [id, reason])).rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: only a running or scheduled campaign can be paused`);
}

/** paused -> running (or scheduled again, when paused before its start time); returns the new state. */
export async function resumeCampaign(db: Db, id: string): Promise<string> {
  const state = await stateOf(db, id);
  const r = await db.q<{ state: string }>('campaign_resume', [id]);
  if (r.rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: only a paused campaign can be resumed`);
  return r.rows[0]!.state;
}

export async function cancelCampaign(db: Db, id: string): Promise<void> {
  const state = await stateOf(db, id);
  if ((await db.q('campaign_cancel', [id])).rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: it has already ended`);
}

export interface RetryOptions {
  /** Exactly these stored codes (see parseRetryCodes); null: every retryable cause. */
  codes: string[] | null;
  /** Also resend recipients whose last request has an unknown outcome. */
  ambiguous: boolean;
}

export interface RetryResult {
  id: string;
  requeued: number;
  state: string;
  /** How many were requeued per stored code (`ambiguous` for rows still waiting to settle). */
  byCode: Record<string, number>;
  /** Failures left as they are, per code: what `--codes` could still name. */
  left: Record<string, number>;
}

/** Campaigns whose failed rows can go back in the queue: a draft or scheduled one has sent nothing yet. */
const RETRY_STATES = new Set(['running', 'paused', 'completed']);

/**
 * `campaign retry ID [--codes …] [--ambiguous]`: put failed recipients back in the queue with a fresh
 * attempt budget, in one transaction that holds the campaign row: read its state, requeue the picked rows
 * in one statement, and reopen a completed campaign (or wake workers for a running one).
 * Which causes are retryable is decided by the classifier (src/send/retryable.ts), never by a list here.
 */
export async function retryCampaign(db: Db, id: string, opts: RetryOptions): Promise<RetryResult> {
  checkId(id);
  return db.tx(async (tx) => {
    const row = (await tx.q<{ state: string }>('campaign_lock', [id])).rows[0];
    if (!row) throw new UsageError(`unknown campaign ${id}: see "campaign list"`);
    if (row.state === 'cancelled') throw new UsageError(`campaign ${id} is cancelled: a cancelled campaign sends nothing more; create a new campaign to reach these recipients`);
    if (!RETRY_STATES.has(row.state)) throw new UsageError(`campaign ${id} is ${row.state}: nothing has been sent yet; "campaign start ${id}" sends it`);

    const causes = (await tx.q<FailedCause>('recipient_failed_causes', [id])).rows;
    const picked = pickCauses(causes, opts);
    const requeued = (await tx.q<{ code: string }>('recipient_requeue_failed', [
      id, picked.map((c) => c.code), picked.map((c) => c.http), opts.ambiguous,
    ])).rows;
    let state = row.state;
    if (requeued.length > 0) state = (await tx.q<{ state: string }>('campaign_retry_reopen', [id])).rows[0]!.state;

    const byCode: Record<string, number> = {};
    for (const r of requeued) byCode[r.code] = (byCode[r.code] ?? 0) + 1;
    const left: Record<string, number> = {};
    for (const c of causes) {
      if (picked.includes(c)) continue;
      const code = c.code ?? 'unknown';
      left[code] = (left[code] ?? 0) + c.n;
    }
    return { id, requeued: requeued.length, state, byCode, left };
  });
}
