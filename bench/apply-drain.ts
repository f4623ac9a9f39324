import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadQueries } from '../src/db/queries.ts';
import { pidCpuSeconds } from './lib.ts';
import { seedCampaign, withScratchDb } from './scratch.ts';

/**
 * `npm run bench:apply [-- --recipients 100000 --per-message 2 --sql FILE]`: what reconcile's apply step
 * (status_events_apply_batch, sql/queries/events.sql) costs on its own. A fresh database gets `recipients`
 * accepted recipients and `per-message` queued statuses for each (delivered, read, sent in that order of
 * choice), then one connection drains the queue in batches of 5,000 (RECONCILE_BATCH). Prints the wall
 * time and the CPU time of that connection's PostgreSQL backend (from /proc: a figure less moved by
 * whatever else the machine does than wall time). `--sql` takes a directory of named queries instead
 * of sql/queries, to time an older version of the statement on the same data, e.g.
 *   mkdir /tmp/old && git show HEAD~3:sql/queries/events.sql > /tmp/old/events.sql
 *   npm run bench:apply -- --sql /tmp/old
 */

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '100000' },
    'per-message': { type: 'string', default: '2' },
    sql: { type: 'string' },
  },
  strict: true,
});
const recipients = Number(values.recipients);
const perMessage = Number(values['per-message']);
if (!Number.isInteger(recipients) || recipients < 1 || ![1, 2, 3].includes(perMessage)) {
  process.stderr.write('usage: npm run bench:apply -- [--recipients N] [--per-message 1|2|3] [--sql DIR]\n');
  process.exit(2);
}
const BATCH = 5_000;
const STATUSES = ['delivered', 'read', 'sent'].slice(0, perMessage);
const apply = loadQueries(values.sql).get('status_events_apply_batch');
if (!apply) throw new Error(`no status_events_apply_batch in ${values.sql ?? 'sql/queries'}`);

await withScratchDb('apply-drain', async (c) => {
  await seedCampaign(c, { name: 'apply', rows: recipients, state: 'completed', status: 'accepted' });
  await c.query(`
    WITH ins AS (
      INSERT INTO status_events (received_at, provider, message_id, status, occurred_at, recipient_id, raw)
      SELECT now(), 'cloud', 'wamid.' || lpad(g::text, 12, '0'), s, now(), '6281234567890',
             json_build_object('id', 'wamid.' || lpad(g::text, 12, '0'), 'status', s, 'timestamp', '1750263773',
                               'conversation', json_build_object('id', 'c1', 'origin', json_build_object('type', 'marketing')))
      FROM generate_series(0, $1 - 1) g, unnest($2::text[]) WITH ORDINALITY AS u(s, o) ORDER BY g, o
      RETURNING id, message_id)
    INSERT INTO status_event_queue (event_id, message_id) SELECT id, message_id FROM ins`, [recipients, STATUSES]);
  await c.query('VACUUM ANALYZE recipients, status_events, status_event_queue');

  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const cpuMs = () => Math.round((pidCpuSeconds(pid) ?? Number.NaN) * 1000);
  const cpu0 = cpuMs();
  const t0 = performance.now();
  let applied = 0;
  let statements = 0;
  for (;;) {
    const n = (await c.query<{ applied: number }>(apply.text, [BATCH])).rows[0]!.applied;
    applied += n;
    statements++;
    if (n < BATCH) break;
  }
  const wall = performance.now() - t0;
  const cpu = cpuMs() - cpu0;
  process.stdout.write(`${JSON.stringify({
    sql: values.sql ?? 'sql/queries', recipients, per_message: perMessage, applied, statements,
    wall_ms: Math.round(wall), backend_cpu_ms: cpu, events_per_s: Math.round(applied / (wall / 1000)),
  })}\n`);
});
