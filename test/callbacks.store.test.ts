import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { pgTime, statusesJson, storeEvents } from '../src/callbacks/store.ts';
import { loadQueries, namedQuery } from '../src/db/queries.ts';
import { expandInbox } from '../src/reconcile/reconcile.ts';
import { Inbox, MIN_SIDE_FLUSH } from '../src/callbacks/inbox.ts';
import type { Db } from '../src/db/executor.ts';
import type { StatusEvent } from '../src/callbacks/types.ts';

// How a flush of webhook statuses reaches PostgreSQL: one JSON array, stored as one status_inbox row by a
// prepared statement, then moved into status_events and the reconcile queue by status_inbox_expand
// (src/callbacks/store.ts, src/reconcile/reconcile.ts, sql/queries/events.sql).

function ev(messageId: string, occurredAt: Date | null, extra: Partial<StatusEvent> = {}): StatusEvent {
  return {
    provider: 'cloud', messageId, status: 'delivered', occurredAt, recipientId: '6281234567890',
    errorCode: null, errorTitle: null, raw: { id: messageId, status: 'delivered' }, ...extra,
  };
}

test('pgTime: ISO text for years 0000–9999, no sign or padding past 9999, BC before year 0, null for no time', () => {
  assert.equal(pgTime(new Date(0)), '1970-01-01T00:00:00.000Z');
  assert.equal(pgTime(new Date(999_999_999_999_000)), '33658-09-27T01:46:39.000Z');
  assert.equal(pgTime(new Date(Date.UTC(10_000, 0, 1))), '10000-01-01T00:00:00.000Z');
  assert.equal(pgTime(new Date(Date.UTC(9_999, 11, 31, 23, 59, 59, 999))), '9999-12-31T23:59:59.999Z');
  assert.equal(pgTime(new Date('0000-03-01T00:00:00Z')), '0000-03-01T00:00:00.000Z');
  // Astronomical year -1 is 2 BC.
  assert.equal(pgTime(new Date(Date.UTC(-1, 5, 1, 10))), '0002-06-01T10:00:00.000Z BC');
  assert.equal(pgTime(new Date(Number.NaN)), null);
  assert.equal(pgTime(null), null);
});

test('statusesJson: one JSON array of rows, raw kept as it was; text PostgreSQL cannot hold becomes U+FFFD', () => {
  const plain = JSON.parse(statusesJson([ev('wamid.A', new Date(0))]));
  assert.deepEqual(plain, [{
    p: 'cloud', m: 'wamid.A', s: 'delivered', t: '1970-01-01T00:00:00.000Z', r: '6281234567890', c: null, e: null,
    raw: { id: 'wamid.A', status: 'delivered' },
  }]);
  const nasty = JSON.parse(statusesJson([ev('wamid.\u0000B', null, {
    errorTitle: 'bad \ud800 title', raw: { id: 'x\u0000', 'k\u0000': '\udc00', nested: ['\u0000', { deep: '\ud83d' }], ok: '😀' },
  })]));
  assert.equal(nasty[0].m, 'wamid.\uFFFDB');
  assert.equal(nasty[0].e, 'bad \uFFFD title');
  assert.equal(nasty[0].t, null);
  assert.deepEqual(nasty[0].raw, { id: 'x\uFFFD', 'k\uFFFD': '\uFFFD', nested: ['\uFFFD', { deep: '\uFFFD' }], ok: '😀' });
  // An escaped backslash before "u0000" is text, not U+0000: cleaning leaves it as it is.
  assert.equal(JSON.parse(statusesJson([ev('a\\u0000', null)]))[0].m, 'a\\u0000');
});

let t: TestDb;
before(async () => { t = await createTestDb('callbacks_store'); });
after(() => t.close());

