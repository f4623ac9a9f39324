import type { PgBoss } from 'pg-boss';
import type { QueueDef } from '../src/boss.ts';
import type { Db } from '../src/db/executor.ts';
import type { Logger } from '../src/log.ts';
import { reconcile } from '../src/reconcile/reconcile.ts';

/**
 * Apply stored callbacks to recipients, in batches. Asked for after each webhook and each send batch
 * (debounced), and every minute by a pg-boss schedule so it catches up after downtime. `short` with one
 * key: at most one queued, so bursts of webhooks fold into one run; not `stately`, so that a run left
 * active by a killed worker does not hold up the next until it expires (runs take disjoint batches, FOR
 * UPDATE SKIP LOCKED). Renamed from `reconcile`: a queue's policy cannot change once created.
 */
export const RECONCILE: QueueDef = {
  name: 'reconcile-v2',
  options: { policy: 'short', retryLimit: 5, retryDelay: 1, expireInSeconds: 600, deleteAfterSeconds: 600 },
};

export function enqueueReconcile(boss: PgBoss): Promise<string | null> {
  return boss.send(RECONCILE.name, {}, { singletonKey: 'all' });
}

export async function registerReconcile(boss: PgBoss, db: Db, log: Logger): Promise<string> {
  await boss.schedule(RECONCILE.name, '* * * * *', {}, { singletonKey: 'all' });
  return boss.work(RECONCILE.name, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async () => {
    const applied = await reconcile(db, { log });
    if (applied > 0) log.debug({ applied }, 'reconciled status events');
    return { applied };
  });
}
