import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { campaignInsert, createTestDb, type TestDb } from './helpers/db.ts';
import { addTemplate } from '../src/templates/store.ts';
import { storeEvents } from '../src/callbacks/store.ts';
import { parseVerihubsCallback } from '../src/callbacks/parse.ts';
import { reconcile } from '../src/reconcile/reconcile.ts';
import { followUpFor } from '../src/reconcile/follow-up.ts';
import { MAX_ATTEMPTS } from '../src/send/record.ts';
import type { StatusEvent } from '../src/callbacks/types.ts';

// Failed statuses that ask for more than a state: 408 and Verihubs 7/8 re-send, 131050 and Verihubs 9
// opt the number out, Verihubs 10 pauses the campaign. Real PostgreSQL; recipients as the sender leaves them.

let t: TestDb;
let templateId: number;


/** A campaign in `state` (running by default), ingest done. */
async function campaign(state: 'running' | 'completed' = 'running'): Promise<string> {
  const id = (await campaignInsert(t.db, ['followups', templateId, 'default', 'phone', { 'body.1': 'name' }, null, null])).id;
  await t.db.raw(`UPDATE campaigns SET ingest_state = 'done', state = $2::campaign_state, started_at = now(),
    completed_at = CASE WHEN $2::text = 'completed' THEN now() END WHERE id = $1`, [id, state]);
  return id;
}

let nextLine = 2;
/** An accepted recipient whose send (attempt `attempts`) got `messageId`, with its attempt row. */
async function accepted(campaignId: string, messageId: string, attempts = 1): Promise<{ line: number; phone: string }> {
  const line = nextLine++;
  const phone = `+62813${String(10_000_000 + line)}`;
  await t.db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, message_id, accepted_at, attempts)
    VALUES ($1, $2, $3, $3, '{"body.1":"A"}', 'accepted', 'accepted', $4, now(), $5)`, [campaignId, line, phone, messageId, attempts]);
  await t.db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker, finished_at, result, http_status, message_id)
    VALUES ($1, $2, $3, 'w', now(), 'accepted', 200, $4)`, [campaignId, line, attempts, messageId]);
  return { line, phone };
}

function failed(messageId: string, code: string, title = 'failed'): StatusEvent {
  return { provider: 'cloud', messageId, status: 'failed', occurredAt: new Date(), recipientId: null, errorCode: code, errorTitle: title, raw: { id: messageId } };
}

async function row(campaignId: string, line: number) {
  return (await t.db.raw(`SELECT status::text, send_phase::text, message_id, error_code, error_title, retry_at, failed_at
    FROM recipients WHERE campaign_id = $1 AND line = $2`, [campaignId, line])).rows[0];
}
const suppressed = async (phone: string) => (await t.db.raw('SELECT 1 FROM suppressions WHERE phone_e164 = $1', [phone])).rowCount === 1;
const state = async (id: string) => (await t.db.raw('SELECT state::text, pause_reason FROM campaigns WHERE id = $1', [id])).rows[0];

before(async () => {
  t = await createTestDb('followups');
  templateId = (await addTemplate(t.db, { name: 'fu', language: 'en', category: 'marketing', body: 'Hi {{1}}', headerText: null, headerFormat: null, urlButton: false })).id;
});
after(() => t.close());

test('the follow-up table', () => {
  assert.equal(followUpFor('408'), 'resend');
  assert.equal(followUpFor('verihubs_7'), 'resend');
  assert.equal(followUpFor('verihubs_8'), 'resend');
  assert.equal(followUpFor('131050'), 'suppress');
  assert.equal(followUpFor('verihubs_9'), 'suppress');
  assert.equal(followUpFor('verihubs_10'), 'pause');
  for (const none of ['131049', '131026', 'verihubs_6', 'verihubs_11', null, '']) assert.equal(followUpFor(none), null, String(none));
});

