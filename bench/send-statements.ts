import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadQueries } from '../src/db/queries.ts';
import { pidCpuSeconds } from './lib.ts';
import { seedCampaign, withScratchDb } from './scratch.ts';

/**
 * `npm run bench:send-sql [-- --recipients 100000 --batch 50 --sql DIR]`: what the sender's statements
 * cost PostgreSQL per message, on their own (B4 runs them beside an HTTP load, which moves its figures).
 * A fresh database gets a running campaign of `recipients` queued rows; one connection then does what a
 * worker does for each: claim 500 (recipient_claim_batch), record the attempts `batch` at a time
 * (attempt_start_many, the group commit) and their accepted answers likewise
 * (attempt_finish_accepted_many). Prints, per statement, wall time and the backend's CPU time per
 * message (from /proc, 10 ms ticks: exact over the run, not per call), over the whole campaign and over
 * its first and last tenth: a statement whose cost grows as the campaign goes on reads more than its own
 * rows. `--history N` first gives the database an older campaign of N sent messages (N attempts), as a
 * database that has run campaigns before has; autovacuum re-analyzes a table only once a tenth of it
 * changed, so the new campaign's statistics then stay unknown for longer. `--sql` takes another directory of named queries, to time an older version on the same data:
 *   mkdir /tmp/old && git show HEAD~1:sql/queries/attempts.sql > /tmp/old/attempts.sql
 *   cp sql/queries/recipients.sql /tmp/old/ && npm run bench:send-sql -- --sql /tmp/old
 */

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '50' },
    history: { type: 'string', default: '0' },
    sql: { type: 'string' },
  },
  strict: true,
});
const recipients = Number(values.recipients);
const batch = Number(values.batch);
const history = Number(values.history);
if (!Number.isInteger(recipients) || recipients < 1000 || !Number.isInteger(batch) || batch < 1 || batch > 500
  || !Number.isInteger(history) || history < 0) {
  process.stderr.write('usage: npm run bench:send-sql -- [--recipients N ≥ 1000] [--batch 1..500] [--history N] [--sql DIR]\n');
  process.exit(2);
}
const CLAIM = 500;
const queries = loadQueries(values.sql);
/** The statement as the worker's Db.q runs it: by name (prepared once per connection) when marked so. */
const statement = (name: string, params: unknown[]): pg.QueryConfig => {
  const q = queries.get(name);
  if (!q) throw new Error(`no ${name} in ${values.sql ?? 'sql/queries'}`);
  return q.prepared ? { name, text: q.text, values: params } : { text: q.text, values: params };
};
const STATEMENTS = ['recipient_claim_batch', 'attempt_start_many', 'attempt_finish_accepted_many'] as const;
type Statement = (typeof STATEMENTS)[number];

await withScratchDb('send-statements', async (c) => {
  if (history > 0) {
    const old = await seedCampaign(c, { name: 'history', rows: history, state: 'completed', status: 'accepted' });
    await c.query(`INSERT INTO send_attempts (campaign_id, line, attempt, worker, started_at, finished_at, result, http_status, message_id, written_at)
      SELECT campaign_id, line, 1, 'bench-worker', accepted_at, accepted_at, 'accepted', 200, message_id, accepted_at
      FROM recipients WHERE campaign_id = $1`, [old]);
  }
  const campaign = await seedCampaign(c, { name: 'send', rows: recipients, state: 'running', status: 'queued' });
  // Statistics that know the table but not this campaign: what a new campaign meets in production.
  await c.query('VACUUM ANALYZE send_attempts');
  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const cpu = () => pidCpuSeconds(pid) ?? Number.NaN;
  // Per statement: [whole run, first tenth, last tenth] of wall and CPU seconds.
  const spent = Object.fromEntries(STATEMENTS.map((s) => [s, { wall: [0, 0, 0], cpu: [0, 0, 0] }])) as Record<Statement, { wall: number[]; cpu: number[] }>;
  let sent = 0;
  const run = async (s: Statement, params: unknown[]): Promise<pg.QueryResult> => {
    const phase = sent < recipients / 10 ? 1 : sent >= recipients * 0.9 ? 2 : 0;
    const c0 = cpu();
    const t0 = performance.now();
    const r = await c.query(statement(s, params));
    const wall = (performance.now() - t0) / 1000;
    const used = cpu() - c0;
    spent[s].wall[0]! += wall;
    spent[s].cpu[0]! += used;
    if (phase) {
      spent[s].wall[phase]! += wall;
      spent[s].cpu[phase]! += used;
    }
    return r;
  };
  const t0 = performance.now();
  for (;;) {
    const claimed = (await run('recipient_claim_batch', [campaign, 'bench-worker', CLAIM])).rows as Array<{ line: number }>;
    if (claimed.length === 0) break;
    for (let i = 0; i < claimed.length; i += batch) {
      const lines = claimed.slice(i, i + batch).map((r) => r.line);
      const started = (await run('attempt_start_many', [campaign, lines, 'bench-worker'])).rows as Array<{ line: number; attempt: number }>;
      const at = performance.timeOrigin + performance.now();
      await run('attempt_finish_accepted_many', [
        campaign, started.map((r) => r.line), started.map((r) => r.attempt), started.map((r) => `wamid.b${r.line}`),
        started.map(() => 200), started.map(() => at),
      ]);
      sent += started.length;
    }
  }
  const accepted = Number((await c.query(`SELECT count(*) AS n FROM recipients WHERE campaign_id = $1 AND status = 'accepted'`, [campaign])).rows[0].n);
  if (accepted !== recipients) throw new Error(`${accepted} of ${recipients} recipients accepted`);
  const perMessage = (x: number, n: number) => Math.round((x / n) * 1e7) / 10; // µs, one decimal
  const tenth = recipients / 10;
  process.stdout.write(`${JSON.stringify({
    sql: values.sql ?? 'sql/queries', recipients, batch, history, wall_s: Math.round(performance.now() - t0) / 1000,
    per_message_us: Object.fromEntries(STATEMENTS.map((s) => [s, {
      wall: perMessage(spent[s].wall[0]!, recipients), backend_cpu: perMessage(spent[s].cpu[0]!, recipients),
      first_tenth_wall: perMessage(spent[s].wall[1]!, tenth), last_tenth_wall: perMessage(spent[s].wall[2]!, tenth),
    }])),
  })}\n`);
});
