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
import { createLogger } from '../src/log.ts';

let t: TestDb;
let fake: FakeCloud;
before(async () => {
  t = await createTestDb('shutdown');
  fake = await startFakeCloud({ latencyMs: 40 });
});
after(async () => {
  await fake.close();
  await t.close();
});

const ROWS = 500;

function totalAccepted(): number {
  let n = 0;
  for (const v of fake.accepted.values()) n += v;
  return n;
}

test('SIGTERM mid-campaign: exit 0 within 30 s, then a new worker finishes with no number sent twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shutdown-'));
  const csv = join(dir, 'c.csv');
  const lines = ['phone,name'];
  for (let i = 0; i < ROWS; i++) lines.push(`+62812${String(30_000_000 + i)},N${i}`);
  writeFileSync(csv, lines.join('\n') + '\n');
  await addTemplate(t.db, { name: 'hello', language: 'en', category: 'utility', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false });
  const c = await createCampaign({ db: t.db, pool: t.pool, log: createLogger('warn', { pretty: false }) }, { name: 'sigterm', template: 'hello', language: 'en', csv, channel: 'default', params: { 'body.1': 'name' } });
  assert.equal(c.ingest.accepted, ROWS);
  await startCampaign(t.db, c.id);

  const env = {
    DATABASE_URL: t.url, WA_PROVIDER: 'cloud', WA_BASE_URL: fake.url, WA_PHONE_NUMBER_ID: '123', WA_ACCESS_TOKEN: 'tok',
    WA_RATE_LIMIT_RPS: '100',
  };
  const first = spawnCli(['worker', '--no-http'], env);
  await until('the first worker to send a third of the campaign', () => totalAccepted() >= ROWS / 3).catch((err) => {
    throw new Error(`${err.message}; worker stderr: ${first.stderr().slice(-3000)}`);
  });
  const t0 = Date.now();
  first.child.kill('SIGTERM');
  const code = await first.exited;
  const stopMs = Date.now() - t0;
  assert.equal(code, 0, `the worker exits 0 on SIGTERM; stderr: ${first.stderr().slice(-2000)}`);
  assert.ok(stopMs < 30_000, `stopped in ${stopMs} ms`);

  // Nothing is left claimed or in flight: every row is either queued or has its answer recorded.
  const inDoubt = (await t.db.raw(`SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND send_phase IN ('claimed', 'in_flight')`, [c.id])).rows[0].n;
  assert.equal(inDoubt, 0);
  const sentSoFar = totalAccepted();
  assert.ok(sentSoFar < ROWS, 'the worker stopped mid-campaign');
  const recorded = (await t.db.raw(`SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND message_id IS NOT NULL`, [c.id])).rows[0].n;
  assert.equal(recorded, sentSoFar, 'every request that reached the provider has its answer recorded');

  const second = spawnCli(['worker', '--no-http'], env);
  try {
    await until('the second worker to complete the campaign', async () => (await buildReport(t.db, c.id))!.state === 'completed', 60_000);
  } finally {
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  }
  assert.equal(fake.accepted.size, ROWS, 'every number was sent');
  const twice = [...fake.accepted].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no number was sent twice');
  const report = (await buildReport(t.db, c.id))!;
  assert.equal(report.status.accepted, ROWS);
  assert.equal(report.attempts.requests, ROWS);
});
