import type { PgBoss } from 'pg-boss';
import type { QueueDef } from '../src/boss.ts';
import type { Db } from '../src/db/executor.ts';
import type { Logger } from '../src/log.ts';
import { reconcile } from '../src/reconcile/reconcile.ts';

/**
 * Apply stored callbacks to recipients, in batches. Asked for after each webhook and each send batch
 * (debounced), and every minute by a pg-boss schedule so it catches up after downtime. `stately` with one
 * key: at most one queued and one running, so bursts of webhooks fold into one run.
 */
export const RECONCILE: QueueDef = {
  name: 'reconcile',
  options: { policy: 'stately', retryLimit: 5, retryDelay: 1, expireInSeconds: 600, deleteAfterSeconds: 600 },
};

export function enqueueReconcile(boss: PgBoss): Promise<string | null> {
  return boss.send(RECONCILE.name, {}, { singletonKey: 'all' });
}

export async function registerReconcile(boss: PgBoss, db: Db, log: Logger): Promise<string> {
  await boss.schedule(RECONCILE.name, '* * * * *', {}, { singletonKey: 'all' });
  return boss.work(RECONCILE.name, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async () => {
    const applied = await reconcile(db);
    if (applied > 0) log.debug({ applied }, 'reconciled status events');
    return { applied };
  });
}
