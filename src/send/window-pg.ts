import type { Db } from '../db/executor.ts';
import { GRANT_WINDOW_MS, PENDING_STALE_MS, type WindowStore } from './window.ts';

/**
 * The shared window in PostgreSQL (no REDIS_URL): the same sliding log as the Redis store, kept in the
 * unlogged table `rate_window` by the function `rate_window_acquire` (migration 0005), serialised per
 * channel by an advisory lock and timed by the database server's clock.
 */
export class PgWindowStore implements WindowStore {
  readonly kind = 'postgres' as const;
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async acquire(channel: string, rps: number, id: string): Promise<number> {
    const r = await this.db.q<{ wait_ms: number }>('rate_window_acquire', [channel, rps, id, GRANT_WINDOW_MS, PENDING_STALE_MS]);
    return r.rows[0]!.wait_ms;
  }

  async depart(channel: string, id: string): Promise<void> {
    await this.db.q('rate_window_depart', [channel, id]);
  }

  async cancel(channel: string, id: string): Promise<void> {
    await this.db.q('rate_window_cancel', [channel, id]);
  }

  async block(channel: string, ms: number): Promise<void> {
    await this.db.q('rate_block_extend', [channel, ms]);
  }

  async close(): Promise<void> {}
}
