import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { startRecordingServer, json, type RecordingServer } from './helpers/fake-provider.ts';
import { createLogger } from '../src/log.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign, startCampaign } from '../src/campaigns/service.ts';
import { createCloudClient } from '../src/providers/cloud.ts';
import { RateLimiter } from '../src/send/limiter.ts';
import { Breaker } from '../src/send/breaker.ts';
import { sendCampaign, type SendChannel, type SendContext } from '../src/send/sender.ts';
import { MAX_ATTEMPTS } from '../src/send/record.ts';

// The sender against a provider that goes down (503s: the breaker) or says "too fast" (130429: the
// slow-down). The fake is a real HTTP server on 127.0.0.1; the database is real.

let t: TestDb;
let fake: RecordingServer;
const log = createLogger('warn', { pretty: false });
const dir = mkdtempSync(join(tmpdir(), 'resilience-'));

before(async () => {
  t = await createTestDb('resilience');
  fake = await startRecordingServer();
  await addTemplate(t.db, { name: 'r', language: 'en', category: 'marketing', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false });
});
after(async () => {
  await fake.close();
  await t.close();
});

let campaignNo = 0;
async function campaign(n: number): Promise<string> {
  const csv = join(dir, `c${++campaignNo}.csv`);
  const rows = Array.from({ length: n }, (_, i) => `+62812${String(3_000_000 + campaignNo * 1000 + i).padStart(7, '0')},P${i}`);
  writeFileSync(csv, ['phone,1', ...rows].join('\n') + '\n');
  const c = await createCampaign({ db: t.db, pool: t.pool, log }, { name: `r${campaignNo}`, template: 'r', language: 'en', csv, channel: 'default', params: {} });
  assert.equal(c.ingest.accepted, n);
  await startCampaign(t.db, c.id);
  return c.id;
}

function context(channel: SendChannel): SendContext {
  return { db: t.db, workerId: 'resilience-test', log, channel: () => channel, stopping: new AbortController().signal, settleS: 60 };
}

const accepted = (res: Parameters<typeof json>[0]) => json(res, 200, { messaging_product: 'whatsapp', messages: [{ id: `wamid.${Math.random().toString(36).slice(2)}` }] });

/** Run send jobs back to back until the campaign completes (or the deadline passes). */
async function sendUntilDone(ctx: SendContext, id: string, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const r = await sendCampaign(ctx, id, 2_000);
    if (r.state === 'done') return;
    if (r.nextAt) await new Promise((res) => setTimeout(res, Math.max(0, Math.min(500, r.nextAt!.getTime() - Date.now()))));
  }
  assert.fail('the campaign did not complete in time');
}

test('a provider outage opens the breaker: about one probe a second, nothing fails for good, all sent once it is back', async () => {
  const id = await campaign(30);
  let down = true;
  fake.answer((_s, res) => (down ? json(res, 503, { error: { code: 1, message: 'service unavailable' } }) : accepted(res)));
  const breaker = new Breaker(5, 1000);
  const ctx = context({ client: createCloudClient({ baseUrl: fake.url, phoneNumberId: '1', accessToken: 't' }), limiter: new RateLimiter(100), breaker, name: 'default' });
  const start = fake.requests.length;
  // 5 s of outage: every row would have used up its 5 attempts by then without the breaker.
  const outage = sendUntilDone(ctx, id, 60_000);
  await new Promise((r) => setTimeout(r, 5_000));
  const duringOutage = fake.requests.length - start;
  down = false;
  assert.equal(breaker.isOpen, true);
  // The 5 that opened it, plus requests already admitted when it opened, plus ~1 probe a second.
  await outage;
  assert.ok(duringOutage <= 5 + 10 + 7, `${duringOutage} requests in 5 s of outage`);
  const rows = (await t.db.raw(`SELECT status::text, count(*)::int AS n FROM recipients WHERE campaign_id = $1 GROUP BY 1`, [id])).rows;
  assert.deepEqual(rows, [{ status: 'accepted', n: 30 }], 'nothing failed for good');
  const most = (await t.db.raw(`SELECT max(attempts - attempt_base)::int AS m FROM recipients WHERE campaign_id = $1`, [id])).rows[0].m;
  assert.ok(most <= MAX_ATTEMPTS, `budget used: ${most}`);
  assert.equal(breaker.isOpen, false, 'a good answer closed it');
});

test('130429 slows the channel down: the next request waits about a second, then sending carries on', async () => {
  const id = await campaign(12);
  let first = true;
  fake.answer((_s, res) => {
    if (first) {
      first = false;
      return json(res, 429, { error: { code: 130429, message: 'Rate limit hit' } });
    }
    accepted(res);
  });
  const limiter = new RateLimiter(50);
  const ctx = context({ client: createCloudClient({ baseUrl: fake.url, phoneNumberId: '1', accessToken: 't' }), limiter, breaker: new Breaker(), name: 'default' });
  const start = fake.requests.length;
  const t0 = performance.now();
  const stamps: number[] = [];
  const n0 = fake.requests.length;
  const watch = setInterval(() => { while (stamps.length < fake.requests.length - n0) stamps.push(performance.now() - t0); }, 2);
  try {
    await sendUntilDone(ctx, id, 30_000);
  } finally {
    clearInterval(watch);
  }
  const sent = fake.requests.length - start;
  assert.equal(sent, 13, '12 accepted + the one refused');
  // Requests granted before the 429 came back may still leave; the one after those waits ≥ 1 s.
  const gaps = stamps.slice(1).map((s, i) => s - stamps[i]!);
  assert.ok(Math.max(...gaps) >= 900, `largest gap between requests ${Math.max(...gaps).toFixed(0)} ms`);
  const rows = (await t.db.raw(`SELECT status::text, count(*)::int AS n FROM recipients WHERE campaign_id = $1 GROUP BY 1`, [id])).rows;
  assert.deepEqual(rows, [{ status: 'accepted', n: 12 }]);
});