test('stored statuses wait in the inbox, then read back as written: times, U+FFFD for NUL, raw intact, order kept', async () => {
  const times = [new Date(1_750_263_773_000), new Date(999_999_999_999_000), new Date(Date.UTC(-1, 5, 1, 10)), null];
  const events = times.map((at, i) => ev(`wamid.store.${i}`, at, i === 3 ? { status: 'failed', errorCode: '131026', errorTitle: 'x\u0000y', raw: { q: '"\\\n', a: [1, { b: null }] } } : {}));
  await storeEvents(t.db, events);
  await storeEvents(t.db, events.slice(0, 1)); // the same prepared statement again, on a pooled connection
  const inbox = (await t.db.raw<{ events: number; received_at: Date }>('SELECT events, received_at FROM status_inbox ORDER BY id')).rows;
  assert.deepEqual(inbox.map((r) => r.events), [4, 1], 'one inbox row per store, with its count');
  assert.equal((await t.db.raw('SELECT 1 FROM status_events')).rowCount, 0, 'nothing expanded yet');
  assert.equal((await t.db.q<{ depth: number }>('status_event_queue_depth')).rows[0]!.depth, 5, 'the queue depth counts the inbox');

  assert.equal(await expandInbox(t.db), 5);
  assert.equal((await t.db.raw('SELECT 1 FROM status_inbox')).rowCount, 0);
  const rows = (await t.db.raw<{ message_id: string; status: string; occurred_at: Date | null; received_at: Date; error_title: string | null; raw: unknown; queued: boolean }>(`
    SELECT e.message_id, e.status, e.occurred_at, e.received_at, e.error_title, e.raw, EXISTS (SELECT 1 FROM status_event_queue q WHERE q.event_id = e.id) AS queued
    FROM status_events e WHERE e.message_id LIKE 'wamid.store.%' ORDER BY e.id`)).rows;
  assert.deepEqual(rows.map((r) => r.message_id), ['wamid.store.0', 'wamid.store.1', 'wamid.store.2', 'wamid.store.3', 'wamid.store.0']);
  assert.deepEqual(rows.map((r) => r.occurred_at?.getTime() ?? null), [...times.map((d) => d?.getTime() ?? null), times[0]!.getTime()]);
  assert.deepEqual(rows.map((r) => r.status), ['delivered', 'delivered', 'delivered', 'failed', 'delivered']);
  assert.deepEqual(rows.map((r) => r.received_at.getTime()), [0, 0, 0, 0, 1].map((i) => inbox[i]!.received_at.getTime()), 'received when the webhook was');
  assert.equal(rows[3]!.error_title, 'x\uFFFDy');
  assert.deepEqual(rows[3]!.raw, { q: '"\\\n', a: [1, { b: null }] });
  assert.ok(rows.every((r) => r.queued), 'every stored status is queued for reconcile');
  assert.equal((await t.db.q<{ depth: number }>('status_event_queue_depth')).rows[0]!.depth, 5);
  await t.db.raw('TRUNCATE status_event_queue');
});

test('a status whose raw is null or missing expands with raw JSON null, not a failed expansion', async () => {
  await storeEvents(t.db, [ev('wamid.rawnull.1', null, { raw: null }), ev('wamid.rawnull.2', null, { raw: undefined })]);
  assert.equal(await expandInbox(t.db), 2);
  const rows = (await t.db.raw<{ raw: unknown }>(`SELECT raw FROM status_events WHERE message_id LIKE 'wamid.rawnull.%' ORDER BY id`)).rows;
  assert.deepEqual(rows.map((r) => r.raw), [null, null]);
  await t.db.raw('TRUNCATE status_event_queue');
});

test('an inbox row PostgreSQL refuses keeps its error and is skipped; the rows around it are expanded', async () => {
  await storeEvents(t.db, [ev('wamid.poison.before', null)]);
  // Written behind the encoder's back: a status the CHECK refuses, and a body that is not JSON.
  await t.db.raw(`INSERT INTO status_inbox (events, body) VALUES (1, '[{"p":"cloud","m":"wamid.poison.x","s":"bogus","raw":{}}]'), (1, 'not json')`);
  await storeEvents(t.db, [ev('wamid.poison.after', null)]);
  assert.equal(await expandInbox(t.db), 2);
  const moved = (await t.db.raw<{ message_id: string }>(`SELECT message_id FROM status_events WHERE message_id LIKE 'wamid.poison.%' ORDER BY id`)).rows;
  assert.deepEqual(moved.map((r) => r.message_id), ['wamid.poison.before', 'wamid.poison.after']);
  const kept = (await t.db.raw<{ error: string }>('SELECT error FROM status_inbox ORDER BY id')).rows;
  assert.equal(kept.length, 2);
  assert.match(kept[0]!.error, /check constraint/);
  assert.match(kept[1]!.error, /json/i);
  assert.equal(await expandInbox(t.db), 0, 'skipped from then on, without an error');
  await t.db.raw('TRUNCATE status_inbox, status_event_queue');
});

