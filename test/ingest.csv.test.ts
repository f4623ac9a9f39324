import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createCampaign, type CreateResult } from '../src/campaigns/service.ts';
import { processIngest } from '../src/ingest/process.ts';
import { CHUNK_BYTES } from '../src/ingest/upload.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createLogger } from '../src/log.ts';
import { UsageError } from '../src/errors.ts';

/**
 * The ingest rules of interface.md (Ingest) through `campaign create`'s own code path: createCampaign
 * inspects the file (encoding, delimiter, header), uploads it in chunks and validates them (processIngest).
 * Files are generated here; every check reads the rows back from PostgreSQL.
 */

let t: TestDb;
const dir = mkdtempSync(join(tmpdir(), 'ingest-csv-test-'));
const log = createLogger('silent', { pretty: false });
const TEMPLATE = 'order_update';
const PARAMS = { 'body.1': 'name', 'body.2': 'order' };

before(async () => {
  t = await createTestDb('ingest_csv');
  const template = await addTemplate(t.db, {
    name: TEMPLATE, language: 'en', category: 'utility', body: 'Hi {{1}}, order {{2}}',
    headerText: null, headerFormat: null, urlButton: false,
  });
  assert.deepEqual(template.slots, ['body.1', 'body.2']);
  // One number is on the opt-out list for every campaign of this file.
  await t.db.q('suppression_add_many', [['+6281234567899'], 'test', null]);
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t.close();
});

let fileNo = 0;
function write(content: string | Buffer, name = `f${++fileNo}.csv`): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

let campaignNo = 0;
function create(csv: string, extra: { defaultCountry?: string; wait?: boolean } = {}): Promise<CreateResult> {
  return createCampaign({ db: t.db, pool: t.pool, log }, {
    name: `c${++campaignNo}`, template: TEMPLATE, language: 'en', csv, channel: 'default', params: PARAMS,
    ...(extra.defaultCountry ? { defaultCountry: extra.defaultCountry } : {}),
  }, extra.wait === false ? { wait: false } : {});
}

interface Row { line: number; outcome: string; reason: string | null }
async function rows(campaignId: string): Promise<Row[]> {
  return (await t.db.raw<Row>('SELECT line, outcome::text, reason FROM recipients WHERE campaign_id = $1 ORDER BY line', [campaignId])).rows;
}

