import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { runCli } from './helpers/cli.ts';
import { until } from './helpers/wait.ts';
import { sql } from '../src/db/queries.ts';
import { clientDb } from '../src/db/executor.ts';
import { UsageError } from '../src/errors.ts';
import type { SendOutcome } from '../src/providers/types.ts';
import { classifyOutcome } from '../src/send/classify.ts';
import { MAX_ATTEMPTS, recordOutcome } from '../src/send/record.ts';
import { parseRetryCodes, storedCause, storedError, type StoredCause } from '../src/send/retryable.ts';
import { retryCampaign } from '../src/campaigns/service.ts';
import { buildReport } from '../src/report/report.ts';

let t: TestDb;
let templateId: number;
before(async () => {
  t = await createTestDb('retry');
  templateId = (await t.db.raw(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
    VALUES ('retry_t', 'en', 'marketing', 'Hi {{1}}', 'positional', '{body.1}') RETURNING id`)).rows[0].id;
});
after(() => t.close());

// ---------------------------------------------------------------------------------------------------------
// The pure decision: what a stored failure allows.

test('storedCause: what each stored failure allows, code by code', () => {
  const cases: Array<[code: string | null, http: number | null, want: StoredCause]> = [
    // What the classifier retries: transient, throughput, pair rate, 408, 5xx, network before the body.
    ['131000', 500, 'retryable'], ['131000', null, 'retryable'], ['131016', 503, 'retryable'],
    ['133004', 503, 'retryable'], ['1', 400, 'retryable'], ['2', 503, 'retryable'], ['408', 400, 'retryable'],
    ['130429', 400, 'retryable'], ['4', 400, 'retryable'], ['80007', 400, 'retryable'], ['131056', 400, 'retryable'],
    ['http_408', 408, 'retryable'], ['http_429', 429, 'retryable'], ['http_500', 500, 'retryable'],
    ['http_503', 503, 'retryable'], ['http_503', null, 'retryable'], ['network', null, 'retryable'],
    // Unknown codes are judged by the last request's status, as the classifier judged them.
    ['999999', 502, 'retryable'], ['999999', 400, 'final'], ['999999', null, 'final'],
    ['verihubs_http_500', 500, 'retryable'], ['verihubs_E42', 503, 'retryable'], ['verihubs_E42', 400, 'final'],
    ['verihubs_http_409', 409, 'final'], ['verihubs_E42', null, 'final'],
    // What fails for good, or pauses the campaign.
    ['131026', 400, 'final'], ['131050', 400, 'final'], ['131049', 400, 'final'], ['470', 400, 'final'],
    ['100', 400, 'final'], ['132000', 400, 'final'], ['http_400', 400, 'final'], ['http_404', 404, 'final'],
    ['131048', 400, 'final'], ['190', 401, 'final'], ['0', 401, 'final'], ['250', 403, 'final'], ['http_401', 401, 'final'],
    // Unknown outcome: only --ambiguous resends it.
    ['ambiguous', null, 'ambiguous'], ['http_200', 200, 'ambiguous'],
    [null, null, 'final'],
  ];
  for (const [code, http, want] of cases) assert.equal(storedCause(code, http), want, `${code} (HTTP ${http})`);
});

test('storedCause agrees with classifyOutcome for every answer record.ts can store as failed', () => {
  const codes = [null, '1', '2', '4', '100', '190', '408', '470', '80007', '130429', '131000', '131016', '131026', '131048',
    '131049', '131050', '131056', '132000', '133004', '999999', 'verihubs_E1', 'verihubs_http_500'];
  const statuses = [400, 401, 403, 404, 408, 409, 429, 500, 502, 503, 504];
  const want = (o: SendOutcome): StoredCause => {
    const a = classifyOutcome(o).action;
    return a === 'retry' || a === 'delay_recipient' ? 'retryable' : a === 'ambiguous' ? 'ambiguous' : 'final';
  };
  let n = 0;
  for (const code of codes) {
    for (const httpStatus of statuses) {
      const o: SendOutcome = { kind: 'error', httpStatus, code, title: 'x' };
      const s = storedError(o);
      assert.equal(storedCause(s.code, s.http), want(o), `${code} HTTP ${httpStatus}`);
      n++;
    }
  }
  const net: SendOutcome = { kind: 'network', phase: 'before_write', message: 'ECONNREFUSED' };
  assert.equal(storedCause(storedError(net).code, null), want(net));
  assert.equal(n, codes.length * statuses.length);
});

test('parseRetryCodes: the stored spellings pass, anything else is a usage error', () => {
  assert.equal(parseRetryCodes(undefined, false), null);
  assert.deepEqual(parseRetryCodes('131000,http_503', false), ['131000', 'http_503']);
  assert.deepEqual(parseRetryCodes(' 131000 , ,network,131000', false), ['131000', 'network']);
  assert.deepEqual(parseRetryCodes(['131026', 'verihubs_http_500'], false), ['131026', 'verihubs_http_500']);
  assert.deepEqual(parseRetryCodes('ambiguous', true), ['ambiguous']);
  for (const bad of ['', ',', 'abc', '131000;131026', 'http_5033', 'HTTP_503', 'http_', '-1', 'verihubs_']) {
    assert.throws(() => parseRetryCodes(bad, false), (e: unknown) => e instanceof UsageError && /--codes/.test(e.message), bad);
  }
  assert.throws(() => parseRetryCodes('ambiguous', false), /use --ambiguous/);
});

// ---------------------------------------------------------------------------------------------------------
// Campaigns and rows, written directly in the states under test.

async function makeCampaign(state: 'running' | 'paused' | 'completed' | 'cancelled' | 'draft'): Promise<string> {
  const n = Math.max(0, ...[...sql('campaign_insert').matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  const values = ['retry', templateId, 'default', 'phone', {}, null, null];
  const id: string = (await t.db.q('campaign_insert', [...values, ...Array(n - values.length).fill(null)])).rows[0].id;
  const set = {
    running: `state = 'running', started_at = now()`,
    paused: `state = 'paused', started_at = now(), pause_reason = 'operator'`,
    completed: `state = 'completed', started_at = now(), completed_at = now()`,
    cancelled: `state = 'cancelled', cancelled_at = now()`,
    draft: `state = 'draft'`,
  }[state];
  await t.db.raw(`UPDATE campaigns SET ${set}, ingest_state = 'done' WHERE id = $1`, [id]);
  return id;
}

interface RowSpec {
  status: 'queued' | 'failed' | 'delivered' | 'sending';
  phase?: 'ambiguous';
  code?: string | null;
  http?: number | null;
  attempts?: number;
  messageId?: string;
}

/** A recipient and its request history: `attempts` requests, each answered with `http`, the last one final. */
async function addRow(id: string, line: number, r: RowSpec): Promise<void> {
  const attempts = r.attempts ?? (r.status === 'queued' ? 0 : 1);
  await t.db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, send_phase,
      retry_at, attempts, message_id, error_code, error_title, failed_at)
    VALUES ($1, $2, 'x', $3, '{}', 'accepted', $4, $5, $6, $7, $8, $9, $10, $11)`, [
    id, line, `+628123${String(line).padStart(6, '0')}`, r.status, r.phase ?? null,
    r.phase ? new Date(Date.now() + 600_000) : null, attempts, r.messageId ?? null,
    r.code ?? null, r.code ? `title of ${r.code}` : null, r.status === 'failed' ? new Date() : null,
  ]);
  const last = r.messageId ? 'accepted' : r.phase === 'ambiguous' || r.code === 'ambiguous' ? 'ambiguous' : 'failed';
  for (let a = 1; a <= attempts; a++) {
    await t.db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker, finished_at, result, http_status, error_code)
      VALUES ($1, $2, $3, 'w', now(), $4, $5, $6)`, [id, line, a, a === attempts ? last : 'retry', r.http ?? null, r.code ?? null]);
  }
}

async function rowsOf(id: string): Promise<Map<number, { status: string; send_phase: string | null; error_code: string | null; failed_at: Date | null; attempts: number; attempt_base: number }>> {
  const rows = (await t.db.raw(`SELECT line, status::text, send_phase::text, error_code, failed_at, attempts, attempt_base
    FROM recipients WHERE campaign_id = $1 ORDER BY line`, [id])).rows;
  return new Map(rows.map((r) => [r.line, r]));
}

async function recountIngest(id: string): Promise<void> {
  await t.db.raw(`UPDATE campaigns SET ingest_rows = s.n, ingest_accepted = s.n
    FROM (SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1) s WHERE id = $1`, [id]);
}

test('retry requeues the failed rows with a retryable cause, and only those; the report follows', async () => {
  const id = await makeCampaign('running');
  await addRow(id, 1, { status: 'failed', code: '131000', http: 500, attempts: 5 });
  await addRow(id, 2, { status: 'failed', code: 'http_503', http: 503, attempts: 5 });
  await addRow(id, 3, { status: 'failed', code: 'network', http: null, attempts: 5 });
  await addRow(id, 4, { status: 'failed', code: 'verihubs_E1', http: 502, attempts: 5 });
  // Left alone: a final cause, the same Verihubs code refused with a 4xx, an unknown outcome (failed or
  // still settling), a failure reported by a status webhook, and a delivered row.
  await addRow(id, 5, { status: 'failed', code: '131026', http: 400, attempts: 1 });
  await addRow(id, 6, { status: 'failed', code: 'verihubs_E1', http: 400, attempts: 1 });
  await addRow(id, 7, { status: 'failed', code: 'ambiguous', attempts: 1 });
  await addRow(id, 8, { status: 'sending', phase: 'ambiguous', code: 'network', attempts: 1 });
  await addRow(id, 9, { status: 'failed', code: '131000', http: 200, attempts: 1, messageId: 'wamid.9' });
  await addRow(id, 10, { status: 'delivered', http: 200, attempts: 1, messageId: 'wamid.10' });
  await recountIngest(id);
  const before = (await buildReport(t.db, id))!;
  assert.equal(before.status.failed, 8);
  assert.equal(before.ambiguous, 2);

  const r = await retryCampaign(t.db, id, { codes: null, ambiguous: false });
  assert.equal(r.requeued, 4);
  assert.equal(r.state, 'running');
  assert.deepEqual(r.byCode, { '131000': 1, http_503: 1, network: 1, verihubs_E1: 1 });
  assert.deepEqual(r.left, { '131026': 1, verihubs_E1: 1, ambiguous: 1 });

  const rows = await rowsOf(id);
  for (const line of [1, 2, 3, 4]) {
    const row = rows.get(line)!;
    assert.deepEqual([row.status, row.send_phase, row.error_code, row.failed_at], ['queued', null, null, null], `line ${line}`);
    assert.equal(row.attempt_base, 5, `line ${line}: a fresh budget from its 5 attempts`);
    assert.equal(row.attempts, 5, `line ${line}: attempts keep counting`);
  }
  assert.deepEqual([5, 6, 7, 9].map((l) => rows.get(l)!.status), ['failed', 'failed', 'failed', 'failed']);
  assert.equal(rows.get(8)!.send_phase, 'ambiguous');
  assert.equal(rows.get(10)!.status, 'delivered');

  const after = (await buildReport(t.db, id))!;
  assert.equal(after.status.failed, 4);
  assert.equal(after.status.queued, 4);
  assert.equal(Object.values(after.status).reduce((a, b) => a + b, 0), after.ingest.accepted);
  assert.deepEqual(after.failures.map((f) => f.code).sort(), ['131000', '131026', 'ambiguous', 'verihubs_E1']);
  assert.equal(after.ambiguous, 2);

  // Nothing retryable is left: a second retry changes nothing.
  assert.equal((await retryCampaign(t.db, id, { codes: null, ambiguous: false })).requeued, 0);
});

test('--codes requeues exactly the codes given, retryable or not', async () => {
  const id = await makeCampaign('running');
  await addRow(id, 1, { status: 'failed', code: '131026', http: 400, attempts: 1 });
  await addRow(id, 2, { status: 'failed', code: '131026', http: 400, attempts: 1 });
  await addRow(id, 3, { status: 'failed', code: '131000', http: 500, attempts: 5 });
  await addRow(id, 4, { status: 'failed', code: '131049', http: 400, attempts: 1 });
  const r = await retryCampaign(t.db, id, { codes: ['131026', 'http_503'], ambiguous: false });
  assert.equal(r.requeued, 2);
  assert.deepEqual(r.byCode, { '131026': 2 });
  const rows = await rowsOf(id);
  assert.deepEqual([1, 2, 3, 4].map((l) => rows.get(l)!.status), ['queued', 'queued', 'failed', 'failed']);
  assert.equal(rows.get(1)!.attempt_base, 1);
});

test('--ambiguous also resends rows whose outcome is unknown: settled (failed) and still settling', async () => {
  const id = await makeCampaign('running');
  await addRow(id, 1, { status: 'failed', code: 'ambiguous', attempts: 1 });
  await addRow(id, 2, { status: 'sending', phase: 'ambiguous', code: 'network', attempts: 2, http: null });
  await addRow(id, 3, { status: 'failed', code: 'http_503', http: 503, attempts: 5 });
  await addRow(id, 4, { status: 'failed', code: '131026', http: 400, attempts: 1 });
  await recountIngest(id);
  assert.equal((await buildReport(t.db, id))!.ambiguous, 2);

  const r = await retryCampaign(t.db, id, { codes: null, ambiguous: true });
  assert.equal(r.requeued, 3);
  assert.deepEqual(r.byCode, { ambiguous: 2, http_503: 1 });
  const rows = await rowsOf(id);
  assert.deepEqual([1, 2, 3, 4].map((l) => [rows.get(l)!.status, rows.get(l)!.send_phase]),
    [['queued', null], ['queued', null], ['queued', null], ['failed', null]]);
  assert.equal(rows.get(2)!.attempt_base, 2);
  const report = (await buildReport(t.db, id))!;
  assert.equal(report.ambiguous, 0);
  assert.equal(report.status.queued, 3);

  // The first request of line 2 did go out after all: its late answer settles the requeued row, and
  // nothing is sent again.
  await t.db.q('attempt_finish_accepted_many', [id, [2], [2], ['wamid.late'], [200], [Date.now()]]);
  const claimed = (await t.db.q('recipient_claim_batch', [id, 'w-test', 10])).rows.map((c) => c.line).sort();
  assert.deepEqual(claimed, [1, 3]);
  assert.equal((await rowsOf(id)).get(2)!.status, 'accepted');
  // A late answer for an earlier attempt never settles a row sent again since.
  const started = (await t.db.q('attempt_start_many', [id, [1], 'w-test'])).rows[0];
  assert.equal(started.attempt, 2);
  await t.db.q('attempt_finish_accepted_many', [id, [1], [1], ['wamid.stale'], [200], [Date.now()]]);
  await t.db.q('attempt_finish_failed', [id, 1, 1, 400, '131026', 'stale', Date.now()]);
  const row1 = (await t.db.raw(`SELECT status::text, send_phase::text, message_id FROM recipients WHERE campaign_id = $1 AND line = 1`, [id])).rows[0];
  assert.deepEqual(row1, { status: 'sending', send_phase: 'in_flight', message_id: null });
});

test('an accepted answer settles its row in every state a late answer may find, and in no other', async () => {
  const id = await makeCampaign('running');
  // line: [status, send_phase, attempts on the row]; every answer below is for attempt 1.
  const rows: Record<number, [string, string | null, number]> = {
    1: ['queued', null, 1], // requeued by `retry --ambiguous`, not sent again yet
    2: ['sending', 'claimed', 1], // the same, already claimed again
    3: ['sending', 'in_flight', 1], // the ordinary case
    4: ['sending', 'ambiguous', 1], // the rescuer gave up on it meanwhile
    5: ['sending', 'retry_wait', 1], // this attempt was answered already (a retry is due)
    6: ['failed', null, 1], // answered already, for good
    7: ['sending', 'in_flight', 2], // sent again since: attempt 1's answer is stale
  };
  for (const [line, [status, phase, attempts]] of Object.entries(rows)) {
    await t.db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, send_phase,
        claimed_by, claimed_at, retry_at, attempts, failed_at, error_code)
      VALUES ($1, $2, 'x', $3, '{}', 'accepted', $4, $5, $6, $7, $8, $9, $10, $11)`, [
      id, Number(line), `+628124${line.padStart(6, '0')}`, status, phase,
      phase === 'claimed' || phase === 'in_flight' ? 'w-test' : null, phase === 'claimed' || phase === 'in_flight' ? new Date() : null,
      phase === 'retry_wait' || phase === 'ambiguous' ? new Date(Date.now() + 60_000) : null, attempts,
      status === 'failed' ? new Date() : null, status === 'failed' ? '131026' : null,
    ]);
    for (let a = 1; a <= attempts; a++) {
      await t.db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker) VALUES ($1, $2, $3, 'w-test')`, [id, Number(line), a]);
    }
  }
  const lines = Object.keys(rows).map(Number);
  const at = Date.now();
  await t.db.q('attempt_finish_accepted_many', [id, lines, lines.map(() => 1), lines.map((l) => `wamid.${l}`), lines.map(() => 200), lines.map(() => at)]);
  const after = (await t.db.raw<{ line: number; status: string; message_id: string | null }>(
    `SELECT line, status::text, message_id FROM recipients WHERE campaign_id = $1 ORDER BY line`, [id])).rows;
  assert.deepEqual(after.filter((r) => r.status === 'accepted').map((r) => [r.line, r.message_id]),
    [[1, 'wamid.1'], [2, 'wamid.2'], [3, 'wamid.3'], [4, 'wamid.4']]);
  assert.deepEqual(after.filter((r) => r.status !== 'accepted').map((r) => [r.line, r.status]), [[5, 'sending'], [6, 'failed'], [7, 'sending']]);
  // The attempt itself records its answer and write time whatever became of the row.
  const answered = (await t.db.raw<{ line: number; attempt: number; ms: string }>(`SELECT line, attempt, extract(epoch FROM written_at) * 1000 AS ms
    FROM send_attempts WHERE campaign_id = $1 AND result = 'accepted' ORDER BY line, attempt`, [id])).rows;
  assert.deepEqual(answered.map((r) => [r.line, r.attempt]), lines.map((l) => [l, 1]));
  assert.ok(answered.every((r) => Math.abs(Number(r.ms) - at) < 0.01), 'written_at is the stamp given, to the microsecond');
});

test('a completed campaign is reopened and workers are woken; with nothing to retry it stays completed', async () => {
  const id = await makeCampaign('completed');
  await addRow(id, 1, { status: 'failed', code: '131026', http: 400, attempts: 1 });
  assert.deepEqual(await retryCampaign(t.db, id, { codes: null, ambiguous: false }).then((r) => [r.requeued, r.state]), [0, 'completed']);

  await addRow(id, 2, { status: 'failed', code: '131000', http: 500, attempts: 5 });
  const listener = await t.pool.connect();
  const woken: string[] = [];
  try {
    listener.on('notification', (n) => woken.push(n.payload ?? ''));
    await listener.query('LISTEN campaign_wake');
    const r = await retryCampaign(t.db, id, { codes: null, ambiguous: false });
    assert.deepEqual([r.requeued, r.state], [1, 'running']);
    await until('the campaign_wake notification', () => woken.includes(id), 5_000);
  } finally {
    await listener.query('UNLISTEN campaign_wake').catch(() => {});
    listener.release();
  }
  const c = (await t.db.raw(`SELECT state::text, completed_at FROM campaigns WHERE id = $1`, [id])).rows[0];
  assert.deepEqual(c, { state: 'running', completed_at: null });
  // It completes again only once the requeued row is done.
  assert.equal((await t.db.q('campaign_complete_if_done', [id])).rowCount, 0);
});

test('paused stays paused with the rows queued; cancelled and draft campaigns are refused', async () => {
  const paused = await makeCampaign('paused');
  await addRow(paused, 1, { status: 'failed', code: 'http_503', http: 503, attempts: 5 });
  const r = await retryCampaign(t.db, paused, { codes: null, ambiguous: false });
  assert.deepEqual([r.requeued, r.state], [1, 'paused']);
  assert.equal((await rowsOf(paused)).get(1)!.status, 'queued');
  const p = (await t.db.raw(`SELECT pause_reason FROM campaigns WHERE id = $1`, [paused])).rows[0];
  assert.equal(p.pause_reason, 'operator');

  const cancelled = await makeCampaign('cancelled');
  await addRow(cancelled, 1, { status: 'failed', code: 'http_503', http: 503, attempts: 5 });
  await assert.rejects(retryCampaign(t.db, cancelled, { codes: null, ambiguous: false }),
    (e: unknown) => e instanceof UsageError && /is cancelled/.test(e.message));
  assert.equal((await rowsOf(cancelled)).get(1)!.status, 'failed', 'a refused retry changes nothing');

  const draft = await makeCampaign('draft');
  await assert.rejects(retryCampaign(t.db, draft, { codes: null, ambiguous: false }),
    (e: unknown) => e instanceof UsageError && /is draft/.test(e.message));
  await assert.rejects(retryCampaign(t.db, '00000000-0000-4000-8000-000000000000', { codes: null, ambiguous: false }),
    (e: unknown) => e instanceof UsageError && /unknown campaign/.test(e.message));
});

test('a requeued recipient gets a fresh attempt budget: it fails again only after MAX_ATTEMPTS more', async () => {
  const id = await makeCampaign('running');
  await addRow(id, 1, { status: 'queued' });
  const to = '+628123000001';
  const unavailable: SendOutcome = { kind: 'error', httpStatus: 503, code: null, title: 'Service Unavailable' };
  /** One pass of the sender for the one row: due retries first, claim, record the attempt, record the answer. */
  const sendOnce = async (): Promise<number> => {
    await t.db.raw(`UPDATE recipients SET retry_at = now() WHERE campaign_id = $1 AND send_phase = 'retry_wait'`, [id]);
    const claimed = (await t.db.q('recipient_claim_batch', [id, 'w-test', 10])).rows;
    assert.equal(claimed.length, 1, 'the row is claimable');
    const attempt: number = (await t.db.q('attempt_start_many', [id, [1], 'w-test'])).rows[0].attempt;
    await recordOutcome(t.db, { campaignId: id, line: 1, attempt, to, writtenAt: Date.now() }, unavailable, classifyOutcome(unavailable), { settleS: 600, random: () => 0 });
    return attempt;
  };
  const status = async () => (await rowsOf(id)).get(1)!;

  for (let i = 1; i < MAX_ATTEMPTS; i++) {
    await sendOnce();
    assert.equal((await status()).send_phase, 'retry_wait', `attempt ${i} is retried`);
  }
  await sendOnce();
  assert.deepEqual([(await status()).status, (await status()).error_code], ['failed', 'http_503']);

  assert.equal((await retryCampaign(t.db, id, { codes: null, ambiguous: false })).requeued, 1);
  const seen: number[] = [];
  for (let i = 1; i < MAX_ATTEMPTS; i++) {
    seen.push(await sendOnce());
    assert.equal((await status()).send_phase, 'retry_wait', `attempt ${MAX_ATTEMPTS + i} (the ${i}th since the retry) is retried`);
  }
  seen.push(await sendOnce());
  const row = await status();
  assert.deepEqual([row.status, row.attempts, row.attempt_base], ['failed', 2 * MAX_ATTEMPTS, MAX_ATTEMPTS]);
  assert.deepEqual(seen, [6, 7, 8, 9, 10]);
  const numbers = (await t.db.raw(`SELECT attempt, result FROM send_attempts WHERE campaign_id = $1 ORDER BY attempt`, [id])).rows;
  assert.deepEqual(numbers.map((a) => a.attempt), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'one request each, numbered on');
  assert.deepEqual(numbers.map((a) => a.result), ['retry', 'retry', 'retry', 'retry', 'failed', 'retry', 'retry', 'retry', 'retry', 'failed']);
  const report = (await buildReport(t.db, id))!;
  assert.deepEqual(report.attempts, { requests: 10, retries: 9 });
});

test('a completion racing a retry stands down instead of completing over the requeued rows', async () => {
  const id = await makeCampaign('running');
  await addRow(id, 1, { status: 'failed', code: 'http_503', http: 503, attempts: 5 });
  // The retry's transaction, held open after it requeued the row and rewrote the campaign row.
  const client: pg.PoolClient = await t.pool.connect();
  try {
    const tx = clientDb(client);
    await tx.raw('BEGIN');
    assert.equal((await tx.q('campaign_lock', [id])).rows[0].state, 'running');
    assert.equal((await tx.q('recipient_requeue_failed', [id, ['http_503'], [503], false])).rowCount, 1);
    await tx.q('campaign_retry_reopen', [id]);
    // A worker completes now: its snapshot still sees the row failed; it waits for the campaign row.
    const completing = t.db.q('campaign_complete_if_done', [id]);
    await until('the completion to wait for the campaign row lock', async () =>
      (await t.db.raw(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n > 0, 5_000);
    await tx.raw('COMMIT');
    assert.equal((await completing).rowCount, 0, 'it stood down');
  } finally {
    client.release();
  }
  assert.equal((await t.db.raw(`SELECT state::text FROM campaigns WHERE id = $1`, [id])).rows[0].state, 'running');
  assert.equal((await rowsOf(id)).get(1)!.status, 'queued');
  // Once nothing is left it completes as before.
  await t.db.raw(`UPDATE recipients SET status = 'failed', failed_at = now() WHERE campaign_id = $1`, [id]);
  assert.equal((await t.db.q('campaign_complete_if_done', [id])).rowCount, 1);
});

test('CLI: retry --json; a bad --codes or a cancelled campaign exits 2 with what to fix', async () => {
  const env = { DATABASE_URL: t.url };
  const id = await makeCampaign('completed');
  await addRow(id, 1, { status: 'failed', code: '131000', http: 500, attempts: 5 });
  await addRow(id, 2, { status: 'failed', code: '131026', http: 400, attempts: 1 });
  const ok = await runCli(['retry', id, '--json'], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { id, requeued: 1, state: 'running' });

  const text = await runCli(['retry', id, '--codes', '131026'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`campaign ${id}: 1 recipient back in the queue \\(codes: 131026 \\(1\\)\\)`));

  const bad = await runCli(['retry', id, '--codes', '131026,oops'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--codes oops: not an error code/);
  assert.equal(bad.stdout, '');

  const cancelled = await makeCampaign('cancelled');
  const refused = await runCli(['retry', cancelled], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /is cancelled/);
});
