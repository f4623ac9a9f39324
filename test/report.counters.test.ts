import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createPool, poolDb, type Db } from '../src/db/executor.ts';
import { MIGRATIONS_DIR, listMigrations, migrate } from '../src/db/migrate.ts';
import { buildReport, buildReportByScan } from '../src/report/report.ts';
import { compactCounters } from '../src/report/counters.ts';

/**
 * The report's maintained counters (0007_report_counters) against the rows themselves: after any sequence
 * of inserts, state changes, attempts, deletes and rolled-back statements, counters + pending deltas equal
 * the exact GROUP BY of the rows, before and after compaction; compaction run by several connections at
 * once (and beside writers and a campaign delete) loses nothing; and the report built from the counters is
 * identical, byte for byte, to the one the aggregate queries give.
 */

let t: TestDb;
let templateId: number;
before(async () => {
  t = await createTestDb('report_counters');
  templateId = (await t.db.raw(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
    VALUES ('rc', 'en', 'utility', 'Hi {{1}}', 'positional', '{1}') RETURNING id`)).rows[0].id;
});
after(async () => { await t.close(); });

interface Count { campaign_id: string; bucket: string; detail: string; title: string; n: number }

/** The exact counts, by GROUP BY over the rows: the definition the counters must meet. */
const EXACT = `
  SELECT campaign_id::text, bucket, detail, title, n::int FROM (
    SELECT campaign_id,
           CASE WHEN outcome = 'accepted' THEN status::text ELSE outcome::text END AS bucket,
           CASE WHEN status = 'failed' THEN coalesce(error_code, 'unknown')
                WHEN status = 'sending' THEN send_phase::text
                WHEN outcome = 'invalid' THEN reason ELSE '' END AS detail,
           CASE WHEN status = 'failed' THEN coalesce(error_title, '') ELSE '' END AS title,
           count(*) AS n
    FROM recipients GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT campaign_id, 'requests', '', '', count(*) FROM send_attempts GROUP BY 1
    UNION ALL
    SELECT campaign_id, 'retries', '', '', count(*) FROM send_attempts WHERE attempt > 1 GROUP BY 1
  ) x`;

/**
 * What the counters say of every existing campaign: folded counts plus pending deltas (or the folded counts
 * alone). The pending deltas of a deleted campaign mean nothing (compaction drops them; no report reads them).
 */
const counted = (withDeltas: boolean) => `
  SELECT campaign_id::text, bucket, detail, title, sum(n)::int AS n FROM (
    SELECT campaign_id, bucket, detail, title, n FROM campaign_counts
    ${withDeltas ? 'UNION ALL SELECT campaign_id, bucket, detail, title, n FROM campaign_count_deltas' : ''}
  ) x
  WHERE campaign_id IN (SELECT id FROM campaigns)
  GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0`;

const key = (c: Count) => JSON.stringify([c.campaign_id, c.bucket, c.detail, c.title]);
const sorted = (rows: Count[]) => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

async function assertCountersExact(db: Db, why: string, withDeltas = true): Promise<void> {
  const exact = sorted((await db.raw<Count>(EXACT)).rows);
  const got = sorted((await db.raw<Count>(counted(withDeltas))).rows);
  assert.deepEqual(got, exact, `${why}: counters differ from the rows`);
}

async function assertReportsEqual(db: Db, ids: string[], why: string): Promise<void> {
  for (const id of ids) {
    const fast = await buildReport(db, id);
    const scan = await buildReportByScan(db, id);
    assert.equal(JSON.stringify(fast), JSON.stringify(scan), `${why}: report of ${id} differs from the aggregate queries`);
  }
}

async function pendingDeltas(db: Db): Promise<number> {
  return (await db.raw<{ n: number }>('SELECT count(*)::int AS n FROM campaign_count_deltas')).rows[0]!.n;
}

async function newCampaign(db: Db, ingest: 'uploading' | 'validating' | 'done' = 'validating'): Promise<string> {
  return (await db.raw(`INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, ingest_state,
      ingest_rows, ingest_accepted, ingest_invalid, ingest_duplicate, ingest_suppressed, invalid_reasons)
    VALUES ('rc', $1, 'default', 'phone', '{}', $2, $3, $3, 0, 0, 0, '{"invalid_phone": 0}') RETURNING id`,
  [templateId, ingest, ingest === 'done' ? 7 : 0])).rows[0].id;
}

// ------------------------------------------------------------------------------------ row states

const CODES = [null, '131026', 'ambiguous', 'unknown', 'http_503', 'AA', 'zz'] as const;
const TITLES = [null, '', 'Message undeliverable', 'zeta', 'Ärger', 'x'.repeat(3000)] as const;

type Accepted =
  | { status: 'queued' }
  | { status: 'sending'; phase: 'claimed' | 'in_flight' | 'retry_wait' | 'ambiguous'; code: string | null }
  | { status: 'accepted' | 'sent' | 'delivered' | 'read' }
  | { status: 'failed'; code: string | null; title: string | null; withMessage: boolean };
type RowState =
  | { outcome: 'invalid'; reason: 'invalid_phone' | 'missing_param' | 'invalid_param' | 'malformed_row' }
  | { outcome: 'duplicate' | 'suppressed' }
  | ({ outcome: 'accepted' } & Accepted);

const acceptedArb: fc.Arbitrary<Accepted> = fc.oneof(
  fc.constant({ status: 'queued' as const }),
  fc.record({
    status: fc.constant('sending' as const),
    phase: fc.constantFrom('claimed' as const, 'in_flight' as const, 'retry_wait' as const, 'ambiguous' as const),
    code: fc.constantFrom(...CODES),
  }),
  fc.record({ status: fc.constantFrom('accepted' as const, 'sent' as const, 'delivered' as const, 'read' as const) }),
  fc.record({ status: fc.constant('failed' as const), code: fc.constantFrom(...CODES), title: fc.constantFrom(...TITLES), withMessage: fc.boolean() }),
);
const rowArb: fc.Arbitrary<RowState> = fc.oneof(
  { arbitrary: fc.record({ outcome: fc.constant('invalid' as const), reason: fc.constantFrom('invalid_phone' as const, 'missing_param' as const, 'invalid_param' as const, 'malformed_row' as const) }), weight: 1 },
  { arbitrary: fc.record({ outcome: fc.constantFrom('duplicate' as const, 'suppressed' as const) }), weight: 1 },
  { arbitrary: acceptedArb.map((a) => ({ outcome: 'accepted' as const, ...a })), weight: 4 },
);

/** The state columns of a row (CHECK-consistent), as strings/nulls for jsonb_to_recordset. */
function columns(s: RowState, line: number) {
  const base = {
    line, phone_input: `p${line}`, phone_e164: s.outcome === 'invalid' ? null : `+1555${line}`,
    params: s.outcome === 'accepted' ? ['x'] : null, outcome: s.outcome, reason: s.outcome === 'invalid' ? s.reason : null,
    status: null as string | null, send_phase: null as string | null, claimed_by: null as string | null,
    retry_at: null as string | null, message_id: null as string | null, error_code: null as string | null, error_title: null as string | null,
  };
  if (s.outcome !== 'accepted') return base;
  return { ...base, ...acceptedColumns(s, line) };
}

function acceptedColumns(s: Accepted, line: number) {
  const c = {
    status: s.status as string, send_phase: null as string | null, claimed_by: null as string | null,
    retry_at: null as string | null, message_id: null as string | null, error_code: null as string | null, error_title: null as string | null,
  };
  if (s.status === 'sending') {
    c.send_phase = s.phase;
    if (s.phase === 'claimed' || s.phase === 'in_flight') c.claimed_by = 'w1';
    if (s.phase === 'retry_wait' || s.phase === 'ambiguous') c.retry_at = new Date().toISOString();
    c.error_code = s.code;
  } else if (s.status === 'failed') {
    c.error_code = s.code;
    c.error_title = s.title;
    if (s.withMessage) c.message_id = `m${line}`;
  } else if (s.status !== 'queued') {
    c.message_id = `m${line}`;
  }
  return c;
}

const RECORD = `x (line int, phone_input text, phone_e164 text, params jsonb, outcome row_outcome, reason text,
  status recipient_status, send_phase send_phase, claimed_by text, retry_at timestamptz, message_id text,
  error_code text, error_title text)`;

// ------------------------------------------------------------------------------------ operations

/** Which rows a statement touches: one campaign or all, lines with line % m = k. */
interface Sel { campaign: number | null; m: number; k: number }
const selArb: fc.Arbitrary<Sel> = fc.record({ campaign: fc.option(fc.nat(2), { nil: null }), m: fc.integer({ min: 1, max: 4 }), k: fc.nat(3) });

type Op = { rollback: boolean } & (
  | { op: 'insert'; campaign: number; rows: RowState[] }
  | { op: 'upsert'; campaign: number; rows: Accepted[]; back: number }
  | { op: 'set'; sel: Sel; state: Accepted }
  | { op: 'touch'; sel: Sel }
  | { op: 'attempt'; sel: Sel }
  | { op: 'renumber'; sel: Sel; up: boolean }
  | { op: 'delete_attempts'; sel: Sel }
  | { op: 'delete_rows'; sel: Sel }
  | { op: 'delete_campaign'; campaign: number }
  | { op: 'compact'; batch: number; maxBatches: number }
);

/** About one statement in five runs in a transaction that rolls back. */
const rb = fc.integer({ min: 0, max: 9 }).map((n) => n < 2);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('insert' as const), campaign: fc.nat(2), rows: fc.array(rowArb, { minLength: 1, maxLength: 25 }) }), weight: 5 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('upsert' as const), campaign: fc.nat(2), rows: fc.array(acceptedArb, { minLength: 1, maxLength: 8 }), back: fc.nat(10) }), weight: 2 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('set' as const), sel: selArb, state: acceptedArb }), weight: 6 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('touch' as const), sel: selArb }), weight: 1 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('attempt' as const), sel: selArb }), weight: 3 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('renumber' as const), sel: selArb, up: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('delete_attempts' as const), sel: selArb }), weight: 1 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('delete_rows' as const), sel: selArb }), weight: 1 },
  { arbitrary: fc.record({ rollback: rb, op: fc.constant('delete_campaign' as const), campaign: fc.nat(2) }), weight: 1 },
  { arbitrary: fc.record({ rollback: fc.constant(false), op: fc.constant('compact' as const), batch: fc.integer({ min: 1, max: 6 }), maxBatches: fc.integer({ min: 1, max: 3 }) }), weight: 2 },
);

class Rollback extends Error {}

interface World { ids: string[]; alive: boolean[]; next: number[] }

function where(sel: Sel, w: World, alias = ''): { sql: string; params: unknown[] } {
  const ids = sel.campaign === null ? w.ids : [w.ids[sel.campaign]!];
  return { sql: `${alias}campaign_id = ANY ($1::uuid[]) AND ${alias}line % ${sel.m} = ${sel.k % sel.m}`, params: [ids] };
}

async function apply(db: Db, op: Op, w: World): Promise<void> {
  switch (op.op) {
    case 'insert': {
      if (!w.alive[op.campaign]) return;
      const first = w.next[op.campaign]!;
      w.next[op.campaign] = first + op.rows.length;
      const rows = op.rows.map((s, i) => columns(s, first + i));
      await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, reason, status, send_phase,
          claimed_by, retry_at, message_id, error_code, error_title)
        SELECT $1, line, phone_input, phone_e164, params, outcome, reason, status, send_phase, claimed_by, retry_at, message_id,
               error_code, error_title
        FROM jsonb_to_recordset($2::jsonb) AS ${RECORD}`, [w.ids[op.campaign], JSON.stringify(rows)]);
      return;
    }
    case 'upsert': {
      // New lines and existing ones: INSERT … ON CONFLICT DO UPDATE fires both the insert and the update trigger.
      if (!w.alive[op.campaign]) return;
      const first = Math.max(1, w.next[op.campaign]! - op.back);
      w.next[op.campaign] = Math.max(w.next[op.campaign]!, first + op.rows.length);
      const rows = op.rows.map((s, i) => columns({ outcome: 'accepted', ...s }, first + i));
      await db.raw(`INSERT INTO recipients AS r (campaign_id, line, phone_input, phone_e164, params, outcome, reason, status, send_phase,
          claimed_by, retry_at, message_id, error_code, error_title)
        SELECT $1, line, phone_input, phone_e164, params, outcome, reason, status, send_phase, claimed_by, retry_at, message_id,
               error_code, error_title
        FROM jsonb_to_recordset($2::jsonb) AS ${RECORD}
        ON CONFLICT (campaign_id, line) DO UPDATE SET status = excluded.status, send_phase = excluded.send_phase,
          claimed_by = excluded.claimed_by, retry_at = excluded.retry_at, message_id = excluded.message_id,
          error_code = excluded.error_code, error_title = excluded.error_title
        WHERE r.outcome = 'accepted'`, [w.ids[op.campaign], JSON.stringify(rows)]);
      return;
    }
    case 'set': {
      const c = acceptedColumns(op.state, 0);
      const wh = where(op.sel, w);
      await db.raw(`UPDATE recipients SET status = $2, send_phase = $3, claimed_by = $4, retry_at = $5,
          message_id = CASE WHEN $6::text IS NULL THEN NULL ELSE 'm' || line END, error_code = $7, error_title = $8, updated_at = now()
        WHERE outcome = 'accepted' AND ${wh.sql}`,
      [...wh.params, c.status, c.send_phase, c.claimed_by, c.retry_at, c.message_id, c.error_code, c.error_title]);
      return;
    }
    case 'touch': {
      const wh = where(op.sel, w);
      await db.raw(`UPDATE recipients SET updated_at = now() WHERE ${wh.sql}`, wh.params);
      return;
    }
    case 'attempt': {
      const wh = where(op.sel, w, 'r.');
      await db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker)
        SELECT r.campaign_id, r.line, coalesce((SELECT max(a.attempt) FROM send_attempts a WHERE a.campaign_id = r.campaign_id
          AND a.line = r.line AND a.attempt < 1000), 0) + 1, 'w1'
        FROM recipients r WHERE r.outcome = 'accepted' AND ${wh.sql}`, wh.params);
      return;
    }
    case 'renumber': {
      // UPDATE OF attempt (nothing in the code does it; the counters follow anyway).
      const wh = where(op.sel, w, 'a.');
      await db.raw(op.up
        ? `UPDATE send_attempts a SET attempt = attempt + 1000 WHERE a.attempt < 1000 AND ${wh.sql}
             AND NOT EXISTS (SELECT 1 FROM send_attempts b WHERE b.campaign_id = a.campaign_id AND b.line = a.line AND b.attempt = a.attempt + 1000)`
        : `UPDATE send_attempts a SET attempt = attempt - 1000 WHERE a.attempt > 1000 AND ${wh.sql}
             AND NOT EXISTS (SELECT 1 FROM send_attempts b WHERE b.campaign_id = a.campaign_id AND b.line = a.line AND b.attempt = a.attempt - 1000)`,
      wh.params);
      return;
    }
    case 'delete_attempts': {
      const wh = where(op.sel, w);
      await db.raw(`DELETE FROM send_attempts WHERE ${wh.sql}`, wh.params);
      return;
    }
    case 'delete_rows': {
      // Their attempts go with them (ON DELETE CASCADE): the send_attempts delete trigger counts those.
      const wh = where(op.sel, w);
      await db.raw(`DELETE FROM recipients WHERE ${wh.sql}`, wh.params);
      return;
    }
    case 'delete_campaign': {
      await db.q('campaign_delete', [w.ids[op.campaign]]);
      if (!op.rollback) w.alive[op.campaign] = false;
      return;
    }
    case 'compact':
      await compactCounters(db, { batch: op.batch, maxBatches: op.maxBatches });
  }
}

test('counters + deltas equal the exact GROUP BY after any sequence of changes; the report equals the aggregate one', async () => {
  const db = t.db;
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
    run++;
    const w: World = {
      ids: [await newCampaign(db, 'validating'), await newCampaign(db, 'done'), await newCampaign(db, 'uploading')],
      alive: [true, true, true],
      next: [1, 1, 1],
    };
    try {
      for (const op of ops) {
        const saved = [...w.next];
        if (op.rollback) {
          await db.tx(async (tx) => { await apply(tx, op, w); throw new Rollback(); }).catch((err) => { if (!(err instanceof Rollback)) throw err; });
          w.next = saved.map((n, i) => Math.max(n, w.next[i]!)); // lines of rolled-back rows are not reused
        } else {
          await apply(db, op, w);
        }
      }
      await assertCountersExact(db, `run ${run}, before compaction`);
      await assertReportsEqual(db, w.ids, `run ${run}, before compaction`);
      await compactCounters(db, { batch: 7, maxBatches: 1_000 });
      assert.equal(await pendingDeltas(db), 0);
      await assertCountersExact(db, `run ${run}, after compaction`, false);
      const orphans = (await db.raw('SELECT count(*)::int AS n FROM campaign_counts WHERE campaign_id NOT IN (SELECT id FROM campaigns)')).rows[0].n;
      assert.equal(orphans, 0, 'counters of a deleted campaign');
      await assertReportsEqual(db, w.ids, `run ${run}, after compaction`);
      for (const [i, id] of w.ids.entries()) {
        if (!w.alive[i]) assert.equal(await buildReport(db, id), null);
      }
    } finally {
      // Deleting the campaigns takes their counters with them (the cascade) and their last deltas (compaction).
      await db.raw('DELETE FROM campaigns WHERE id = ANY ($1::uuid[])', [w.ids]);
      await compactCounters(db, { maxBatches: 1_000 });
    }
    const left = (await db.raw('SELECT (SELECT count(*) FROM campaign_counts)::int AS c, (SELECT count(*) FROM campaign_count_deltas)::int AS d')).rows[0];
    assert.deepEqual(left, { c: 0, d: 0 }, 'counters left behind by deleted campaigns');
  }), { numRuns: 60 });
});

test('the failure list: top 20 by count then code, the largest title of each code, long titles, ties', async () => {
  const db = t.db;
  const id = await newCampaign(db, 'done');
  // 25 codes (more than the report lists), tied counts, titles null / '' / long / several per code.
  await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, error_code, error_title, failed_at)
    SELECT $1, i, 'p', '+1666' || i, '[]', 'accepted', 'failed',
           CASE WHEN i % 26 = 25 THEN NULL ELSE 'c' || lpad((i % 26)::text, 2, '0') END,
           CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN repeat('T', 4000) || (i % 3) ELSE 'title ' || (i % 5) END, now()
    FROM generate_series(1, 600) i`, [id]);
  await db.raw(`UPDATE recipients SET status = 'read', message_id = 'm' || line, error_code = NULL, error_title = NULL
    WHERE campaign_id = $1 AND line % 7 = 0`, [id]);
  await assertCountersExact(db, 'failures');
  await assertReportsEqual(db, [id], 'failures');
  const r = (await buildReport(db, id))!;
  assert.equal(r.failures.length, 20);
  await compactCounters(db);
  await assertReportsEqual(db, [id], 'failures, compacted');
  assert.equal(await buildReport(db, '00000000-0000-4000-8000-000000000000'), null);
  await db.q('campaign_delete', [id]);
  await compactCounters(db);
});