async function rejectsUsage(p: Promise<unknown>, word: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.ok(err.message.includes(word), `${JSON.stringify(err.message)} should mention ${word}`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Line numbers, skipped lines, what a file may look like

/**
 * Physical lines: 1 header · 2 Ann · 3 blank · 4 ",," · 5 " , ,  " · 6-7 Bob (a quoted "Bob<eol>Smith") ·
 * 8 spaces only · 9 Cy · 10-12 Dee (a quoted cell spanning three lines) · 13 Ida, a national number
 * (no --default-country here) · 14 Eve, no line break at the end of the file.
 */
function sampleFile(eol: string): string {
  return [
    'phone,name,order',
    '+6281234567890,Ann,A1',
    '',
    ',,',
    ' , ,  ',
    `+6281234567891,"Bob${eol}Smith",A2`,
    '   ',
    '+6281234567892,Cy,A3',
    `+6281234567893,"Dee${eol}${eol}Dee",A4`,
    '081234567895,Ida,A6',
    '+6281234567894,Eve,A5',
  ].join(eol);
}

for (const [label, eol] of [['LF', '\n'], ['CRLF', '\r\n'], ['CR', '\r']] as const) {
  test(`${label}: each row has the line its record starts on; blank and delimiter-only lines are not rows`, async () => {
    const r = await create(write(sampleFile(eol)));
    assert.deepEqual(await rows(r.id), [
      { line: 2, outcome: 'accepted', reason: null },
      { line: 6, outcome: 'invalid', reason: 'invalid_param' }, // a line break inside a parameter
      { line: 9, outcome: 'accepted', reason: null },
      { line: 10, outcome: 'invalid', reason: 'invalid_param' },
      { line: 13, outcome: 'invalid', reason: 'invalid_phone' }, // national, and no --default-country
      { line: 14, outcome: 'accepted', reason: null },
    ]);
    assert.equal(r.ingest.rows, 6, 'skipped lines are not counted in rows');
    assert.deepEqual(r.ingest.errors_sample.map((e) => e.line), [6, 10, 13]);
    const params = (await t.db.raw('SELECT params FROM recipients WHERE campaign_id = $1 AND line = 14', [r.id])).rows[0].params;
    assert.deepEqual(params, { 'body.1': 'Eve', 'body.2': 'A5' }, 'the last line, without a line break, is read whole');
  });
}

test('CRLF file whose quoted cells hold a bare LF (Excel alt-enter) and CRLFs: one line per break', async () => {
  const r = await create(write('phone,name,order\r\n+6281234567890,"a\nb",A\r\n+6281234567891,c,C\r\n\r\n+6281234567892,"x\r\ny\r\nz",X\r\n+6281234567893,w,W\r\n'));
  assert.deepEqual((await rows(r.id)).map((x) => x.line), [2, 4, 6, 9]);
});

test('a UTF-8 BOM does not stick to the first header (the phone column is found)', async () => {
  const r = await create(write('\uFEFFphone,name,order\n+6281234567890,Ann,A1\n'));
  assert.deepEqual(await rows(r.id), [{ line: 2, outcome: 'accepted', reason: null }]);
});

test('an empty line before the header is counted in the line numbers', async () => {
  const r = await create(write('\nphone,name,order\n+6281234567890,Ann,A1\n'));
  assert.deepEqual((await rows(r.id)).map((x) => x.line), [3]);
});

// Regression: inspectFile (src/ingest/upload.ts) once parsed its sample with `to: 1`, only the first
// record, so a file whose first line holds only delimiters or spaces (a spreadsheet's empty first row
// exported as ",,") failed with "has no header row" (exit 2) although the spec skips such lines.
test('a delimiter-only or spaces-only line before the header is skipped, not fatal', async () => {
  for (const first of [',,', '   ']) {
    const r = await create(write(`${first}\nphone,name,order\n+6281234567890,Ann,A1\n`));
    assert.deepEqual((await rows(r.id)).map((x) => x.line), [3], `first line ${JSON.stringify(first)}`);
  }
});

// Encodings (UTF-16, Windows-1252) and delimiters (; tab |) are covered by test/ingest.formats.test.ts.

test('binary, empty, missing, blank-only and header-only files are usage errors and leave no campaign', async () => {
  const before = (await t.db.raw('SELECT count(*)::int AS n FROM campaigns')).rows[0].n;
  const binary = Buffer.concat([Buffer.from('phone,name\n'), Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00])]);
  await rejectsUsage(create(write(binary)), 'binary');
  // An xlsx (a zip) renamed to .csv: the usual way a binary file reaches ingest.
  await rejectsUsage(create(write(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00]))), 'binary');
  await rejectsUsage(create(write('')), 'empty');
  await rejectsUsage(create(join(dir, 'no-such-file.csv')), 'no-such-file.csv');
  await rejectsUsage(create(write('\n\n\n')), 'header');
  await rejectsUsage(create(write('phone,name,order\n\n,,\n')), 'no data rows');
  // Column problems: no phone column, a mapped column that does not exist.
  await rejectsUsage(create(write('mobile_no,name,order\n+6281234567890,a,b\n')), 'phone');
  await rejectsUsage(create(write('phone,first,order\n+6281234567890,a,b\n')), 'name');
  const afterCount = (await t.db.raw('SELECT count(*)::int AS n FROM campaigns')).rows[0].n;
  assert.equal(afterCount, before, 'a refused file leaves no campaign behind');
});

// ---------------------------------------------------------------------------------------------------------
// Outcomes, row by row

type Outcome = 'accepted' | 'invalid' | 'duplicate' | 'suppressed';
/**
 * Header: phone,name,order,note — name feeds {{1}}, order feeds {{2}}, note feeds nothing. Blank entries
 * are lines that are not rows. Numbers: …890 Ann, …892 (invalid first, accepted later), …895 (national
 * spelling with --default-country ID), …899 suppressed.
 */
