import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { until } from './helpers/wait.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign, startCampaign } from '../src/campaigns/service.ts';
import { buildReport, STATUSES } from '../src/report/report.ts';
import { reconcile } from '../src/reconcile/reconcile.ts';
import { startWorker } from '../src/worker.ts';
import { DEMO_TEMPLATE, writeSampleCsv, prng } from '../src/demo/sample.ts';

let t: TestDb;
before(async () => { t = await createTestDb('pipeline'); });
after(() => t.close());

test('the thin path: CSV → ingest → send through the sandbox → signed webhooks → reconcile → report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-'));
  const csv = join(dir, 'contacts.csv');
  const sample = await writeSampleCsv(csv, 400, 42);
  await addTemplate(t.db, DEMO_TEMPLATE);
  const created = await createCampaign({ db: t.db, pool: t.pool, log: createLogger('warn', { pretty: false }) }, {
    name: 'pipeline', template: DEMO_TEMPLATE.name, language: 'en', csv, channel: 'default',
    params: { 'body.1': 'name', 'body.2': 'order_id' }, defaultCountry: 'ID',
  });
  assert.equal(created.ingest.rows, 400);
  assert.ok(created.ingest.invalid >= 1 && created.ingest.invalid <= sample.invalid, 'bad rows are caught');
  assert.ok(created.ingest.duplicate >= 1, 'duplicates are caught');
  await startCampaign(t.db, created.id);

  // A secret is set, so every sandbox webhook passes through the signature check.
  const config = loadConfig({ WA_RATE_LIMIT_RPS: '200', WA_APP_SECRET: 'test-secret', DATABASE_URL: t.url });
  const worker = await startWorker({
    config, db: t.db, pool: t.pool, databaseUrl: t.url, log: createLogger('warn', { pretty: false }), http: true, port: 0,
    sandbox: { rate408: 0.05, rateFailed: 0.05, delayMs: [5, 40], random: prng(7) },
  });
  try {
    await until('the campaign to complete and every webhook to be answered', async () => {
      const r = await buildReport(t.db, created.id);
      return r!.state === 'completed' && worker.sandbox!.pendingWebhooks() === 0;
    });
    await reconcile(t.db);
    const report = (await buildReport(t.db, created.id))!;
    const sandbox = worker.sandbox!;

    const sum = STATUSES.reduce((n, s) => n + report.status[s], 0);
    assert.equal(sum, report.ingest.accepted, 'the seven counts add up to the accepted recipients');
    assert.equal(report.ingest.accepted, created.ingest.accepted);
    // What the sandbox decided is what the report says.
    const decided = { delivered: 0, read: 0, failed: 0 };
    for (const m of sandbox.sentMessages()) decided[m.finalStatus]++;
    assert.equal(report.status.delivered, decided.delivered);
    assert.equal(report.status.read, decided.read);
    assert.equal(report.status.failed, decided.failed);
    assert.equal(report.status.queued + report.status.sending + report.status.accepted + report.status.sent, 0);
    assert.ok(decided.failed > 0 && report.failures.some((f) => f.code === '131026'), 'failed statuses carry their code');
    // Never twice: each number accepted once, and every request the sandbox saw is counted.
    assert.equal(sandbox.accepted.size, report.ingest.accepted);
    assert.ok([...sandbox.accepted.values()].every((n) => n === 1));
    assert.equal(report.attempts.requests, sandbox.requests);
    assert.ok(report.attempts.retries > 0, 'the sandbox answered some 408s, which were retried');
    assert.equal(report.attempts.requests, report.ingest.accepted + report.attempts.retries);
    // Each request's write time is stored with its outcome (the sandbox cannot tell the write apart, so it
    // is when the answer came).
    const unstamped = await t.db.raw<{ n: number }>(`SELECT count(*)::int AS n FROM send_attempts
      WHERE campaign_id = $1 AND (written_at IS NULL OR written_at NOT BETWEEN started_at AND finished_at)`, [created.id]);
    assert.equal(unstamped.rows[0]!.n, 0);
    assert.ok(report.rates.delivered > 0.8);
  } finally {
    await worker.stop();
  }
});
