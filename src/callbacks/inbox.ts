import type { Db } from '../db/executor.ts';
import type { ParsedWebhook, StatusEvent } from './types.ts';
import { encodeStatuses, joinEncoded, storeEncoded, type EncodedStatuses } from './store.ts';

interface Waiting {
  statuses: EncodedStatuses;
  inbound: ParsedWebhook['inbound'];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Flushes bigger than this are cut in two (bounded statement size). Under B5's 50 connections a flush
 * carries 7–8 webhooks (counted per 250 ms in the worker).
 */
const MAX_EVENTS_PER_FLUSH = 5_000;
/**
 * Flushes written side by side. One at a time left both the server and PostgreSQL half idle when a flush
 * wrote a row per status (B5, 10 statuses per POST: worker 0.94 s and PostgreSQL 0.97 s of CPU in 1.69 s),
 * hence three. With one inbox row per flush PostgreSQL's part is small, and fewer, bigger flushes pay
 * (B5 at 10 per POST, 20k messages, runs alternated: PostgreSQL CPU per POST 45–55 µs with 1, 58–100
 * with 2, 85–128 with 3; median p99 45, 50 and 56 ms over 9, 7 and 5 runs). Two, not one: a flush held
 * up (a slow commit, a connection being replaced) does not hold up every webhook behind it.
 */
const PARALLEL_FLUSHES = 2;
/**
 * A flush starts beside a running one only for this many waiting requests; fewer wait for the running
 * flush, which takes them all when it is done. Starting one for every arrival gave 886 of 2,200 flushes
 * that carried a single request (a commit each) under B5; PostgreSQL CPU per POST at 10 per POST 48–80 µs
 * with 8, 63–80 µs without (three runs each, alternated; p99 the same within the noise).
 */
export const MIN_SIDE_FLUSH = 8;

/**
 * The webhook inbox with group commit. Every request must be durable before its 200, but one
 * transaction (one fsync) per request caps throughput at the disk's fsync rate. So requests that arrive
 * while a flush is being written wait together and go in the next one: one transaction, one status_inbox
 * row (src/callbacks/store.ts) for all of them, then every one of them gets its answer. Under light load
 * a flush holds one request and costs what a direct write costs; under 50 concurrent connections 7–8.
 *
 * If a combined flush fails, each of its requests is retried on its own, so one bad request cannot make
 * the others fail (they would be redelivered, but needlessly).
 */
export class Inbox {
  private readonly db: Db;
  private queue: Waiting[] = [];
  private flushing = 0;
  /** Flushes written and requests they carried (for metrics and the benchmark). */
  readonly stats = { flushes: 0, requests: 0 };

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Resolves once the events are committed. The statuses are encoded at once: a request waiting for its
   * flush holds one string, not its parsed webhook (fewer live objects for each young-generation GC).
   */
  store(statuses: StatusEvent[], inbound: ParsedWebhook['inbound'] = []): Promise<void> {
    if (statuses.length === 0 && inbound.length === 0) return Promise.resolve();
    const encoded = encodeStatuses(statuses);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ statuses: encoded, inbound, resolve, reject });
      if (this.flushing < PARALLEL_FLUSHES && this.worthFlushing(this.flushing)) void this.drain();
    });
  }

  /**
   * Whether the waiting requests are worth a flush beside `others` running ones: with none, any; beside
   * another, only MIN_SIDE_FLUSH or more (the running flush takes fewer when it is done).
   */
  private worthFlushing(others: number): boolean {
    return this.queue.length > 0 && (others === 0 || this.queue.length >= MIN_SIDE_FLUSH);
  }

  private async drain(): Promise<void> {
    this.flushing++;
    try {
      while (this.worthFlushing(this.flushing - 1)) {
        let events = 0;
        let n = 0;
        while (n < this.queue.length && (n === 0 || events + this.queue[n]!.statuses.count <= MAX_EVENTS_PER_FLUSH)) {
          events += this.queue[n]!.statuses.count;
          n++;
        }
        const batch = this.queue.splice(0, n);
        await this.flush(batch);
      }
    } finally {
      this.flushing--;
    }
  }

  private async flush(batch: Waiting[]): Promise<void> {
    try {
      await storeEncoded(this.db, joinEncoded(batch.map((w) => w.statuses)), batch.flatMap((w) => w.inbound));
      this.stats.flushes++;
      this.stats.requests += batch.length;
      for (const w of batch) w.resolve();
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      for (const w of batch) {
        await storeEncoded(this.db, w.statuses, w.inbound).then(w.resolve, w.reject);
      }
    }
  }
}
