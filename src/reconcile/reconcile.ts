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
 * (status_inbox_expand). Returns how many statuses were moved. If PostgreSQL refuses a batch for its
 * data (which the encoding should make impossible), its rows are expanded one by one and a row that is
 * refused alone keeps its error and is skipped from then on: one bad row cannot stop reconciliation.
 */
export async function expandInbox(db: Db, batch = EXPAND_BATCH, log?: Logger): Promise<number> {
  let total = 0;
  for (;;) {
    let r: { rows: number; events: number };
    try {
      r = (await db.q<{ rows: number; events: number }>('status_inbox_expand', [batch, null])).rows[0]!;
    } catch (err) {
      if (!isDataError(err)) throw err;
      r = await expandOneByOne(db, batch, log);
    }
    total += r.events;
    if (r.rows < batch) return total;
  }
}

async function expandOneByOne(db: Db, batch: number, log?: Logger): Promise<{ rows: number; events: number }> {
  const ids = (await db.q<{ id: number }>('status_inbox_pending', [batch])).rows.map((x) => x.id);
  let events = 0;
  for (const id of ids) {
    try {
      events += (await db.q<{ events: number }>('status_inbox_expand', [1, id])).rows[0]!.events;
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

/**
 * Apply stored status events to recipients until none that can be applied is left, the inbox first
 * (expandInbox). Returns how many were applied. Safe to run in several workers at once (SKIP LOCKED) and
 * again after downtime: it simply drains what is queued. Events whose message id is not recorded yet stay queued for a later run. Each
 * batch and its follow-ups (re-send, opt-out, pause) commit together, so a crash repeats neither.
 */
export async function reconcile(db: Db, batch = RECONCILE_BATCH, log?: Logger): Promise<number> {
  await expandInbox(db, EXPAND_BATCH, log);
  let total = 0;
  for (;;) {
    const applied = await db.tx(async (tx) => {
      const r = (await tx.q<{ applied: number; updated: Updated[] }>('status_events_apply_batch', [batch])).rows[0]!;
      await followUps(tx, r.updated);
      return r.applied;
    });
    total += applied;
    if (applied < batch) return total;
  }
}

async function followUps(tx: Db, updated: Updated[]): Promise<void> {
  const resend: Updated[] = [];
  const suppress: string[] = [];
  const pause = new Set<string>();
  for (const u of updated) {
    if (u.status !== 'failed') continue;
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
