import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startFakeCloud, type FakeCloud } from './helpers/fake-cloud.ts';
import { runCli, spawnCli } from './helpers/cli.ts';
import { until } from './helpers/wait.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createLogger } from '../src/log.ts';
import { nextFiring } from '../src/schedules/cron.ts';
import { createRecurring, pauseSchedule, resumeSchedule, removeSchedule, listSchedules } from '../src/schedules/service.ts';
import { claimDueFirings, fireSchedule } from '../src/schedules/fire.ts';
import { UsageError } from '../src/errors.ts';

let t: TestDb;
let fake: FakeCloud;
const dir = mkdtempSync(join(tmpdir(), 'schedules-'));
const log = createLogger('warn', { pretty: false });

before(async () => {
  t = await createTestDb('schedules');
  fake = await startFakeCloud({ latencyMs: 5 });
  await addTemplate(t.db, { name: 'nightly', language: 'en', category: 'marketing', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false });
});
after(async () => {
  await fake.close();
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

function csv(name: string, numbers: number[]): string {
  const path = join(dir, name);
  writeFileSync(path, ['phone,1', ...numbers.map((n) => `+62812${String(60_000_000 + n)},P${n}`)].join('\n') + '\n');
  return path;
}

const input = (file: string, cron: string, overlap: 'skip' | 'queue' = 'skip') => ({
  name: `s-${Math.random().toString(36).slice(2, 7)}`, template: 'nightly', language: 'en', csv: file, channel: 'default', params: {}, cron, tz: 'UTC', overlap,
});

test('cron expressions: the time zone decides, bad expressions and zones are usage errors', () => {
  const from = new Date('2026-11-22T05:00:00Z');
  assert.equal(nextFiring('0 9 * * MON', 'Asia/Jakarta', from).toISOString(), '2026-11-23T02:00:00.000Z');
  assert.equal(nextFiring('0 9 * * MON', 'UTC', from).toISOString(), '2026-11-23T09:00:00.000Z');
  assert.equal(nextFiring('*/2 * * * * *', 'UTC', from).toISOString(), '2026-11-22T05:00:02.000Z', 'six fields: seconds first');
  for (const bad of ['0 25 * * *', '* * *', 'every day', '0 9 * * MON * extra']) assert.throws(() => nextFiring(bad, 'UTC', from), UsageError, bad);
  assert.throws(() => nextFiring('0 9 * * *', 'Mars/Olympus', from), UsageError);
});

test('a firing is claimed once however many scanners see it; the schedule moves on; after downtime it fires once for what it missed', async () => {
  const s = await createRecurring(t.db, input(csv('claim.csv', [1, 2]), '0 * * * *'), new Date('2026-11-21T01:10:00Z'));
  assert.equal(s.next_run_at, '2026-11-21T02:00:00.000Z');
  // The workers were away for hours: the due firing is claimed once, by one of five concurrent scanners.
  const claims = await Promise.all(Array.from({ length: 5 }, () => claimDueFirings(t.db)));
  const mine = claims.flat().filter((f) => f.scheduleId === s.id);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]!.fireAt.toISOString(), '2026-11-21T02:00:00.000Z');
  const after = (await listSchedules(t.db)).find((x) => x.id === s.id)!;
  assert.ok(new Date(after.next_run_at!) > new Date(), 'the next firing is in the future, not every missed hour');
  await removeSchedule(t.db, s.id);
});

