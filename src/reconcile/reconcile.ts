import type { Db } from '../db/executor.ts';

/** Events applied per statement: one round trip reconciles thousands of callbacks. */
export const RECONCILE_BATCH = 5_000;

/**
 * Apply stored status events to recipients until none that can be applied is left. Returns how many were
 * applied. Safe to run in several workers at once (SKIP LOCKED) and again after downtime: it simply
 * drains what is queued. Events whose message id is not recorded yet stay queued for a later run.
 */
export async function reconcile(db: Db, batch = RECONCILE_BATCH): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await db.q<{ campaign_id: string; applied: number }>('status_events_apply_batch', [batch]);
    const applied = r.rows[0]?.applied ?? 0;
    total += applied;
    if (applied < batch) return total;
  }
}