test('compaction by two connections at once, beside writers and a campaign delete, loses nothing', async () => {
  const db = t.db;
  const ids = [await newCampaign(db), await newCampaign(db), await newCampaign(db)];
  for (const id of ids) {
    await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status)
      SELECT $1, i, 'p', '+1777' || i, '[]', 'accepted', 'queued' FROM generate_series(1, 400) i`, [id]);
  }
  // Many small statements, each its own delta rows: a DO block runs them in one go.
  const churn = (id: string, n: number, seed: number) => `DO $$
    DECLARE i int;
    BEGIN
      FOR i IN 1..${n} LOOP
        CASE (i + ${seed}) % 5
          WHEN 0 THEN UPDATE recipients SET status = 'failed', send_phase = NULL, claimed_by = NULL, message_id = NULL,
                        error_code = (ARRAY['131026', 'ambiguous', NULL])[1 + i % 3], error_title = 't' || (i % 4)
                      WHERE campaign_id = '${id}' AND line = 1 + (i * 7) % 400;
          WHEN 1 THEN UPDATE recipients SET status = 'sending', send_phase = 'claimed', claimed_by = 'w', message_id = NULL
                      WHERE campaign_id = '${id}' AND line = 1 + (i * 11) % 400;
          WHEN 2 THEN UPDATE recipients SET status = 'delivered', send_phase = NULL, claimed_by = NULL, message_id = 'm'
                      WHERE campaign_id = '${id}' AND line = 1 + (i * 13) % 400;
          WHEN 3 THEN INSERT INTO send_attempts (campaign_id, line, attempt, worker)
                      SELECT '${id}'::uuid, l, coalesce(max(attempt), 0) + 1, 'w'
                      FROM (SELECT 1 + (i * 17) % 400 AS l) x LEFT JOIN send_attempts a ON a.campaign_id = '${id}' AND a.line = x.l GROUP BY l;
          ELSE UPDATE recipients SET status = 'queued', send_phase = NULL, claimed_by = NULL, message_id = NULL, error_code = NULL, error_title = NULL
               WHERE campaign_id = '${id}' AND line BETWEEN 1 + (i * 3) % 400 AND 10 + (i * 3) % 400;
        END CASE;
      END LOOP;
    END $$`;
  await Promise.all(ids.map((id, i) => db.raw(churn(id, 2000, i))));
  const before = await pendingDeltas(db);
  assert.ok(before > 5000, `only ${before} deltas to compact`);

  // Two compactors on their own connections, small batches so they overlap for a long time; meanwhile
  // writers keep committing small transactions, and a campaign whose deltas are pending is deleted.
  let writing = true;
  const compactor = async () => {
    let folded = 0;
    while (writing || (await pendingDeltas(db)) > 0) folded += await compactCounters(db, { batch: 150, maxBatches: 5 });
    return folded;
  };
  const writer = async (id: string, seed: number) => {
    for (let round = 0; round < 40; round++) await db.raw(churn(id, 10, seed + round));
  };
  const deleter = async () => {
    await new Promise((r) => setTimeout(r, 200));
    await db.q('campaign_delete', [ids[2]]);
  };
  // (No writer on the deleted campaign: a bulk delete and a transaction updating its rows in another order
  // can deadlock each other, counters or not.)
  const work = Promise.all([writer(ids[0]!, 100), writer(ids[1]!, 200), deleter()])
    .finally(() => { writing = false; });
  const [folded] = await Promise.all([Promise.all([compactor(), compactor()]), work]);
  assert.ok(folded[0]! > 0 && folded[1]! > 0, `both compactors folded deltas: ${folded}`);

  assert.equal(await pendingDeltas(db), 0);
  await assertCountersExact(db, 'after concurrent compaction', false);
  await assertReportsEqual(db, ids, 'after concurrent compaction');
  const orphans = (await db.raw('SELECT count(*)::int AS n FROM campaign_counts WHERE campaign_id = $1', [ids[2]])).rows[0].n;
  assert.equal(orphans, 0);
  for (const id of ids) await db.q('campaign_delete', [id]);
  await compactCounters(db, { maxBatches: 1_000 });
});

test('the migration backfills the counters of existing campaigns', async () => {
  const name = `t_rc_backfill_${randomBytes(4).toString('hex')}`;
  await t.db.raw(`CREATE DATABASE ${name}`);
  const u = new URL(t.url);
  u.pathname = `/${name}`;
  const pool = createPool(u.toString(), { max: 4 });
  const dir = mkdtempSync(join(tmpdir(), 'rc-migrations-'));
  try {
    const mine = listMigrations().find((m) => m.name === 'report_counters')!.version;
    for (const m of listMigrations().filter((x) => x.version < mine)) {
      const file = `${String(m.version).padStart(4, '0')}_${m.name}.sql`;
      copyFileSync(join(MIGRATIONS_DIR, file), join(dir, file));
    }
    await migrate(pool, dir);
    const db = poolDb(pool);
    const tpl = (await db.raw(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
      VALUES ('rc', 'en', 'utility', 'Hi', 'positional', '{}') RETURNING id`)).rows[0].id;
    const ids: string[] = [];
    for (let c = 0; c < 2; c++) {
      const id = (await db.raw(`INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, ingest_state)
        VALUES ('old', $1, 'default', 'phone', '{}', 'validating') RETURNING id`, [tpl])).rows[0].id;
      ids.push(id);
      await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, reason, status, send_phase,
          claimed_by, retry_at, message_id, error_code, error_title)
        SELECT $1, i, 'p', CASE WHEN i % 10 = 0 THEN NULL ELSE '+1888' || i END, '[]',
               (CASE WHEN i % 10 = 0 THEN 'invalid' WHEN i % 10 = 1 THEN 'duplicate' ELSE 'accepted' END)::row_outcome,
               CASE WHEN i % 10 = 0 THEN 'missing_param' END,
               (CASE WHEN i % 10 IN (0, 1) THEN NULL WHEN i % 10 = 2 THEN 'sending' WHEN i % 10 = 3 THEN 'failed'
                     WHEN i % 10 = 4 THEN 'read' ELSE 'queued' END)::recipient_status,
               (CASE WHEN i % 10 = 2 THEN 'ambiguous' END)::send_phase, NULL,
               CASE WHEN i % 10 = 2 THEN now() END, CASE WHEN i % 10 = 4 THEN 'm' END,
               CASE WHEN i % 10 = 3 THEN (ARRAY['ambiguous', '131026', NULL])[1 + i % 3] END,
               CASE WHEN i % 10 = 3 THEN 'title ' || (i % 2) END
        FROM generate_series(1, ${500 + c * 100}) i`, [id]);
      await db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker)
        SELECT $1, line, k, 'w' FROM recipients, generate_series(1, 1 + line % 3) k
        WHERE campaign_id = $1 AND status IN ('sending', 'failed', 'read')`, [id]);
    }
    assert.deepEqual(await migrate(pool), [mine, ...listMigrations().filter((m) => m.version > mine).map((m) => m.version)]);
    assert.equal(await pendingDeltas(db), 0);
    await assertCountersExact(db, 'after the backfill', false);
    await assertReportsEqual(db, ids, 'after the backfill');
    // And the triggers run from there on.
    await db.raw(`UPDATE recipients SET status = 'failed', error_code = 'late' WHERE campaign_id = $1 AND status = 'queued' AND line % 3 = 0`, [ids[0]]);
    await assertCountersExact(db, 'after the backfill and an update');
    await assertReportsEqual(db, ids, 'after the backfill and an update');
    // TRUNCATE fires no DML trigger; its own trigger forgets what the table counted.
    await db.raw('TRUNCATE send_attempts');
    await assertCountersExact(db, 'after TRUNCATE send_attempts');
    await db.raw('TRUNCATE recipients CASCADE');
    await assertCountersExact(db, 'after TRUNCATE recipients');
    await assertReportsEqual(db, ids, 'after TRUNCATE');
  } finally {
    await pool.end().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await t.db.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
});