test('each firing reads the file as it is then; a file that is gone fails that firing with the reason', async () => {
  const file = csv('reread.csv', [10, 11]);
  const s = await createRecurring(t.db, input(file, '* * * * *'));
  const fire = (iso: string) => fireSchedule({ db: t.db, pool: t.pool, log }, { scheduleId: s.id, fireAt: new Date(iso) }, log);
  const claim = (iso: string) => t.db.raw(`INSERT INTO schedule_firings (schedule_id, fire_at, outcome) VALUES ($1, $2, 'pending')`, [s.id, iso]);

  await claim('2026-11-22T06:00:00Z');
  const first = await fire('2026-11-22T06:00:00Z');
  assert.equal(first.outcome, 'created');
  const runId = (first as { runId: string }).runId;
  const run = (await t.db.raw('SELECT name, parent_id, fire_at, state::text FROM campaigns WHERE id = $1', [runId])).rows[0];
  assert.equal(run.parent_id, s.id);
  assert.equal(run.name, `${s.name} @ 2026-11-22T06:00:00.000Z`);
  assert.equal(run.state, 'running', 'started at once');
  // The same firing again (a retried job): the run is adopted, not made twice.
  await t.db.raw(`UPDATE schedule_firings SET outcome = 'pending', run_id = NULL WHERE schedule_id = $1`, [s.id]);
  assert.deepEqual(await fire('2026-11-22T06:00:00Z'), { outcome: 'created', runId });
  assert.equal((await t.db.raw('SELECT count(*)::int AS n FROM campaigns WHERE parent_id = $1', [s.id])).rows[0].n, 1);

  // The run ends; the nightly export changes; the next firing reads the new file.
  await t.db.raw(`UPDATE campaigns SET state = 'cancelled', cancelled_at = now() WHERE id = $1`, [runId]);
  csv('reread.csv', [20, 21, 22]);
  await claim('2026-11-22T06:01:00Z');
  const second = await fire('2026-11-22T06:01:00Z');
  assert.equal(second.outcome, 'created');
  const up = (await t.db.raw('SELECT ingest_chunks FROM campaigns WHERE id = $1', [(second as { runId: string }).runId])).rows[0];
  assert.ok(up.ingest_chunks >= 1, 'the file was stored for validation');
  await t.db.raw(`UPDATE campaigns SET state = 'cancelled', cancelled_at = now() WHERE parent_id = $1`, [s.id]);

  rmSync(file);
  await claim('2026-11-22T06:02:00Z');
  const third = await fire('2026-11-22T06:02:00Z');
  assert.equal(third.outcome, 'failed');
  assert.match((third as { detail: string }).detail, /reread\.csv/);
  await removeSchedule(t.db, s.id);
});

test('pause, resume and remove a schedule; a one-off campaign cannot be driven through them', async () => {
  const s = await createRecurring(t.db, input(csv('ctl.csv', [30]), '0 9 * * *'));
  await pauseSchedule(t.db, s.id);
  assert.equal((await listSchedules(t.db)).find((x) => x.id === s.id)!.state, 'paused');
  assert.equal((await claimDueFirings(t.db, new Date('2099-01-01T00:00:00Z'))).filter((f) => f.scheduleId === s.id).length, 0);
  const next = await resumeSchedule(t.db, s.id);
  assert.ok(new Date(next) > new Date());
  await removeSchedule(t.db, s.id);
  assert.equal((await listSchedules(t.db)).find((x) => x.id === s.id)!.state, 'cancelled');
  await assert.rejects(removeSchedule(t.db, s.id), UsageError);
});

test('two workers, a cron every 2 s, runs that take ~3 s: no firing makes two runs, runs never overlap, skips are recorded', async () => {
  const file = csv('fast.csv', [40, 41, 42, 43, 44, 45]);
  const env = {
    DATABASE_URL: t.url, WA_PROVIDER: 'cloud', WA_BASE_URL: fake.url, WA_PHONE_NUMBER_ID: '1', WA_ACCESS_TOKEN: 'tok', WA_RATE_LIMIT_RPS: '2',
  };
  const made = await runCli(['create', '--name', 'fast', '--template', 'nightly', '--language', 'en', '--csv', file, '--cron', '*/2 * * * * *', '--json'], env);
  assert.equal(made.code, 0, made.stderr);
  const id = JSON.parse(made.stdout).id as string;
  const workers = [spawnCli(['worker', '--no-http'], env), spawnCli(['worker', '--no-http'], env)];
  try {
    await until('two runs completed and a firing skipped', async () => {
      const r = (await t.db.raw(`SELECT count(*) FILTER (WHERE c.state = 'completed')::int AS done,
        (SELECT count(*) FROM schedule_firings f WHERE f.schedule_id = $1 AND f.outcome = 'skipped')::int AS skipped
        FROM campaigns c WHERE c.parent_id = $1`, [id])).rows[0];
      return r.done >= 2 && r.skipped >= 1;
    }, 45_000);
    const paused = await runCli(['schedule', 'pause', id], env);
    assert.equal(paused.code, 0, paused.stderr);
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }
  const runs = (await t.db.raw(`SELECT id, fire_at, started_at, completed_at, state::text FROM campaigns WHERE parent_id = $1 ORDER BY fire_at`, [id])).rows;
  const firings = (await t.db.raw(`SELECT fire_at, outcome, run_id, detail FROM schedule_firings WHERE schedule_id = $1 ORDER BY fire_at`, [id])).rows;
  // One run per created firing and no run without its firing.
  const created = firings.filter((f) => f.outcome === 'created');
  assert.equal(new Set(runs.map((r) => r.fire_at.toISOString())).size, runs.length, 'at most one run per firing');
  assert.deepEqual(created.map((f) => f.run_id).sort(), runs.filter((r) => created.some((f) => f.run_id === r.id)).map((r) => r.id).sort());
  assert.ok(runs.length <= created.length + firings.filter((f) => f.outcome === 'pending').length);
  // Never overlapping: each run started after the one before it had finished.
  const finished = runs.filter((r) => r.completed_at);
  for (let i = 1; i < runs.length; i++) {
    const prev = runs[i - 1]!;
    if (prev.completed_at) assert.ok(runs[i]!.started_at >= prev.completed_at, `run ${i} started before run ${i - 1} completed`);
  }
  assert.ok(finished.length >= 2);
  for (const f of firings.filter((x) => x.outcome === 'skipped')) assert.match(f.detail, /still (running|draft|scheduled|paused)/);
  // Every completed run sent each of the 6 numbers once.
  for (const r of finished) {
    const n = (await t.db.raw(`SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND status = 'accepted'`, [r.id])).rows[0].n;
    assert.equal(n, 6);
  }
  for (const [, count] of fake.accepted) assert.ok(count <= finished.length + 1, 'no number sent more than once per run');
});

