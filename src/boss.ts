import { PgBoss, type Queue } from 'pg-boss';
import type { Logger } from './log.ts';

/** pg-boss lives in its own schema of the same database. */
export const BOSS_SCHEMA = 'pgboss';

export interface QueueDef {
  name: string;
  options: Omit<Queue, 'name'>;
}

export async function startBoss(databaseUrl: string, log: Logger, queues: QueueDef[]): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: BOSS_SCHEMA,
    max: 4,
    application_name: 'campaign-boss',
    // We schedule our own chores every second (maintenance); pg-boss's cron is minute-grained.
    superviseIntervalSeconds: 30,
  });
  // Without a listener an 'error' event would crash the process; pg-boss recovers by itself.
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'));
  await boss.start();
  for (const q of queues) {
    await boss.createQueue(q.name, q.options);
  }
  return boss;
}
