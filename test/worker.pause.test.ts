import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { until } from './helpers/wait.ts';
import { startFakeCloud, type FakeCloud } from './helpers/fake-cloud.ts';
import { runCli, spawnCli } from './helpers/cli.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign, startCampaign } from '../src/campaigns/service.ts';
import { buildReport } from '../src/report/report.ts';
import { createLogger } from '../src/log.ts';
import { maxInWindow } from './helpers/window.ts';

/**
 * `campaign pause ID` takes effect within a second in every worker: several worker processes send one
 * campaign at a steady rate; after the pause command returns, requests already in flight may finish but
 * nothing new reaches the provider later than 1 s after. `resume` carries on, and no number is sent twice.
 */

let t: TestDb;
let fake: FakeCloud;
before(async () => {
  t = await createTestDb('pause');
  fake = await startFakeCloud({ latencyMs: 40 });
});
after(async () => {
  await fake.close();
  await t.close();
});

const ROWS = 1200;
const WORKERS = 3;
const RPS = 150;
const PAUSE_WITHIN_MS = 1_000;

function totalAccepted(): number {
  let n = 0;
  for (const v of fake.accepted.values()) n += v;
  return n;
}

test(`pause stops every one of ${WORKERS} workers within ${PAUSE_WITHIN_MS} ms; resume finishes with no number sent twice`, async (tc) => {
  const dir = mkdtempSync(join(tmpdir(), 'pause-'));
  const csv = join(dir, 'c.csv');
  const lines = ['phone,name'];
  for (let i = 0; i < ROWS; i++) lines.push(`+62812${String(50_000_000 + i)},N${i}`);
  writeFileSync(csv, lines.join('\n') + '\n');
  await addTemplate(t.db, { name: 'hello', language: 'en', category: 'utility', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false });
  const c = await createCampaign({ db: t.db, pool: t.pool, log: createLogger('warn', { pretty: false }) }, { name: 'pause', template: 'hello', language: 'en', csv, channel: 'default', params: { 'body.1': 'name' } });
  assert.equal(c.ingest.accepted, ROWS);

  const env = {
    DATABASE_URL: t.url, WA_PROVIDER: 'cloud', WA_BASE_URL: fake.url, WA_PHONE_NUMBER_ID: '123', WA_ACCESS_TOKEN: 'tok',
    WA_RATE_LIMIT_RPS: String(RPS),
  };
  const workers = Array.from({ length: WORKERS }, () => spawnCli(['worker', '--no-http'], env));
  let codes: Array<number | null> = [];
  const stderr = () => workers.map((w, i) => `worker ${i + 1}: ${w.stderr().slice(-1500)}`).join('\n');
  try {
    await startCampaign(t.db, c.id);
    await until('the workers to send a fifth of the campaign', () => totalAccepted() >= ROWS / 5, 30_000).catch((err) => {
      throw new Error(`${(err as Error).message}; ${stderr()}`);
    });
    // Steady sending: requests are arriving right now.
    const recent = fake.arrivals.filter((a) => a > performance.now() - 500).length;
    assert.ok(recent > 0, 'requests were arriving when the pause was given');

    const pauseStarted = performance.now();
    const pause = await runCli(['pause', c.id], env);
    const pauseReturned = performance.now();
    assert.equal(pause.code, 0, pause.stderr);

    // Give any straggler time to show up, well past the 1 s allowance.
    await new Promise((r) => setTimeout(r, PAUSE_WITHIN_MS + 2_000));
    const late = fake.arrivals.filter((a) => a > pauseReturned + PAUSE_WITHIN_MS).map((a) => Math.round(a - pauseReturned));
    const duringCommand = fake.arrivals.filter((a) => a > pauseStarted && a <= pauseReturned).length;
    const afterReturn = fake.arrivals.filter((a) => a > pauseReturned).map((a) => Math.round(a - pauseReturned));
    tc.diagnostic(`pause command took ${Math.round(pauseReturned - pauseStarted)} ms; ${duringCommand} requests arrived meanwhile; after it returned, at ms ${JSON.stringify(afterReturn)}`);
    assert.deepEqual(late, [], `no request arrived more than ${PAUSE_WITHIN_MS} ms after the pause returned (ms after: ${JSON.stringify(late)})`);
    const sentWhilePaused = totalAccepted();
    assert.ok(sentWhilePaused < ROWS, 'the pause came mid-campaign');

    // The report and the list show the pause and its reason; nothing is left claimed or in flight.
    const rep = await runCli(['report', c.id, '--json'], env);
    assert.equal(rep.code, 0, rep.stderr);
    const report = JSON.parse(rep.stdout);
    assert.equal(report.state, 'paused');
    assert.equal(report.pause_reason, 'paused by the operator');
    const list = await runCli(['list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    const listed = (JSON.parse(list.stdout) as Array<{ id: string; state: string; pause_reason: string | null }>).find((x) => x.id === c.id);
    assert.equal(listed?.state, 'paused');
    assert.equal(listed?.pause_reason, 'paused by the operator');
    await until('the paused campaign to hold no claims', async () => (await buildReport(t.db, c.id))!.status.sending === 0, 10_000);
    assert.equal(totalAccepted(), sentWhilePaused, 'nothing was sent while paused');

    const resume = await runCli(['resume', c.id], env);
    assert.equal(resume.code, 0, resume.stderr);
    await until('the resumed campaign to complete', async () => (await buildReport(t.db, c.id))!.state === 'completed', 40_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}; report ${JSON.stringify(await buildReport(t.db, c.id))}; ${stderr()}`);
    });
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    codes = await Promise.all(workers.map((w) => w.exited));
  }
  assert.deepEqual(codes, workers.map(() => 0), `every worker exits 0 on SIGTERM; ${stderr()}`);

  const senders = (await t.db.raw(`SELECT worker, count(*)::int AS n FROM send_attempts WHERE campaign_id = $1 GROUP BY 1 ORDER BY 1`, [c.id])).rows;
  tc.diagnostic(`requests per worker: ${JSON.stringify(senders.map((r) => r.n))}`);
  const twice = [...fake.accepted].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no number was sent twice');
  assert.equal(fake.accepted.size, ROWS, 'every number was sent');
  const report = (await buildReport(t.db, c.id))!;
  assert.equal(report.status.accepted, ROWS);
  assert.equal(report.attempts.requests, ROWS);
  assert.equal(report.pause_reason, null);

  // The record proves the shared limit: every request's write time is stored with its outcome, and no
  // rolling second holds more than RPS of them across the three workers.
  const written = (await t.db.raw<{ ms: string | null; ok: boolean }>(`
    SELECT extract(epoch FROM written_at) * 1000 AS ms, written_at BETWEEN started_at AND finished_at AS ok
    FROM send_attempts WHERE campaign_id = $1 ORDER BY written_at`, [c.id])).rows;
  assert.equal(written.length, ROWS);
  assert.ok(written.every((w) => w.ms !== null && w.ok), 'each attempt was written after it was recorded and before its answer was');
  const most = maxInWindow(written.map((w) => Number(w.ms)), 1000);
  tc.diagnostic(`most writes in a rolling second: ${most} (limit ${RPS})`);
  assert.ok(most <= RPS, `${most} requests written within one rolling second (limit ${RPS})`);
});