const ROWS: Array<[string, Outcome | null, string | null]> = [
  /*  2 */ ['+6281234567890,Ann,A1,x', 'accepted', null],
  /*  3 */ ['12,Bob,A2,x', 'invalid', 'invalid_phone'],
  /*  4 */ ['+6281234567891,,A3,x', 'invalid', 'missing_param'],
  /*  5 */ ['+6281234567892,"Tab\there",A4,x', 'invalid', 'invalid_param'],
  /*  6 */ ['+6281234567890,Dup,A5,x', 'duplicate', null], // of line 2
  /*  7 */ ['+6281234567892,Eve,A6,x', 'accepted', null], // line 5 had this number but was invalid
  /*  8 */ ['+6281234567893,Fay,A7,x,extra', 'invalid', 'malformed_row'],
  /*  9 */ ['+6281234567894,Gus', 'invalid', 'missing_param'], // fewer fields: order (body.2) is empty
  /* 10 */ ['+6281234567899,Hal,A8,x', 'suppressed', null],
  /* 11 */ ['081234567895,Ida,A9', 'accepted', null], // fewer fields: note is empty and feeds nothing
  /* 12 */ ['"+62 812-3456-7895",Jo,B1,x', 'duplicate', null], // the same E.164 as line 11
  /* 13 */ ['+6281234567892,Kim,B2,x', 'duplicate', null], // of line 7
  /* 14 */ ['+6281234567896,"Li\r\nne",B3,x', 'invalid', 'invalid_param'], // lines 14-15
  /* 16 */ ['', null, null],
  /* 17 */ [',,,', null, null],
  /* 18 */ ['+6281234567897,   ,B4,x', 'invalid', 'missing_param'], // only spaces
  /* 19 */ ['+6281234567898,Ned,B5,x', 'accepted', null],
  /* 20 */ ['+6281234567899,Hal again,B6,x', 'suppressed', null],
  /* 21 */ ['abc,,C1,x', 'invalid', 'invalid_phone'], // invalid_phone comes before missing_param
  /* 22 */ ['12,Bob,C2,x,extra', 'invalid', 'malformed_row'], // malformed_row comes before invalid_phone
  /* 23 */ ['+6281234567891,Zed,"C3 with   three   spaces",x', 'accepted', null], // line 4 was invalid
  /* 24 */ ['+6281234567801,"     five",C4,x', 'invalid', 'invalid_param'], // more than four spaces
  /* 25 */ [`+6281234567802,${'x'.repeat(1025)},C5,x`, 'invalid', 'invalid_param'], // over 1,024 characters
  /* 26 */ [`+6281234567803,${'é'.repeat(1024)},C6,x`, 'accepted', null], // 1,024 characters exactly
];

function contactFile(): { text: string; expected: Row[] } {
  const lines = ['phone,name,order,note'];
  const expected: Row[] = [];
  let line = 2;
  for (const [text, outcome, reason] of ROWS) {
    if (outcome) expected.push({ line, outcome, reason });
    lines.push(text);
    line += 1 + (text.match(/\r\n|\n/g)?.length ?? 0);
  }
  return { text: lines.join('\r\n') + '\r\n', expected };
}

test('every row ends in exactly one outcome, decided in the spec order; duplicate only after an accepted row', async () => {
  const { text, expected } = contactFile();
  // The fixture's own line arithmetic agrees with its layout.
  assert.deepEqual(expected.map((e) => e.line), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 18, 19, 20, 21, 22, 23, 24, 25, 26]);
  const file = write(text, 'contacts.csv');
  const r = await create(file, { defaultCountry: 'ID' });
  assert.equal(r.state, 'draft');

  assert.deepEqual(await rows(r.id), expected);

  const phones = (await t.db.raw('SELECT line, phone_input, phone_e164, status::text, params FROM recipients WHERE campaign_id = $1 ORDER BY line', [r.id])).rows;
  const at = (line: number) => phones.find((p) => p.line === line)!;
  assert.equal(at(11).phone_input, '081234567895');
  assert.equal(at(11).phone_e164, '+6281234567895');
  assert.equal(at(12).phone_e164, '+6281234567895');
  assert.equal(at(6).phone_e164, '+6281234567890');
  assert.equal(at(10).phone_e164, '+6281234567899');
  assert.deepEqual(at(2).params, { 'body.1': 'Ann', 'body.2': 'A1' });
  assert.deepEqual(at(23).params, { 'body.1': 'Zed', 'body.2': 'C3 with   three   spaces' }, 'values are kept exactly as written');
  for (const p of phones) {
    const outcome = expected.find((e) => e.line === p.line)!.outcome;
    assert.equal(p.status, outcome === 'accepted' ? 'queued' : null, `line ${p.line}: only accepted rows are recipients`);
    // Params are kept for every row that passed validation (duplicate and suppressed rows too), never
    // for an invalid one.
    assert.equal(p.params === null, outcome === 'invalid', `line ${p.line}: params on valid rows only`);
  }

  const count = (o: string) => expected.filter((e) => e.outcome === o).length;
  assert.deepEqual(
    [r.ingest.rows, r.ingest.accepted, r.ingest.invalid, r.ingest.duplicate, r.ingest.suppressed],
    [expected.length, count('accepted'), count('invalid'), count('duplicate'), count('suppressed')],
  );
  assert.deepEqual([r.ingest.rows, r.ingest.accepted, r.ingest.invalid, r.ingest.duplicate, r.ingest.suppressed], [22, 6, 11, 3, 2]);
  assert.deepEqual(
    r.ingest.errors_sample.map((s) => [s.line, s.reason]),
    expected.filter((e) => e.outcome === 'invalid').slice(0, 10).map((e) => [e.line, e.reason]),
  );
  const detail = (line: number) => r.ingest.errors_sample.find((s) => s.line === line)!.detail;
  assert.match(detail(3), /short/);
  assert.match(detail(5), /tab/);
  assert.match(detail(14), /line break/);

  const c = (await t.db.q('campaign_get', [r.id])).rows[0];
  assert.equal(c.ingest_state, 'done');
  const reasons = (x: string) => expected.filter((e) => e.reason === x).length;
  assert.deepEqual(c.invalid_reasons, {
    invalid_phone: reasons('invalid_phone'), missing_param: reasons('missing_param'),
    invalid_param: reasons('invalid_param'), malformed_row: reasons('malformed_row'),
  });

  // Validating the same campaign again (another process, a retry after a crash) stores nothing twice.
  const before = (await t.db.raw('SELECT * FROM recipients WHERE campaign_id = $1 ORDER BY line', [r.id])).rows;
  const again = await processIngest(t.pool, r.id, log);
  assert.ok(again);
  assert.deepEqual([again.rows, again.accepted, again.invalid, again.duplicate, again.suppressed], [22, 6, 11, 3, 2]);
  assert.deepEqual((await t.db.raw('SELECT * FROM recipients WHERE campaign_id = $1 ORDER BY line', [r.id])).rows, before);
});