test('failed with 408 ("pending too long"): back to the retry path with a fresh message id to come; its old id\'s late statuses are dropped', async () => {
  const c = await campaign();
  const { line } = await accepted(c, 'wamid.T408');
  await storeEvents(t.db, [failed('wamid.T408', '408', 'Message pending for too long')]);
  await reconcile(t.db);
  const r = await row(c, line);
  assert.equal(r.status, 'sending');
  assert.equal(r.send_phase, 'retry_wait');
  assert.equal(r.message_id, null);
  assert.equal(r.failed_at, null);
  assert.ok(r.retry_at > new Date(), 'waits for its backoff');
  assert.equal(r.error_code, '408', 'the cause stays visible until the next answer');

  // The same failed status again, and a late "sent" for the old id: consumed, and the row is untouched.
  await storeEvents(t.db, [failed('wamid.T408', '408'), { ...failed('wamid.T408', '408'), status: 'sent', errorCode: null, errorTitle: null }]);
  await reconcile(t.db);
  assert.equal((await row(c, line)).status, 'sending');
  const left = (await t.db.raw(`SELECT count(*)::int AS n FROM status_event_queue WHERE message_id = 'wamid.T408'`)).rows[0].n;
  assert.equal(left, 0, 'statuses of a replaced message id do not wait in the queue for ever');
});

test('408 re-sends are bounded by the attempt budget: a recipient that used it up stays failed', async () => {
  const c = await campaign();
  const { line } = await accepted(c, 'wamid.T408MAX', MAX_ATTEMPTS);
  await storeEvents(t.db, [failed('wamid.T408MAX', '408')]);
  await reconcile(t.db);
  const r = await row(c, line);
  assert.equal(r.status, 'failed');
  assert.equal(r.error_code, '408');
});

test('a completed campaign whose recipient must be re-sent is running again', async () => {
  const c = await campaign('completed');
  const { line } = await accepted(c, 'wamid.TDONE');
  await storeEvents(t.db, [failed('wamid.TDONE', '408')]);
  await reconcile(t.db);
  assert.equal((await row(c, line)).status, 'sending');
  assert.equal((await state(c)).state, 'running');
});

test('131050 (stopped marketing messages) and Verihubs 9: the recipient fails and the number is opted out', async () => {
  const c = await campaign();
  const a = await accepted(c, 'wamid.OPTOUT');
  const b = await accepted(c, 'vh-session-9');
  const v9 = parseVerihubsCallback(new URLSearchParams({ session_id: 'vh-session-9', status: '9' }));
  await storeEvents(t.db, [failed('wamid.OPTOUT', '131050', 'User stopped marketing messages'), v9.event!]);
  await reconcile(t.db);
  for (const x of [a, b]) {
    assert.equal((await row(c, x.line)).status, 'failed');
    assert.ok(await suppressed(x.phone), `${x.phone} is on the opt-out list`);
  }
});

test('131049 fails the recipient with its reason, nothing else', async () => {
  const c = await campaign();
  const { line, phone } = await accepted(c, 'wamid.ECO');
  await storeEvents(t.db, [failed('wamid.ECO', '131049', 'This message was not delivered to maintain healthy ecosystem engagement.')]);
  await reconcile(t.db);
  const r = await row(c, line);
  assert.equal(r.status, 'failed');
  assert.equal(r.error_code, '131049');
  assert.match(r.error_title, /healthy ecosystem/);
  assert.equal(await suppressed(phone), false);
});

test('Verihubs 7 and 8 re-send; Verihubs 10 requeues the recipient and pauses the campaign with the reason', async () => {
  const c = await campaign();
  const r7 = await accepted(c, 'vh-7');
  const r8 = await accepted(c, 'vh-8');
  const r10 = await accepted(c, 'vh-10');
  const ev = (id: string, n: number) => parseVerihubsCallback(new URLSearchParams({ session_id: id, status: String(n) })).event!;
  await storeEvents(t.db, [ev('vh-7', 7), ev('vh-8', 8), ev('vh-10', 10)]);
  await reconcile(t.db);
  for (const x of [r7, r8, r10]) assert.equal((await row(c, x.line)).status, 'sending', `line ${x.line}`);
  const s = await state(c);
  assert.equal(s.state, 'paused');
  assert.match(s.pause_reason, /Tier Limit/);
});

test('a failed status that arrives after delivered changes nothing and triggers nothing', async () => {
  const c = await campaign();
  const { line } = await accepted(c, 'wamid.LATEFAIL');
  await storeEvents(t.db, [{ ...failed('wamid.LATEFAIL', '408'), status: 'delivered', errorCode: null, errorTitle: null }]);
  await reconcile(t.db);
  await storeEvents(t.db, [failed('wamid.LATEFAIL', '408')]);
  await reconcile(t.db);
  const r = await row(c, line);
  assert.equal(r.status, 'delivered');
  assert.equal(r.message_id, 'wamid.LATEFAIL');
});
