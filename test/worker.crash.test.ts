import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { until } from './helpers/wait.ts';
import { startFakeCloud, type FakeCloud } from './helpers/fake-cloud.ts';
import { spawnCli } from './helpers/cli.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign, startCampaign } from '../src/campaigns/service.ts';
import { buildReport } from '../src/report/report.ts';
import { WORKER_DEAD_AFTER_S } from '../src/send/maintenance.ts';
import { createLogger } from '../src/log.ts';

/**
 * "Never twice", proved: a worker is SIGKILLed three times mid-campaign, with requests in flight at a
 * fake Cloud API that counts accepted sends per number. A crash leaves in doubt at most the requests in
 * flight at that moment; those become ambiguous and are not resent (CAMPAIGN_AMBIGUOUS_SETTLE_S=0 here,
 * so they fail with code `ambiguous` at once and the campaign can complete).
 */

let t: TestDb;
let fake: FakeCloud;
before(async () => {
  t = await createTestDb('crash');
  fake = await startFakeCloud({ latencyMs: 50 });
});
after(async () => {
  await fake.close();
  await t.close();
});

const ROWS = 1500;
const RPS = 300;
const KILLS = 3;
/** What sender.ts allows in flight at once per campaign run: max(4, min(256, rps)). */
const CONCURRENCY = Math.max(4, Math.min(256, RPS));

function totalAccepted(): number {
  let n = 0;
  for (const v of fake.accepted.values()) n += v;
  return n;
}

async function workerIdOf(pid: number): Promise<string | null> {
  const r = await t.db.raw(`SELECT id FROM workers WHERE id LIKE $1`, [`%:${pid}:%`]);
  return (r.rows[0]?.id as string | undefined) ?? null;
}