test('overlap "queue": a firing waits for the previous run, one at most; the next one while it waits is skipped', async () => {
  const s = await createRecurring(t.db, input(csv('queue.csv', [50, 51]), '* * * * *', 'queue'));
  const at = ['2026-11-22T07:00:00Z', '2026-11-22T07:01:00Z', '2026-11-22T07:02:00Z'];
  for (const a of at) await t.db.raw(`INSERT INTO schedule_firings (schedule_id, fire_at, outcome) VALUES ($1, $2, 'pending')`, [s.id, a]);
  const fire = (iso: string) => fireSchedule({ db: t.db, pool: t.pool, log }, { scheduleId: s.id, fireAt: new Date(iso) }, log);
  const first = await fire(at[0]!);
  assert.equal(first.outcome, 'created');
  assert.equal((await fire(at[1]!)).outcome, 'queued');
  const third = await fire(at[2]!);
  assert.equal(third.outcome, 'skipped');
  assert.match((third as { detail: string }).detail, /already waiting/);
  assert.equal((await fire(at[1]!)).outcome, 'queued', 'still waiting while the first run goes on');
  await t.db.raw(`UPDATE campaigns SET state = 'cancelled', cancelled_at = now() WHERE id = $1`, [(first as { runId: string }).runId]);
  assert.equal((await fire(at[1]!)).outcome, 'created', 'the first run ended: the queued firing runs');
  await removeSchedule(t.db, s.id);
});

test('one-off: a campaign paused while it waits for its start time is scheduled again on resume, not sent at once', async () => {
  const { createCampaign, startCampaign, pauseCampaign, resumeCampaign } = await import('../src/campaigns/service.ts');
  const c = await createCampaign({ db: t.db, pool: t.pool, log }, { name: 'oneoff', template: 'nightly', language: 'en', csv: csv('oneoff.csv', [60]), channel: 'default', params: {} });
  const at = new Date(Date.now() + 3_600_000);
  assert.equal((await startCampaign(t.db, c.id, at)).state, 'scheduled');
  await pauseCampaign(t.db, c.id);
  assert.equal(await resumeCampaign(t.db, c.id), 'scheduled');
  const row = (await t.db.raw('SELECT start_at, started_at FROM campaigns WHERE id = $1', [c.id])).rows[0];
  assert.equal(row.start_at.getTime(), at.getTime());
  assert.equal(row.started_at, null);
  // Its time passed while paused: resume starts it.
  await pauseCampaign(t.db, c.id);
  await t.db.raw(`UPDATE campaigns SET start_at = now() - interval '1 minute' WHERE id = $1`, [c.id]);
  assert.equal(await resumeCampaign(t.db, c.id), 'running');
});