test('across chunks: duplicates, suppression and line numbers hold over chunk boundaries; concurrent validators store each row once', async () => {
  // Two chunks or more: ~1.15 MiB of filler rows (~55 bytes each) between the interesting rows.
  const filler = Math.ceil((CHUNK_BYTES * 1.15) / 55);
  const lines = ['phone,name,order', '+6281234567890,Ann,A1', '+6281234567892,"Tab\there",A2'];
  for (let i = 0; i < filler; i++) lines.push(`+62811${String(1_000_000 + i)},Filler person number ${i},ORD-${i}-xxxxxxxx`);
  lines.push('+6281234567890,Dup,B1', '+6281234567892,Eve,B2', '+6281234567899,Hal,B3', '+6281234567892,Eve again,B4', '+62811' + String(1_000_000) + ',Filler again,B5');
  const file = write(lines.join('\n') + '\n', 'big.csv');
  const last = lines.length; // the physical line of the last record

  // Stored first, then validated by two processes at once.
  const r = await create(file, { wait: false });
  const chunks = (await t.db.raw('SELECT ingest_chunks FROM campaigns WHERE id = $1', [r.id])).rows[0].ingest_chunks;
  assert.ok(chunks >= 2, `${chunks} chunks`);
  const results = await Promise.all([processIngest(t.pool, r.id, log), processIngest(t.pool, r.id, log)]);
  // One may find the other holding the campaign (null); a summary, when returned, is final.
  assert.ok(results.some((x) => x !== null));
  let summary = results.find((x) => x !== null)!;
  if ((await t.db.q('campaign_get', [r.id])).rows[0].ingest_state !== 'done') summary = (await processIngest(t.pool, r.id, log))!;

  const tail = (await t.db.raw<Row>('SELECT line, outcome::text, reason FROM recipients WHERE campaign_id = $1 AND (line <= 3 OR line > $2) ORDER BY line', [r.id, last - 5])).rows;
  assert.deepEqual(tail, [
    { line: 2, outcome: 'accepted', reason: null },
    { line: 3, outcome: 'invalid', reason: 'invalid_param' },
    { line: last - 4, outcome: 'duplicate', reason: null },
    { line: last - 3, outcome: 'accepted', reason: null },
    { line: last - 2, outcome: 'suppressed', reason: null },
    { line: last - 1, outcome: 'duplicate', reason: null },
    { line: last, outcome: 'duplicate', reason: null },
  ]);
  const stored = (await t.db.raw('SELECT count(*)::int AS n, count(DISTINCT line)::int AS d, max(line) AS m FROM recipients WHERE campaign_id = $1', [r.id])).rows[0];
  assert.deepEqual(stored, { n: last - 1, d: last - 1, m: last }, 'every data row once, with its line');
  assert.deepEqual([summary.rows, summary.accepted, summary.invalid, summary.duplicate, summary.suppressed], [last - 1, filler + 2, 1, 3, 1]);
});
