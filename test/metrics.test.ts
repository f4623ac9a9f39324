/**
 * GET /metrics end to end: the real HTTP server on 127.0.0.1 against a test database, the Prometheus text
 * parsed family by family. The gauges read from the database match the rows (recipients by state from the
 * report's counters, whether compacted or not), the counters move when things happen here (webhooks,
 * ingest, sends, the rate limiter), and a database that does not answer leaves a scrape that still works.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createHttpServer, listen } from '../src/http/server.ts';
import { createPool, poolDb } from '../src/db/executor.ts';
import { metrics, Metrics } from '../src/metrics.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign } from '../src/campaigns/service.ts';
import { compactCounters } from '../src/report/counters.ts';
import { startBoss } from '../src/boss.ts';
import { RateLimiter } from '../src/send/limiter.ts';

const log = pino({ level: 'silent' });
let t: TestDb;
let server: http.Server;
let base: string;
const dir = mkdtempSync(join(tmpdir(), 'metrics-test-'));

before(async () => {
  t = await createTestDb('metrics');
  // The process's own metrics (the default): what the ingest and the webhook receiver count into.
  server = createHttpServer({ db: t.db, log });
  base = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  await addTemplate(t.db, { name: 'mt', language: 'en', category: 'utility', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false });
});
after(async () => {
  await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------ the text format

interface Sample { labels: Record<string, string>; value: number }
interface Family { type: string; help: string; samples: Sample[] }

/** Prometheus text format 0.0.4: HELP and TYPE lines, then `name{label="value",…} value` samples. */
function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type: '', help: '', samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') family(m[2]!).type = m[3]!;
      else family(m[2]!).help = m[3]!;
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    // A histogram's or summary's _bucket/_sum/_count samples belong to the family without the suffix.
    const name = m[1]!;
    const base = families.has(name) ? name : name.replace(/_(bucket|sum|count|created)$/, '');
    family(families.has(base) ? base : name).samples.push({ labels, value: Number(m[3]) });
  }
  return families;
}

async function scrape(url = base): Promise<{ type: string; families: Map<string, Family> }> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  return { type: res.headers.get('content-type') ?? '', families: parseMetrics(await res.text()) };
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  assert.ok(f, `no family ${name}`);
  const s = f.samples.filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s.reduce((a, x) => a + x.value, 0);
}

// ---------------------------------------------------------------------------------------- tests

