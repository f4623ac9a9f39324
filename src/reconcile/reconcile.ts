import type { Db } from '../db/executor.ts';
import type { Logger } from '../log.ts';
import { MAX_ATTEMPTS } from '../send/record.ts';
import { followUpFor, PAUSE_REASON_TIER } from './follow-up.ts';

/** Events applied per statement: one round trip reconciles thousands of callbacks. */
export const RECONCILE_BATCH = 5_000;
/**
 * Inbox rows expanded per statement. A row holds one flush of webhooks: 7–8 under B5's load (70–80
 * statuses at ten per webhook), at most MAX_EVENTS_PER_FLUSH (src/callbacks/inbox.ts).
 */
export const EXPAND_BATCH = 100;

interface Updated {
  campaign_id: string;
  line: number;
  phone_e164: string;
  status: string;
  error_code: string | null;
}

/**
 * Move every status waiting in the webhook inbox into status_events and the reconcile queue, in batches
 * (status_inbox_expand). Returns how many statuses were moved.
 */
export async function expandInbox(db: Db, batch = EXPAND_BATCH, log?: Logger): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await expandStep(db, batch, null, log);
    total += r.events;
    if (r.rows < batch) return total;
  }
}

/**
 * One statement's worth of expansion: up to `batch` inbox rows. If PostgreSQL refuses the batch for its
 * data (which the encoding should make impossible), its rows are expanded one by one and a row that is
 * refused alone keeps its error and is skipped from then on: one bad row cannot stop reconciliation.
 */
async function expandStep(db: Db, batch: number, upTo: string | null, log?: Logger): Promise<{ rows: number; events: number }> {
  try {
    return (await db.q<{ rows: number; events: number }>('status_inbox_expand', [batch, null, upTo])).rows[0]!;
  } catch (err) {
    if (!isDataError(err)) throw err;
    return expandOneByOne(db, batch, upTo, log);
  }
}

async function expandOneByOne(db: Db, batch: number, upTo: string | null, log?: Logger): Promise<{ rows: number; events: number }> {
  const ids = (await db.q<{ id: string }>('status_inbox_pending', [batch, upTo])).rows.map((x) => x.id);
  let events = 0;
  for (const id of ids) {
    try {
      events += (await db.q<{ events: number }>('status_inbox_expand', [1, id, null])).rows[0]!.events;
    } catch (err) {
      if (!isDataError(err)) throw err;
      const message = (err as Error).message;
      await db.q('status_inbox_refuse', [id, message]);
      log?.error({ inboxRow: id, err: message }, 'a stored webhook flush could not be expanded; it is kept in status_inbox with its error');
    }
  }
  return { rows: ids.length, events };
}

/** PostgreSQL refused the values themselves: SQLSTATE class 22 (data exception) or 23 (constraint). */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

export interface ReconcileOptions {
  /** Events applied per statement (RECONCILE_BATCH). */
  batch?: number;
  /** Inbox rows expanded per statement (EXPAND_BATCH). */
  expandBatch?: number;
  log?: Logger;
}

/**
 * Apply stored status events to recipients until none that can be applied is left. Returns how many were
 * applied. The inbox is expanded up to the row that was newest when the run started, a batch's worth
 * of statuses at a time, each followed by an apply batch: under a steady stream of webhooks, expanding
 * "until the inbox is empty" never ended, and nothing was applied until the stream stopped (B5, 20,000
 * POSTs of ten statuses: all 200,000 still queued at the last 200). Rows stored later are the next
 * run's: every stored webhook asks for one (jobs/reconcile.ts). Safe to run in several workers at once
 * (SKIP LOCKED) and again after downtime: it simply drains what is queued. Events whose message id is
 * not recorded yet stay queued for a later run. Each apply batch and its follow-ups (re-send, opt-out,
 * pause) commit together, so a crash repeats neither.
 */
export async function reconcile(db: Db, opts: ReconcileOptions = {}): Promise<number> {
  const { batch = RECONCILE_BATCH, expandBatch = EXPAND_BATCH, log } = opts;
  const upTo = (await db.q<{ id: string | null }>('status_inbox_last_id')).rows[0]!.id;
  let expanding = upTo !== null;
  let total = 0;
  for (;;) {
    // Enough statuses for a full apply batch first: small batches cost nearly as much as full ones.
    for (let moved = 0; expanding && moved < batch;) {
      const r = await expandStep(db, expandBatch, upTo, log);
      moved += r.events;
      expanding = r.rows === expandBatch;
    }
    const applied = await applyBatch(db, batch);
    total += applied;
    if (!expanding && applied < batch) return total;
  }
}

function applyBatch(db: Db, batch: number): Promise<number> {
  return db.tx(async (tx) => {
    const r = (await tx.q<{ applied: number; updated: Updated[] }>('status_events_apply_batch', [batch])).rows[0]!;
    await followUps(tx, r.updated);
    return r.applied;
  });
}

/** `failed`: the recipients the batch left failed (status_events_apply_batch returns only those). */
async function followUps(tx: Db, failed: Updated[]): Promise<void> {
  const resend: Updated[] = [];
  const suppress: string[] = [];
  const pause = new Set<string>();
  for (const u of failed) {
    const f = followUpFor(u.error_code);
    if (f === 'resend') resend.push(u);
    else if (f === 'suppress') suppress.push(u.phone_e164);
    else if (f === 'pause') {
      resend.push(u);
      pause.add(u.campaign_id);
    }
  }
  if (suppress.length > 0) await tx.q('suppression_add_many', [suppress, 'opted out (failed status)', 'status callback']);
  if (resend.length > 0) {
    const back = (await tx.q<{ campaign_id: string }>('recipient_resend_after_callback', [resend.map((u) => u.campaign_id), resend.map((u) => u.line), MAX_ATTEMPTS])).rows;
    // A campaign that had completed has work again: reopen it (and wake the workers); one that must
    // pause is reopened first, so that the pause below applies to it too.
    for (const id of new Set(back.map((b) => b.campaign_id))) await tx.q('campaign_retry_reopen', [id]);
  }
  for (const id of pause) await tx.q('campaign_pause', [id, PAUSE_REASON_TIER]);
}
