import type { Db } from '../db/executor.ts';

/**
 * Run a delta-folding query (report_counts_compact, timeline_compact: each folds up to $1 deltas in one
 * statement, so one transaction, and answers `deltas`) until fewer than a batch remain or `maxBatches`
 * ran. Returns the deltas folded.
 */
export async function foldDeltas(db: Db, query: string, batch: number, maxBatches: number): Promise<number> {
  let folded = 0;
  for (let i = 0; i < maxBatches; i++) {
    const r = (await db.q<{ deltas: number }>(query, [batch])).rows[0]!;
    folded += r.deltas;
    if (r.deltas < batch) break;
  }
  return folded;
}