test('families and types; recipients and campaigns by state match the database, compacted or not', async () => {
  // A campaign through the real ingest (5 rows: 3 accepted, 1 invalid, 1 duplicate), then rows in every state.
  const before = await scrape();
  const csv = join(dir, 'a.csv');
  writeFileSync(csv, 'phone,1\n+6281211110001,a\n+6281211110002,b\nnot-a-number,c\n+6281211110001,d\n+6281211110003,e\n');
  const c = await createCampaign({ db: t.db, pool: t.pool, log }, { name: 'm', template: 'mt', language: 'en', csv, channel: 'default', params: {} });
  const camp = (await t.db.raw(`INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, ingest_state, state, started_at)
    SELECT 'm2', id, 'default', 'phone', '{}', 'done', 'running', now() FROM templates WHERE name = 'mt' RETURNING id`)).rows[0].id;
  await t.db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, send_phase, claimed_by, message_id, error_code)
    SELECT $1, i, 'p', '+1555' || i, '["x"]', 'accepted', s::recipient_status,
           CASE WHEN s = 'sending' THEN 'in_flight'::send_phase END, CASE WHEN s = 'sending' THEN 'w' END,
           CASE WHEN s IN ('accepted', 'sent', 'delivered', 'read') THEN 'wamid.m' || i END, CASE WHEN s = 'failed' THEN '131026' END
    FROM generate_series(1, 70) i, LATERAL (SELECT (ARRAY['queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed'])[1 + i % 7] AS s) x`, [camp]);

  const exact = async () => Object.fromEntries((await t.db.raw<{ status: string; n: number }>(
    `SELECT status::text, count(*)::int AS n FROM recipients WHERE outcome = 'accepted' GROUP BY status`)).rows.map((r) => [r.status, r.n]));
  const want = await exact();
  assert.equal(want.queued, 13, '3 ingested and 10 inserted');

  for (const phase of ['pending deltas', 'compacted']) {
    if (phase === 'compacted') await compactCounters(t.db, { maxBatches: 1_000 });
    const { type, families } = await scrape();
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    for (const s of ['queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed']) {
      assert.equal(value(families, 'campaign_recipients', { state: s }), want[s] ?? 0, `${phase}: recipients ${s}`);
    }
    assert.equal(families.get('campaign_recipients')!.type, 'gauge');
    assert.equal(value(families, 'campaign_campaigns', { state: 'draft' }), 1);
    assert.equal(value(families, 'campaign_campaigns', { state: 'running' }), 1);
    assert.equal(value(families, 'campaign_campaigns', { state: 'completed' }), 0);
    assert.equal(value(families, 'campaign_database_up'), 1);
  }

  // The ingest counted its rows by outcome (this process validated them).
  const { families } = await scrape();
  const ingested = (o: string) => value(families, 'campaign_ingest_rows_total', { outcome: o }) - value(before.families, 'campaign_ingest_rows_total', { outcome: o });
  assert.deepEqual({ accepted: ingested('accepted'), invalid: ingested('invalid'), duplicate: ingested('duplicate'), suppressed: ingested('suppressed') },
    { accepted: 3, invalid: 1, duplicate: 1, suppressed: 0 });
  assert.ok(c.id);

  // Our names are prefixed, with their types; the default process metrics are there too.
  const types: Record<string, string> = {
    campaign_sends_total: 'counter', campaign_callbacks_received_total: 'counter', campaign_ingest_rows_total: 'counter',
    campaign_rate_limiter_wait_seconds_total: 'counter', campaign_recipients: 'gauge', campaign_campaigns: 'gauge',
    campaign_status_event_queue_depth: 'gauge', campaign_database_up: 'gauge',
  };
  for (const [name, type] of Object.entries(types)) {
    const f = families.get(name);
    assert.ok(f, `family ${name}`);
    assert.equal(f.type, type, name);
    assert.ok(f.help.length > 10, `${name} has help`);
  }
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_total_bytes']) {
    assert.ok(families.has(name), `default metric ${name}`);
  }
});

test('callbacks received by provider and status; the status-event queue depth', async () => {
  const before = (await scrape()).families;
  const cb = (provider: string, status: string, f: Map<string, Family>) =>
    value(f, 'campaign_callbacks_received_total', { provider, status }) - value(before, 'campaign_callbacks_received_total', { provider, status });
  const statuses = [['wamid.cb1', 'sent'], ['wamid.cb2', 'delivered'], ['wamid.cb3', 'delivered']].map(([id, s]) => ({ id, status: s, timestamp: '1750263773', recipient_id: '6281234567890' }));
  const res = await fetch(`${base}/webhooks/whatsapp`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: 'W', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', statuses } }] }] }),
  });
  assert.equal(res.status, 200);
  assert.equal((await fetch(`${base}/callbacks/verihubs?session_id=vh-1&status=3`)).status, 200);
  // A refused webhook counts nothing.
  assert.equal((await fetch(`${base}/webhooks/whatsapp`, { method: 'POST', body: '{not json' })).status, 400);

  const after = (await scrape()).families;
  assert.equal(cb('cloud', 'sent', after), 1);
  assert.equal(cb('cloud', 'delivered', after), 2);
  const verihubs = value(after, 'campaign_callbacks_received_total', { provider: 'verihubs' }) - value(before, 'campaign_callbacks_received_total', { provider: 'verihubs' });
  assert.equal(verihubs, 1);
  // Stored, not applied: in the webhook inbox, one row per flush (nothing reconciles them here).
  const queued = (await t.db.raw<{ n: number }>('SELECT coalesce(sum(events), 0)::int AS n FROM status_inbox')).rows[0]!.n;
  assert.equal(queued, 4, 'nothing reconciles them here');
  assert.equal(value(after, 'campaign_status_event_queue_depth'), queued);
});

test('sends by channel and outcome, and the rate limiter\'s waiting time per channel', async () => {
  const before = (await scrape()).families;
  metrics.sendOutcome('default', 'accepted');
  metrics.sendOutcome('default', 'accepted');
  metrics.sendOutcome('second', 'retry');
  const limiter = new RateLimiter(5);
  const stop = metrics.watchLimiters(() => [{ channel: 'default', limiter }, { channel: 'slow', limiter: { waitedTotalMs: 1500 } }]);
  try {
    // The sixth request of a 5/s channel waits for the first one's second to pass.
    for (let i = 0; i < 6; i++) (await limiter.acquire()).depart();
    const after = (await scrape()).families;
    const sends = (channel: string, outcome: string) =>
      value(after, 'campaign_sends_total', { channel, outcome }) - value(before, 'campaign_sends_total', { channel, outcome });
    assert.equal(sends('default', 'accepted'), 2);
    assert.equal(sends('second', 'retry'), 1);
    assert.equal(value(after, 'campaign_rate_limiter_wait_seconds_total', { channel: 'slow' }), 1.5);
    const waited = value(after, 'campaign_rate_limiter_wait_seconds_total', { channel: 'default' });
    assert.ok(waited > 0.5 && waited === limiter.waitedTotalMs / 1000, `waited ${waited} s`);
  } finally {
    stop();
    await limiter.stop();
  }
  assert.equal((await scrape()).families.get('campaign_rate_limiter_wait_seconds_total')?.samples.length ?? 0, 0, 'a stopped worker\'s limiters are no longer reported');
});

test('pg-boss queues: queued and active jobs per queue, as pg-boss counted them', async () => {
  const { families: without } = await scrape();
  assert.equal(without.get('campaign_jobs'), undefined, 'no pg-boss schema yet: no family, and the scrape still works');
  const boss = await startBoss(t.url, log, [{ name: 'metrics-test', options: { policy: 'standard' } }]);
  await boss.stop({ graceful: false, close: true });
  await t.db.raw(`UPDATE pgboss.queue SET queued_count = 4, active_count = 1 WHERE name = 'metrics-test'`);
  const { families } = await scrape();
  assert.equal(families.get('campaign_jobs')?.type, 'gauge');
  assert.equal(value(families, 'campaign_jobs', { queue: 'metrics-test', state: 'queued' }), 4);
  assert.equal(value(families, 'campaign_jobs', { queue: 'metrics-test', state: 'active' }), 1);
});

test('a database that does not answer: the process metrics are still served, campaign_database_up is 0', async () => {
  const deadPool = createPool('postgres://postgres@127.0.0.1:1/none', { max: 1 });
  const dead = createHttpServer({ db: poolDb(deadPool), log, metrics: new Metrics() });
  const url = `http://127.0.0.1:${await listen(dead, 0, '127.0.0.1')}`;
  try {
    const { families } = await scrape(url);
    assert.equal(value(families, 'campaign_database_up'), 0);
    assert.equal(families.get('campaign_recipients'), undefined);
    assert.ok(families.has('process_cpu_user_seconds_total'));
    assert.ok(families.has('campaign_sends_total'));
  } finally {
    await new Promise<void>((r) => { dead.close(() => r()); dead.closeAllConnections(); });
    await deadPool.end().catch(() => {});
  }
});