test('expanding the inbox from several connections at once moves every row exactly once', async () => {
  const before = (await t.db.raw<{ n: number }>('SELECT count(*)::int AS n FROM status_events')).rows[0]!.n;
  for (let i = 0; i < 60; i++) await storeEvents(t.db, [ev(`wamid.par.${i}.a`, new Date(i * 1000)), ev(`wamid.par.${i}.b`, null)]);
  const moved = await Promise.all([1, 2, 3, 4].map(() => expandInbox(t.db, 3)));
  assert.equal(moved.reduce((a, b) => a + b, 0), 120);
  const r = (await t.db.raw<{ n: number; uniq: number }>(`SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS uniq FROM status_events WHERE message_id LIKE 'wamid.par.%'`)).rows[0]!;
  assert.deepEqual(r, { n: 120, uniq: 120 });
  assert.equal((await t.db.raw<{ n: number }>('SELECT count(*)::int AS n FROM status_events')).rows[0]!.n, before + 120);
  assert.equal((await t.db.raw('SELECT 1 FROM status_inbox')).rowCount, 0);
  await t.db.raw('TRUNCATE status_event_queue');
});

test('group commit: a flush starts beside a running one only once MIN_SIDE_FLUSH requests wait', async () => {
  await t.db.raw('TRUNCATE status_inbox');
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let inserts = 0;
  // The real database, with the first inbox insert held until released: a slow flush.
  const held: Db = { ...t.db, q: async (name, params) => {
    if (name === 'status_inbox_insert' && ++inserts === 1) await gate;
    return t.db.q(name, params);
  } };
  const inbox = new Inbox(held);
  const first = inbox.store([ev('wamid.gate.first', null)]);
  assert.equal(inserts, 1, 'the first request is flushed at once');
  const waiting = Array.from({ length: MIN_SIDE_FLUSH - 1 }, (_, i) => inbox.store([ev(`wamid.gate.${i}`, null)]));
  assert.equal(inserts, 1, `${MIN_SIDE_FLUSH - 1} waiting requests do not start a second flush`);
  const last = inbox.store([ev('wamid.gate.last', null)]);
  assert.equal(inserts, 2, `the ${MIN_SIDE_FLUSH}th does`);
  await Promise.all([...waiting, last]);
  assert.deepEqual(inbox.stats, { flushes: 1, requests: MIN_SIDE_FLUSH }, 'the side flush committed while the first is held');
  release();
  await first;
  assert.deepEqual(inbox.stats, { flushes: 2, requests: MIN_SIDE_FLUSH + 1 });
  const rows = (await t.db.raw<{ events: number }>('SELECT events FROM status_inbox ORDER BY id')).rows;
  assert.deepEqual(rows.map((r) => r.events).sort((a, b) => a - b), [1, MIN_SIDE_FLUSH]);
  assert.equal(await expandInbox(t.db), MIN_SIDE_FLUSH + 1);
  await t.db.raw('TRUNCATE status_event_queue');
});

test('named queries: `-- prepared` marks a server-side prepared statement; status_inbox_insert is one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'queries-'));
  writeFileSync(join(dir, 'a.sql'), '-- name: a_plain\nSELECT 1;\n\n-- name: a_hot\n-- Why it is prepared.\n-- prepared\nSELECT 2;\n');
  const q = loadQueries(dir);
  assert.deepEqual(q.get('a_plain'), { text: 'SELECT 1;', prepared: false });
  assert.deepEqual(q.get('a_hot'), { text: '-- Why it is prepared.\nSELECT 2;', prepared: true });
  assert.equal(namedQuery('status_inbox_insert').prepared, true);
  assert.equal(namedQuery('recipient_claim_batch').prepared, false);
});