/** What the database says, for a failure message. */
async function diagnose(campaignId: string): Promise<string> {
  const rows = (await t.db.raw(`SELECT status, send_phase, claimed_by, count(*)::int AS n FROM recipients WHERE campaign_id = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, [campaignId])).rows;
  const jobs = (await t.db.raw(`SELECT name, state, count(*)::int AS n, min(started_on) AS since FROM pgboss.job GROUP BY 1, 2 ORDER BY 1, 2`).catch(() => ({ rows: [] }))).rows;
  const workers = (await t.db.raw(`SELECT id, heartbeat_at FROM workers ORDER BY heartbeat_at`)).rows;
  return `accepted by the fake ${totalAccepted()}; rows ${JSON.stringify(rows)}; pg-boss jobs ${JSON.stringify(jobs)}; workers ${JSON.stringify(workers)}`;
}

async function phaseCount(campaignId: string, workerId: string, phase: string): Promise<number> {
  const r = await t.db.raw(`SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND claimed_by = $2 AND send_phase = $3`, [campaignId, workerId, phase]);
  return r.rows[0].n as number;
}

test(`SIGKILL a worker ${KILLS} times mid-campaign: no number accepted twice, only the requests in flight at the kills end in doubt`, async (tc) => {
  const dir = mkdtempSync(join(tmpdir(), 'crash-'));
  const csv = join(dir, 'c.csv');
  const lines = ['phone,name'];
  for (let i = 0; i < ROWS; i++) lines.push(`+62812${String(40_000_000 + i)},N${i}`);
  writeFileSync(csv, lines.join('\n') + '\n');
  await addTemplate(t.db, { name: 'hello', language: 'en', category: 'utility', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false });
  const c = await createCampaign({ db: t.db, pool: t.pool, log: createLogger('warn', { pretty: false }) }, { name: 'sigkill', template: 'hello', language: 'en', csv, channel: 'default', params: { 'body.1': 'name' } });
  assert.equal(c.ingest.accepted, ROWS);
  await startCampaign(t.db, c.id);

  const env = {
    DATABASE_URL: t.url, WA_PROVIDER: 'cloud', WA_BASE_URL: fake.url, WA_PHONE_NUMBER_ID: '123', WA_ACCESS_TOKEN: 'tok',
    WA_RATE_LIMIT_RPS: String(RPS), CAMPAIGN_AMBIGUOUS_SETTLE_S: '0',
  };

  const kills: Array<{ worker: string; inFlight: number; claimed: number; atProvider: number; acceptedBefore: number }> = [];
  for (let k = 0; k < KILLS; k++) {
    const w = spawnCli(['worker', '--no-http'], env);
    const pid = w.child.pid!;
    let id: string | null = null;
    // Kill once this worker has sent its share and has requests in flight right now. From the second worker
    // on, this also requires that a fresh worker takes the campaign over soon after the previous one died.
    const target = Math.round(((k + 1) * ROWS) / (KILLS + 2));
    await until(`worker ${k + 1} to send up to ${target} with requests in flight`, async () => {
      if (w.child.exitCode !== null) throw new Error(`worker ${k + 1} exited ${w.child.exitCode}: ${w.stderr().slice(-3000)}`);
      id ??= await workerIdOf(pid);
      return id !== null && totalAccepted() >= target && fake.pending() > 0 && (await phaseCount(c.id, id, 'in_flight')) > 0;
    }, 15_000, 10).catch(async (err) => {
      w.child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}; kills so far ${JSON.stringify(kills)}; ${await diagnose(c.id)}; worker stderr: ${w.stderr().slice(-3000)}`);
    });
    w.child.kill('SIGKILL');
    const atProvider = fake.pending();
    await w.exited;
    // A statement the worker sent just before it died still runs, and commits, on its server backend (an
    // autocommit statement notices the lost client only when it answers): wait for the database's other
    // sessions to go idle, or an accepted answer could still turn a row counted here as in flight.
    await until('the dead worker\'s last statements to finish', async () => (await t.db.raw(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
         AND backend_type = 'client backend' AND state <> 'idle'`)).rows[0].n === 0, 10_000, 5);
    // The dead worker's rows are frozen now: exactly these are in doubt (in flight) or to be given back (claimed).
    const inFlight = await phaseCount(c.id, id!, 'in_flight');
    const claimed = await phaseCount(c.id, id!, 'claimed');
    kills.push({ worker: id!, inFlight, claimed, atProvider, acceptedBefore: totalAccepted() });
    // The rescuer takes a worker for dead once its heartbeat is WORKER_DEAD_AFTER_S old. There is no knob for
    // that yet, so rather than sleep 30 s per kill, the dead worker's last beat is moved into the past: the
    // state the workers table would be in 30 s later.
    await t.db.raw(`UPDATE workers SET heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, WORKER_DEAD_AFTER_S + 1]);
  }
  tc.diagnostic(`at the kills: ${JSON.stringify(kills.map(({ inFlight, claimed, atProvider, acceptedBefore }) => ({ inFlight, claimed, atProvider, acceptedBefore })))}`);
  const sentAtKills = totalAccepted();
  assert.ok(sentAtKills < ROWS, `the kills happened mid-campaign (${sentAtKills} of ${ROWS} accepted by then)`);

  const last = spawnCli(['worker', '--no-http'], env);
  try {
    await until('a fresh worker to complete the campaign', async () => {
      if (last.child.exitCode !== null) throw new Error(`final worker exited ${last.child.exitCode}: ${last.stderr().slice(-3000)}`);
      return (await buildReport(t.db, c.id))!.state === 'completed';
    }, 40_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}; kills ${JSON.stringify(kills)}; ${await diagnose(c.id)}; final worker stderr: ${last.stderr().slice(-2000)}`);
    });
  } finally {
    last.child.kill('SIGTERM');
    await last.exited;
  }

  // 1. No number was accepted more than once by the provider.
  const twice = [...fake.accepted].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no number was accepted twice');

  // 2. Every accepted recipient reached a final state; the states add up to the accepted rows.
  const report = (await buildReport(t.db, c.id))!;
  assert.equal(report.status.queued, 0);
  assert.equal(report.status.sending, 0);
  const sum = Object.values(report.status).reduce((a, b) => a + b, 0);
  assert.equal(sum, ROWS, `the states add up to the accepted rows: ${JSON.stringify(report.status)}`);

  // 3. What is in doubt is exactly what the dead workers had in flight, bounded by concurrency × kills.
  const inDoubt = kills.reduce((a, k) => a + k.inFlight, 0);
  assert.ok(inDoubt > 0, `some requests were in flight at the kills: ${JSON.stringify(kills)}`);
  assert.ok(inDoubt <= CONCURRENCY * KILLS, `in doubt ${inDoubt} <= ${CONCURRENCY} × ${KILLS}`);
  const rows = (await t.db.raw(
    `SELECT r.line, r.phone_e164, r.status, r.error_code, r.message_id, (SELECT count(*)::int FROM send_attempts a WHERE a.campaign_id = r.campaign_id AND a.line = r.line) AS attempts
     FROM recipients r WHERE r.campaign_id = $1 AND r.outcome = 'accepted'`, [c.id])).rows as Array<{ line: number; phone_e164: string; status: string; error_code: string | null; message_id: string | null; attempts: number }>;
  const ambiguous = rows.filter((r) => r.error_code === 'ambiguous');
  assert.equal(ambiguous.length, inDoubt, `the rows in doubt are those in flight at the kills (${JSON.stringify(kills)})`);
  assert.equal(report.ambiguous, inDoubt);
  assert.ok(ambiguous.every((r) => r.status === 'failed' && r.message_id === null), 'in-doubt rows settled as failed (ambiguous), with no message id');
  assert.deepEqual(ambiguous.filter((r) => r.attempts !== 1).map((r) => r.line), [], 'no row in doubt was resent');

  // 4. Every other row was sent exactly once, and its answer recorded.
  const digits = (p: string) => p.replace(/\D/g, '');
  const others = rows.filter((r) => r.error_code !== 'ambiguous');
  assert.deepEqual(others.filter((r) => r.message_id === null || r.attempts !== 1 || fake.accepted.get(digits(r.phone_e164)) !== 1).map((r) => r.line), [],
    'every row not in doubt was accepted by the provider once, in one attempt, with its message id recorded');
  const ambiguousAtProvider = ambiguous.filter((r) => fake.accepted.has(digits(r.phone_e164))).length;
  assert.equal(totalAccepted(), others.length + ambiguousAtProvider, 'the provider accepted nothing the rows do not account for');
  assert.equal(report.attempts.requests, ROWS, 'one request per row');
});
