import type { Db } from '../db/executor.ts';
import { foldDeltas } from './fold.ts';

export const TIMELINE_SERIES = ['requests', 'sent', 'delivered', 'read', 'failed'] as const;
export type TimelineSeries = (typeof TIMELINE_SERIES)[number];

/**
 * Per-minute counts of one campaign (0013_timeline): requests sent (send_attempts.started_at) and
 * statuses reached (the recipients' sent/delivered/read times, failed times of failed rows), one entry
 * per UTC minute from `from` on. At most 1,440 minutes (see campaign_timeline for which ones).
 */
export interface Timeline {
  /** The first minute, ISO 8601 UTC; null when the campaign has had no activity. */
  from: string | null;
  minutes: number;
  series: Record<TimelineSeries, number[]>;
}

/** Deltas folded per statement and batches per call, as the report's counters (src/report/counters.ts). */
export const TIMELINE_COMPACT_BATCH = 5_000;
export const TIMELINE_COMPACT_MAX_BATCHES = 20;

/** Whether a campaign in this state may still send: its chart then ends now and the page refreshes. */
export const isLive = (state: string): boolean => state === 'running' || state === 'scheduled' || state === 'paused';

/** The campaign's timeline; `live`: the window ends now (a campaign that may still send). */
export async function buildTimeline(db: Db, campaignId: string, live: boolean): Promise<Timeline> {
  const row = (await db.q('campaign_timeline', [campaignId, live])).rows[0];
  const series = Object.fromEntries(TIMELINE_SERIES.map((k) => [k, (row?.[k] ?? []) as number[]])) as Timeline['series'];
  return { from: row?.lo ? (row.lo as Date).toISOString() : null, minutes: series.requests.length, series };
}

/**
 * Fold pending minute deltas into campaign_minute_counts, `batch` per statement, until fewer than a batch
 * remain or `maxBatches` ran (called with the report's compaction on every maintenance tick). Returns the
 * deltas folded.
 */
export async function compactTimeline(db: Db, opts: { batch?: number; maxBatches?: number } = {}): Promise<number> {
  return foldDeltas(db, 'timeline_compact', opts.batch ?? TIMELINE_COMPACT_BATCH, opts.maxBatches ?? TIMELINE_COMPACT_MAX_BATCHES);
}
