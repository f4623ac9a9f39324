import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { campaignInsert, createTestDb, type TestDb } from './helpers/db.ts';
import { createPool, type Db } from '../src/db/executor.ts';
import { listMigrations, migrate } from '../src/db/migrate.ts';

let t: TestDb;


/** Extra databases created by this file on the same server, never migrated by the helper. */
const extra: string[] = [];
const pools: pg.Pool[] = [];
before(async () => { t = await createTestDb('migrate'); });
after(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => {})));
  for (const name of extra) await t.db.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  await t.close();
});

/** A fresh, empty database next to the test one (same server, same credentials). */
async function freshDatabase(): Promise<string> {
  const name = `t_migrate_fresh_${randomBytes(4).toString('hex')}`;
  await t.db.raw(`CREATE DATABASE ${name}`);
  extra.push(name);
  const u = new URL(t.url);
  u.pathname = `/${name}`;
  return u.toString();
}

function pool(url: string): pg.Pool {
  const p = createPool(url, { max: 2, application_name: 'migrate-test' });
  pools.push(p);
  return p;
}

test('two concurrent migrators on a fresh database both succeed; each version is recorded once', async () => {
  const url = await freshDatabase();
  const a = pool(url);
  const b = pool(url);
  const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
  const expected = listMigrations().map((m) => m.version);
  assert.ok(expected.length >= 1);
  // One of them applied everything, the other found nothing left to do (never both, never half each).
  assert.deepEqual([...ra, ...rb].sort((x, y) => x - y), expected);
  assert.ok(ra.length === 0 || rb.length === 0, `applied by both: ${JSON.stringify([ra, rb])}`);

  const rows = (await a.query<{ version: number; n: number }>(
    'SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version')).rows;
  assert.deepEqual(rows, expected.map((v) => ({ version: v, n: 1 })));
  // The schema is really there.
  const tables = (await a.query<{ t: string }>(`SELECT to_regclass('public.recipients')::text AS t`)).rows[0]!.t;
  assert.equal(tables, 'recipients');

  // A second run applies nothing and records nothing.
  assert.deepEqual(await migrate(a), []);
  assert.deepEqual(await migrate(b), []);
  const count = (await a.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')).rows[0]!.n;
  assert.equal(count, expected.length);
  // The advisory lock is released: no session of this (fresh, ours only) database still holds one.
  const held = (await a.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks
    WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0]!.n;
  assert.equal(held, 0);
});

test('many concurrent migrators (five pools) on a fresh database: exactly one applies', async () => {
  const url = await freshDatabase();
  const results = await Promise.all(Array.from({ length: 5 }, () => migrate(pool(url))));
  const expected = listMigrations().map((m) => m.version);
  assert.equal(results.filter((r) => r.length > 0).length, 1);
  assert.deepEqual(results.flat().sort((x, y) => x - y), expected);
});

test('a failing migration rolls back entirely and is not recorded; the next run retries it', async () => {
  const url = await freshDatabase();
  const p = pool(url);
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  try {
    writeFileSync(join(dir, '0001_one.sql'), 'CREATE TABLE one (id int);');
    writeFileSync(join(dir, '0002_two.sql'), 'CREATE TABLE two (id int); SELECT 1/0;');
    await assert.rejects(migrate(p, dir), /0002_two failed/);
    const versions = (await p.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    assert.deepEqual(versions, [1]);
    assert.equal((await p.query(`SELECT to_regclass('public.two') AS t`)).rows[0].t, null, 'the failed migration left nothing behind');
    writeFileSync(join(dir, '0002_two.sql'), 'CREATE TABLE two (id int);');
    assert.deepEqual(await migrate(p, dir), [2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------------
// The CHECKs that guard the state machines: a row no transition could produce is refused (23514).

async function refused(db: Db, sql: string, params: unknown[], what: string): Promise<void> {
  await assert.rejects(db.raw(sql, params), (err: unknown) => {
    assert.equal((err as { code?: string }).code, '23514', `${what}: expected a check violation, got ${String(err)}`);
    return true;
  }, what);
}

let templateId: number;
let campaignId: string;

async function setup(db: Db): Promise<void> {
  if (campaignId) return;
  templateId = (await db.raw(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
    VALUES ('t', 'en', 'marketing', 'Hi {{1}}', 'positional', '{body.1}') RETURNING id`)).rows[0].id;
  campaignId = (await campaignInsert(db, ['checks', templateId, 'default', 'phone', {}, null, null])).id;
}

const COLS = 'campaign_id, line, phone_input, phone_e164, params, outcome, reason, status, send_phase, claimed_by, retry_at, message_id';
let nextLine = 1;
/** Insert one recipient; fields not given take the values of a valid queued recipient. */
function insertRecipient(db: Db, over: Record<string, unknown>, what: string, ok = false): Promise<void> {
  const row: Record<string, unknown> = {
    phone_e164: '+6281234567890', params: {}, outcome: 'accepted', reason: null, status: 'queued',
    send_phase: null, claimed_by: null, retry_at: null, message_id: null, ...over,
  };
  const line = nextLine++;
  const params = [campaignId, line, 'x', row.phone_e164, row.params, row.outcome, row.reason, row.status,
    row.send_phase, row.claimed_by, row.retry_at, row.message_id];
  const sql = `INSERT INTO recipients (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;
  if (ok) return db.raw(sql, params).then(() => {});
  return refused(db, sql, params, what);
}

test('recipient CHECKs: valid rows pass, rows no transition could produce are refused', async () => {
  const db = t.db;
  await setup(db);
  // Positive controls: each state the machine can reach is accepted by the schema.
  let n = 0;
  const phone = () => `+62812345${String(10000 + n++)}`;
  await insertRecipient(db, { phone_e164: phone() }, 'queued', true);
  await insertRecipient(db, { phone_e164: phone(), status: 'sending', send_phase: 'claimed', claimed_by: 'w1' }, 'claimed', true);
  await insertRecipient(db, { phone_e164: phone(), status: 'sending', send_phase: 'in_flight', claimed_by: 'w1' }, 'in flight', true);
  await insertRecipient(db, { phone_e164: phone(), status: 'sending', send_phase: 'retry_wait', retry_at: new Date() }, 'retry wait', true);
  await insertRecipient(db, { phone_e164: phone(), status: 'sending', send_phase: 'ambiguous', retry_at: new Date() }, 'ambiguous', true);
  await insertRecipient(db, { phone_e164: phone(), status: 'accepted', message_id: 'wamid.1' }, 'accepted', true);
  await insertRecipient(db, { phone_e164: phone(), status: 'read', message_id: 'wamid.2' }, 'read', true);
  await insertRecipient(db, { phone_e164: phone(), status: 'failed' }, 'failed without message id', true);
  await insertRecipient(db, { phone_e164: null, params: null, outcome: 'invalid', reason: 'invalid_phone', status: null }, 'invalid', true);
  await insertRecipient(db, { params: null, outcome: 'duplicate', status: null }, 'duplicate', true);
  await insertRecipient(db, { phone_e164: '+6281299999999', params: null, outcome: 'suppressed', status: null }, 'suppressed', true);

  const p = () => `+62813345${String(10000 + n++)}`;
  await insertRecipient(db, { phone_e164: p(), status: null }, 'an accepted recipient without status');
  await insertRecipient(db, { phone_e164: p(), outcome: 'duplicate', params: null, status: 'queued' }, 'a duplicate row with a status');
  await insertRecipient(db, { phone_e164: p(), outcome: 'invalid', params: null, reason: null, status: null }, 'an invalid row without reason');
  await insertRecipient(db, { phone_e164: p(), reason: 'invalid_phone' }, 'an accepted row with a reason');
  await insertRecipient(db, { phone_e164: null, outcome: 'invalid', params: null, reason: 'bogus', status: null }, 'an unknown reason');
  await insertRecipient(db, { phone_e164: null, outcome: 'duplicate', params: null, status: null }, 'a duplicate without E.164');
  await insertRecipient(db, { phone_e164: null }, 'an accepted recipient without E.164');
  await insertRecipient(db, { phone_e164: p(), params: null }, 'an accepted recipient without params');
  await insertRecipient(db, { phone_e164: p(), status: 'sending' }, "a 'sending' recipient without send_phase");
  await insertRecipient(db, { phone_e164: p(), status: 'queued', send_phase: 'retry_wait', retry_at: new Date() }, 'a send_phase outside sending');
  await insertRecipient(db, { phone_e164: p(), status: 'sending', send_phase: 'claimed' }, 'a claimed row without claimed_by');
  await insertRecipient(db, { phone_e164: p(), status: 'sending', send_phase: 'in_flight' }, 'an in-flight row without claimed_by');
  await insertRecipient(db, { phone_e164: p(), status: 'sending', send_phase: 'retry_wait', retry_at: new Date(), claimed_by: 'w1' }, 'a retry-waiting row still claimed');
  await insertRecipient(db, { phone_e164: p(), status: 'sending', send_phase: 'retry_wait' }, 'retry_wait without retry_at');
  for (const s of ['accepted', 'sent', 'delivered', 'read']) {
    await insertRecipient(db, { phone_e164: p(), status: s }, `'${s}' without message_id`);
  }

  // The same guards hold for UPDATEs of a valid row.
  const line = nextLine++;
  await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status)
    VALUES ($1, $2, 'x', '+6281377777777', '{}', 'accepted', 'queued')`, [campaignId, line]);
  const upd = (set: string) => refused(db, `UPDATE recipients SET ${set} WHERE campaign_id = $1 AND line = $2`, [campaignId, line], set);
  await upd(`status = 'sending'`);
  await upd(`status = 'delivered'`);
  await upd(`status = NULL`);
  await upd(`send_phase = 'claimed', claimed_by = 'w'`);
  await upd(`outcome = 'duplicate'`);
  // And a legal transition goes through.
  await db.raw(`UPDATE recipients SET status = 'sending', send_phase = 'claimed', claimed_by = 'w' WHERE campaign_id = $1 AND line = $2`, [campaignId, line]);
});

// Regression: `(send_phase IN ('claimed', 'in_flight')) = (claimed_by IS NOT NULL)` is NULL, hence
// satisfied, whenever send_phase is NULL, so a queued/failed row could keep a claimed_by. The CHECK must
// coalesce the NULL to false, as the sending CHECK next to it does.
test('recipient CHECK: a row outside sending cannot keep a claimed_by (NULL send_phase must not slip through)', async () => {
  await setup(t.db);
  await insertRecipient(t.db, { phone_e164: '+6281388888881', claimed_by: 'w1' }, 'a queued row with claimed_by');
  await insertRecipient(t.db, { phone_e164: '+6281388888882', status: 'failed', claimed_by: 'w1' }, 'a failed row with claimed_by');
});

test('campaign CHECKs: pause_reason, completed_at, cancelled_at, start_at and started_at go with their states', async () => {
  const db = t.db;
  await setup(db);
  const insert = async () => (await campaignInsert(db, ['c', templateId, 'default', 'phone', {}, null, null])).id as string;
  const id = await insert();
  const upd = (set: string) => refused(db, `UPDATE campaigns SET ${set} WHERE id = $1`, [id], set);
  await upd(`state = 'paused', started_at = now()`);
  await upd(`pause_reason = 'operator'`);
  await upd(`state = 'running', pause_reason = 'operator', started_at = now()`);
  await upd(`state = 'completed', started_at = now()`);
  await upd(`completed_at = now()`);
  await upd(`state = 'cancelled'`);
  await upd(`cancelled_at = now()`);
  await upd(`state = 'scheduled'`);
  await upd(`state = 'running'`);
  await upd(`state = 'paused', pause_reason = 'operator'`);
  await upd(`ingest_state = 'half'`);

  const ins = (cols: string, vals: string, what: string) =>
    refused(db, `INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, ${cols}) VALUES ('x', $1, 'default', 'phone', '{}', ${vals})`, [templateId], what);
  await ins('state', `'paused'`, 'a paused campaign without pause_reason');
  await ins('state, started_at', `'completed', now()`, 'a completed campaign without completed_at');
  await ins('state, completed_at', `'cancelled', NULL`, 'a cancelled campaign without cancelled_at');
  await ins('state', `'scheduled'`, 'a scheduled campaign without start_at (and no cron)');
  await ins('state, cron, cron_tz, overlap', `'scheduled', '0 9 * * *', 'UTC', 'skip'`, 'an active recurring campaign without next_run_at');
  await ins('state, cron, cron_tz, overlap, started_at', `'running', '0 9 * * *', 'UTC', 'skip', now()`, 'a recurring campaign that runs');
  await ins('cron, overlap', `'0 9 * * *', 'skip'`, 'a cron without its time zone');
  await ins('state', `'running'`, 'a running campaign that never started');

  // The guarded transitions of sql/queries produce rows the CHECKs accept.
  await db.raw(`UPDATE campaigns SET ingest_state = 'done' WHERE id = $1`, [id]);
  assert.equal((await db.q('campaign_schedule', [id, new Date(Date.now() + 60_000)])).rowCount, 1);
  assert.equal((await db.q('campaign_pause', [id, 'operator'])).rowCount, 1);
  // Paused before its start time: resume schedules it again; then it starts and completes.
  assert.equal((await db.q('campaign_resume', [id])).rows[0].state, 'scheduled');
  assert.equal((await db.q('campaign_start', [id])).rowCount, 1);
  assert.equal((await db.q('campaign_complete_if_done', [id])).rowCount, 1);
  const other = await insert();
  assert.equal((await db.q('campaign_cancel', [other])).rowCount, 1);
  const states = (await db.raw('SELECT id, state FROM campaigns WHERE id = ANY($1::uuid[])', [[id, other]])).rows;
  assert.deepEqual(Object.fromEntries(states.map((r) => [r.id, r.state])), { [id]: 'completed', [other]: 'cancelled' });
});

test('other CHECKs: send attempts, status events, templates', async () => {
  const db = t.db;
  await setup(db);
  const line = nextLine++;
  await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status)
    VALUES ($1, $2, 'x', '+6281366666666', '{}', 'accepted', 'queued')`, [campaignId, line]);
  const attempt = (vals: string, what: string) =>
    refused(db, `INSERT INTO send_attempts (campaign_id, line, attempt, worker, finished_at, result) VALUES ($1, $2, ${vals})`, [campaignId, line], what);
  await attempt(`0, 'w', NULL, NULL`, 'attempt 0');
  await attempt(`1, 'w', now(), NULL`, 'finished without a result');
  await attempt(`1, 'w', NULL, 'accepted'`, 'a result while in flight');
  await attempt(`1, 'w', now(), 'maybe'`, 'an unknown result');
  await db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker) VALUES ($1, $2, 1, 'w')`, [campaignId, line]);

  await refused(db, `INSERT INTO status_events (provider, message_id, status, raw) VALUES ('cloud', 'wamid.x', 'queued', '{}')`, [], 'an unknown callback status');
  await refused(db, `INSERT INTO templates (name, language, category, body, parameter_format, slots) VALUES ('x', 'en', 'promo', 'b', 'positional', '{}')`, [], 'an unknown category');
  await refused(db, `INSERT INTO templates (name, language, category, body, header_format, parameter_format, slots) VALUES ('x', 'en', 'marketing', 'b', 'text', 'positional', '{}')`, [], 'a text header without its text');
  await refused(db, `INSERT INTO templates (name, language, category, body, header_format, header_text, parameter_format, slots) VALUES ('x', 'en', 'marketing', 'b', 'image', 'Hi', 'positional', '{}')`, [], 'a media header with text');
  await refused(db, `INSERT INTO templates (name, language, category, body, parameter_format, slots) VALUES ('x', 'en', 'marketing', 'b', 'mixed', '{}')`, [], 'an unknown parameter format');
});

test('one accepted row per number per campaign (the unique index behind "never twice")', async () => {
  const db = t.db;
  await setup(db);
  const a = nextLine++;
  const b = nextLine++;
  await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status) VALUES ($1, $2, 'x', '+6281355555555', '{}', 'accepted', 'queued')`, [campaignId, a]);
  await assert.rejects(
    db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status) VALUES ($1, $2, 'x', '+6281355555555', '{}', 'accepted', 'queued')`, [campaignId, b]),
    (err: unknown) => (err as { code?: string }).code === '23505',
  );
  // A duplicate row with that number is fine: it is not a recipient.
  await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, outcome) VALUES ($1, $2, 'x', '+6281355555555', 'duplicate')`, [campaignId, b]);
  // The key is the number's digits (0021): an accepted row must hold '+digits'.
  await assert.rejects(
    db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status) VALUES ($1, $2, 'x', '+62 813', '{}', 'accepted', 'queued')`, [campaignId, nextLine++]),
    (err: unknown) => (err as { code?: string }).code === '22P02',
  );
});

test('recipients -> campaigns (checked per statement since 0003): missing campaign refused, delete cascades, campaign_id fixed', async () => {
  const db = t.db;
  await setup(db);
  const ghost = '00000000-0000-4000-8000-000000000000';
  const row = `($1, $2, 'x', '+6281366660003', '{}', 'accepted', 'queued')`;
  const insert = `INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status) VALUES `;
  await assert.rejects(db.raw(insert + row, [ghost, 1]), (err: unknown) => (err as { code?: string }).code === '23503');
  // A multi-row statement with one bad campaign among good rows is refused as a whole.
  await assert.rejects(
    db.raw(insert + `($1, $3, 'x', '+6281366666601', '{}', 'accepted', 'queued'), ($2, 1, 'x', '+6281366666602', '{}', 'accepted', 'queued')`, [campaignId, ghost, nextLine++]),
    (err: unknown) => (err as { code?: string }).code === '23503',
  );
  const line = nextLine++;
  await db.raw(insert + row, [campaignId, line]);
  await assert.rejects(db.raw(`UPDATE recipients SET campaign_id = $1 WHERE campaign_id = $2 AND line = $3`, [ghost, campaignId, line]),
    (err: unknown) => (err as { code?: string }).code === '23503');

  // Deleting a campaign deletes its rows and their attempts.
  const other = await campaignInsert(db, ['cascade', templateId, 'default', 'phone', {}, null, null]);
  await db.raw(insert + row, [other.id, 1]);
  await db.raw(`UPDATE recipients SET status = 'sending', send_phase = 'claimed', claimed_by = 'w', attempts = 1 WHERE campaign_id = $1`, [other.id]);
  await db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker) VALUES ($1, 1, 1, 'w')`, [other.id]);
  await db.q('campaign_delete', [other.id]);
  const left = await db.raw<{ n: number }>(`SELECT (SELECT count(*) FROM recipients WHERE campaign_id = $1)::int + (SELECT count(*) FROM send_attempts WHERE campaign_id = $1)::int AS n`, [other.id]);
  assert.equal(left.rows[0]!.n, 0);
});
