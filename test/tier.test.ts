import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startFakeCloud, type FakeCloud } from './helpers/fake-cloud.ts';
import { createLogger } from '../src/log.ts';
import { loadConfig, tierLimit } from '../src/config.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign, startCampaign } from '../src/campaigns/service.ts';
import { createCloudClient } from '../src/providers/cloud.ts';
import { RateLimiter } from '../src/send/limiter.ts';
import { Breaker } from '../src/send/breaker.ts';
import { sendCampaign, type SendContext } from '../src/send/sender.ts';
import { reserveTier, tierStatus, tierWarning } from '../src/send/tier.ts';
import { UsageError } from '../src/errors.ts';

let t: TestDb;
let fake: FakeCloud;
const log = createLogger('warn', { pretty: false });
before(async () => {
  t = await createTestDb('tier');
  fake = await startFakeCloud();
  await addTemplate(t.db, { name: 'tier', language: 'en', category: 'marketing', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false });
});
after(async () => {
  await fake.close();
  await t.close();
});

test('WA_MESSAGING_TIER: the five tiers, unlimited by default, anything else exits 2 naming the variable', () => {
  assert.equal(tierLimit(loadConfig({}).channels[0]!), null);
  assert.equal(tierLimit(loadConfig({ WA_MESSAGING_TIER: '2000' }).channels[0]!), 2000);
  assert.equal(tierLimit(loadConfig({ WA_MESSAGING_TIER: 'unlimited' }).channels[0]!), null);
  assert.throws(() => loadConfig({ WA_MESSAGING_TIER: '500' }), (e: unknown) => e instanceof UsageError && /WA_MESSAGING_TIER/.test(e.message));
});

test('the budget counts unique people per rolling 24 h; a person already counted costs nothing; two workers cannot take the last unit', async () => {
  const ch = 'tier-unit';
  assert.equal(await reserveTier(t.db, ch, '+6281200000001', 2), null);
  assert.equal(await reserveTier(t.db, ch, '+6281200000001', 2), null, 'the same person again: free');
  assert.equal(await reserveTier(t.db, ch, '+6281200000002', 2), null);
  const until = await reserveTier(t.db, ch, '+6281200000003', 2);
  assert.ok(until instanceof Date && until.getTime() > Date.now() + 23.9 * 3600_000, 'used up: frees 24 h after the oldest');
  assert.deepEqual({ ...(await tierStatus(t.db, ch, 2)), frees_at: null }, { limit: 2, used: 2, remaining: 0, frees_at: null });

  // The last unit, asked for by ten workers at once: exactly one gets it.
  const race = 'tier-race';
  const got = await Promise.all(Array.from({ length: 10 }, (_, i) => reserveTier(t.db, race, `+62812000001${String(i).padStart(2, '0')}`, 1)));
  assert.equal(got.filter((g) => g === null).length, 1);
});

test('sending stops at the budget with the rest queued, and carries on once it frees up', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tier-'));
  const csv = join(dir, 'c.csv');
  writeFileSync(csv, ['phone,1', ...Array.from({ length: 5 }, (_, i) => `+62812${String(70_000_000 + i)},P${i}`)].join('\n') + '\n');
  const c = await createCampaign({ db: t.db, pool: t.pool, log }, { name: 'tiered', template: 'tier', language: 'en', csv, channel: 'default', params: {} });
  const channel = 'tier-send';
  const warning = await tierWarning(t.db, c.id, channel, 3);
  assert.match(warning!, /needs 5 more people .* tier \(3\) has 3 left/);
  assert.equal(await tierWarning(t.db, c.id, channel, 10), null);
  await startCampaign(t.db, c.id);
  const ctx: SendContext = {
    db: t.db, workerId: 'tier-test', log, stopping: new AbortController().signal, settleS: 60,
    channel: () => ({ client: createCloudClient({ baseUrl: fake.url, phoneNumberId: '1', accessToken: 't' }), limiter: new RateLimiter(100), breaker: new Breaker(), name: channel, tier: 3 }),
  };
  const first = await sendCampaign(ctx, c.id, 5_000);
  assert.equal(first.state, 'more');
  assert.ok(first.nextAt!.getTime() > Date.now() + 23 * 3600_000, 'waits for the budget, a day away');
  const count = async () => Object.fromEntries((await t.db.raw(`SELECT status::text, count(*)::int AS n FROM recipients WHERE campaign_id = $1 GROUP BY 1`, [c.id])).rows.map((r) => [r.status, r.n]));
  assert.deepEqual(await count(), { accepted: 3, queued: 2 });
  assert.equal((await t.db.raw(`SELECT state::text FROM campaigns WHERE id = $1`, [c.id])).rows[0].state, 'running');

  // A day later the first openings leave the window.
  await t.db.raw(`UPDATE tier_contacts SET opened_at = opened_at - interval '24 hours 1 minute' WHERE channel = $1`, [channel]);
  const second = await sendCampaign(ctx, c.id, 5_000);
  assert.equal(second.state, 'done');
  assert.deepEqual(await count(), { accepted: 5 });
});

test('the report shows the channel\'s tier budget when the process knows it', async () => {
  const { buildReport } = await import('../src/report/report.ts');
  const { renderReportTable } = await import('../src/report/table.ts');
  const c = (await t.db.raw(`SELECT id, channel FROM campaigns WHERE name = 'tiered'`)).rows[0];
  await t.db.raw(`INSERT INTO tier_contacts (channel, phone_e164, opened_at) VALUES ($1, '+6281299990001', now()), ($1, '+6281299990002', now())`, [c.channel]);
  const without = await buildReport(t.db, c.id);
  assert.equal(without!.tier, undefined, 'no tier field when the tier is not known');
  const r = (await buildReport(t.db, c.id, { tierOf: () => 2 }))!;
  assert.equal(r.tier!.limit, 2);
  assert.ok(r.tier!.used >= 2);
  assert.equal(r.tier!.remaining, 0);
  assert.ok(r.tier!.frees_at, 'used up: says when it frees');
  assert.match(renderReportTable(r), /messaging tier 2: \d+ people in the last 24 h, 0 left; used up, sending waits until/);
});
