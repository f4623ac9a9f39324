import { randomUUID } from 'node:crypto';

/**
 * A channel's rate window shared by every worker: a sliding log of departures kept by one clock (the
 * store's), so "never more than `rps` in any rolling second" holds across processes and machines.
 *
 * Why not a library (measured with 3 processes at 50 rps, bench/limiter-compare.ts, figures in
 * BENCHMARKS.md): Bottleneck's Redis cluster mode spaces *scheduled* starts like its local mode and lets
 * bursts through; rate-limiter-flexible (Redis and PostgreSQL stores) counts per fixed window, so two
 * windows' worth meet across an edge. Both fail "any rolling 1,000 ms"; this log does not, by
 * construction: a grant is counted from the moment it is handed out until 1 s after its request left.
 *
 * Both stores also keep one schedule per channel (migration 0019; GCRA): a grant is due every 1000/rps
 * ms and may come at most two of those early. The log alone let several workers, each pacing only
 * itself, fill every second's window at once and then wait (B3, 3 workers at 50/s: 50 in ~440 ms, then
 * ~565 ms of nothing); with the schedule they send as evenly as one worker (longest gap 36–72 ms), at
 * the same rate.
 */
export interface WindowStore {
  readonly kind: 'redis' | 'postgres';
  /** 0: granted (and counted, pending); else ms to wait before asking again. */
  acquire(channel: string, rps: number, id: string): Promise<number>;
  /** Stamp the grant with the store's clock; called once the request has been written. */
  depart(channel: string, id: string): Promise<void>;
  /** The request never left: give the slot back. */
  cancel(channel: string, id: string): Promise<void>;
  /** Slow the channel down for everyone: no grant before now + ms. */
  block(channel: string, ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long a departure holds its slot. The guarantee is exact at 1,000 ms because a departure is stamped
 * only after the request was written (a grant counts as pending from the moment it is handed out until
 * then): for any rps+1 writes within one second, the last of them to be granted would have found the other
 * rps counted. 5 ms more absorbs what happens after the write — the provider's side reads requests a few
 * ms apart under load — and costs 0.5 % of the rate (the target is ≥ 99 %).
 */
export const WINDOW_MS = 1_005;

/**
 * A grant is handed out up to LEAD_MS before its slot frees, and its request may be written only LEAD_MS
 * after the grant (Grant.ready): the sender records the attempt (a database commit, a few ms) inside that
 * lead instead of after the slot freed, so back-to-back slots are W apart, not W + the commit. Exactness
 * is kept by counting against a window LEAD_MS shorter at grant time: whatever departed in the last
 * W − LEAD before the grant is still within W of any write ≥ LEAD after it. Measured: without the lead,
 * B3 reached 0.989 of the limit (period 1,005 ms + the commit).
 */
export const LEAD_MS = 25;
/** The window the stores and the ring check at grant time (see LEAD_MS). */
export const GRANT_WINDOW_MS = WINDOW_MS - LEAD_MS;
/** A pending grant whose worker never departed nor cancelled (it crashed) stops counting after this. */
export const PENDING_STALE_MS = 10_000;

export const newGrantId = (): string => randomUUID();
