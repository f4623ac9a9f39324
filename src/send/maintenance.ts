import type { Db } from '../db/executor.ts';
import { compactCounters } from '../report/counters.ts';

/** A worker that has not beaten for this long is taken for dead, and its claims are rescued. */
export const WORKER_DEAD_AFTER_S = 30;
export const HEARTBEAT_EVERY_MS = 5_000;

export interface MaintenanceResult {
  started: string[];
  requeued: number;
  ambiguous: number;
  settled: number;
  /** Report counter deltas folded into the counters (src/report/counters.ts). */
  compacted: number;
}

/**
 * The periodic chores that keep the pipeline moving whatever crashed: start scheduled campaigns whose
 * time has come; give back rows a dead worker claimed but never sent; mark rows whose request left from
 * a dead worker as ambiguous (never resent blindly); fail ambiguous rows whose settle window passed; fold
 * the report's counter deltas into its counters.
 */
export async function runMaintenance(db: Db, settleS: number): Promise<MaintenanceResult> {
  const started = (await db.q<{ id: string }>('campaign_start_due')).rows.map((r) => r.id);
  const requeued = (await db.q('recipient_rescue_claims', [WORKER_DEAD_AFTER_S])).rowCount ?? 0;
  const ambiguous = (await db.q('recipient_rescue_in_flight', [WORKER_DEAD_AFTER_S, settleS])).rowCount ?? 0;
  const settled = (await db.q('recipient_settle_ambiguous')).rowCount ?? 0;
  await db.q('worker_prune', [WORKER_DEAD_AFTER_S * 10]);
  // Last: it includes the deltas of the statements above.
  const compacted = await compactCounters(db);
  return { started, requeued, ambiguous, settled, compacted };
}
