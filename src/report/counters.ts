import type { Db } from '../db/executor.ts';
import { compactTimeline } from './timeline.ts';
import { foldDeltas } from './fold.ts';

/** Deltas folded per statement (one transaction each): small enough to hold few locks for little time. */
export const COMPACT_BATCH = 5_000;
/** Batches per call at most, so one maintenance tick stays short; what is left waits for the next tick. */
export const COMPACT_MAX_BATCHES = 20;

/**
 * Fold pending campaign_count_deltas into campaign_counts (0007_report_counters), oldest first, one
 * statement (so one transaction) per batch, until fewer than a batch remain or `maxBatches` ran. Any number
 * of callers may run it at once (each batch takes deltas no other holds; see report_counts_compact).
 * The report is exact with or without it; it keeps the deltas the report reads few. Then the same for the
 * report page's per-minute counters (0013_timeline, src/report/timeline.ts). Returns the report deltas
 * folded.
 */
export async function compactCounters(db: Db, opts: { batch?: number; maxBatches?: number } = {}): Promise<number> {
  const folded = await foldDeltas(db, 'report_counts_compact', opts.batch ?? COMPACT_BATCH, opts.maxBatches ?? COMPACT_MAX_BATCHES);
  await compactTimeline(db, opts);
  return folded;
}
