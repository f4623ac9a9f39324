import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from '../src/db/queries.ts';
import type { Db } from '../src/db/executor.ts';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { openCsv, type CsvRecord } from '../src/ingest/csv.ts';
import { ingestRows, prepareIngest, type IngestSummary } from '../src/ingest/ingest.ts';
import { addTemplate } from '../src/templates/store.ts';
import { UsageError } from '../src/errors.ts';

let t: TestDb;

/**
 * campaign_insert with the seven columns every version of the query takes (name, template, channel, phone
 * column, param map, default country, source file); any later optional parameters are passed as null.
 */
async function campaignInsert(db: Db, values: unknown[]): Promise<any> {
  const n = Math.max(0, ...[...sql('campaign_insert').matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  return (await db.q('campaign_insert', [...values, ...Array(Math.max(0, n - values.length)).fill(null)])).rows[0];
}
const dir = mkdtempSync(join(tmpdir(), 'ingest-csv-test-'));
before(async () => { t = await createTestDb('ingest_csv'); });
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

async function readAll(file: string): Promise<{ header: string[]; records: CsvRecord[] }> {
  const src = await openCsv(file);
  const records: CsvRecord[] = [];
  for await (const r of src.records) records.push(r);
  return { header: src.header, records };
}

async function rejectsUsage(p: Promise<unknown>, word?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    if (word) assert.ok(err.message.includes(word), `${JSON.stringify(err.message)} should mention ${word}`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------
// openCsv: line numbers and what is skipped

/**
 * One file, written with `eol` between lines and inside the quoted multi-line cell. Physical lines:
 *  1 header · 2 Ann · 3 blank · 4 ",," · 5 " , ,  " · 6-7 Bob (quoted "Bob<eol>Smith") · 8 spaces only ·
 *  9 Cy · 10 Dee (a quoted cell spanning three lines: 10-12) · 13 Eve, no line break at the end of the file.
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
    '+6281234567894,Eve,A5',
  ].join(eol);
}

for (const [label, eol] of [['LF', '\n'], ['CRLF', '\r\n'], ['CR', '\r']] as const) {
  test(`openCsv (${label}): each record carries the line it starts on; blank and delimiter-only lines are skipped`, async () => {
    const { header, records } = await readAll(write(sampleFile(eol)));
    assert.deepEqual(header, ['phone', 'name', 'order']);
    assert.deepEqual(records.map((r) => r.line), [2, 6, 9, 10, 13]);
    assert.deepEqual(records.map((r) => r.fields[1]), ['Ann', `Bob${eol}Smith`, 'Cy', `Dee${eol}${eol}Dee`, 'Eve']);
    assert.deepEqual(records[0]!.fields, ['+6281234567890', 'Ann', 'A1']);
    assert.deepEqual(records[4]!.fields, ['+6281234567894', 'Eve', 'A5']);
  });
}

test('openCsv: a CRLF file whose quoted cell holds a bare LF (Excel alt-enter) still counts one line per break', async () => {
  const file = write('phone,name\r\n+6281234567890,"a\nb"\r\n+6281234567891,c\r\n\r\n+6281234567892,"x\r\ny\r\nz"\r\n+6281234567893,w\r\n');
  const { records } = await readAll(file);
  assert.deepEqual(records.map((r) => r.line), [2, 4, 6, 9]);
  assert.equal(records[0]!.fields[1], 'a\nb');
  assert.equal(records[2]!.fields[1], 'x\r\ny\r\nz');
});

test('openCsv: a UTF-8 BOM is stripped from the first header; header names are trimmed', async () => {
  const { header, records } = await readAll(write('\uFEFFphone, name ,order\n+6281234567890,Ann,A1\n'));
  assert.deepEqual(header, ['phone', 'name', 'order']);
  assert.equal(header[0]!.charCodeAt(0), 'p'.charCodeAt(0));
  assert.deepEqual(records, [{ line: 2, fields: ['+6281234567890', 'Ann', 'A1'] }]);
});

test('openCsv: blank lines before the header are counted in the line numbers', async () => {
  const { header, records } = await readAll(write('\n,\nphone,name\n+6281234567890,Ann\n'));
  assert.deepEqual(header, ['phone', 'name']);
  assert.deepEqual(records.map((r) => r.line), [4]);
});

test('openCsv: records with more or fewer fields than the header are passed on as they are', async () => {
  const { records } = await readAll(write('phone,name,order\n+6281234567890,Ann\n+6281234567891,Bob,B,extra\n'));
  assert.deepEqual(records, [
    { line: 2, fields: ['+6281234567890', 'Ann'] },
    { line: 3, fields: ['+6281234567891', 'Bob', 'B', 'extra'] },
  ]);
});

test('openCsv: binary, empty, missing and blank-only files are usage errors', async () => {
  const binary = Buffer.concat([Buffer.from('phone,name\n'), Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00, 0x50, 0x4b, 0x03, 0x04])]);
  await rejectsUsage(openCsv(write(binary)), 'binary');
  // A zip (xlsx) renamed to .csv: the usual way a binary file reaches ingest.
  await rejectsUsage(openCsv(write(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00]))), 'binary');
  await rejectsUsage(openCsv(write('')), 'empty');
  await rejectsUsage(openCsv(join(dir, 'no-such-file.csv')), 'no-such-file.csv');
  await rejectsUsage(openCsv(write('\n\n   \n,,,\r\n , \t \n')), 'header');
});

// ---------------------------------------------------------------------------------------------------------
// Through the database: every row ends in exactly one outcome, with its line

interface Expected { line: number; outcome: 'accepted' | 'invalid' | 'duplicate' | 'suppressed'; reason: string | null; e164?: string }

/**
 * The contact file, with batchRows = 3 so that "an earlier row was accepted" crosses batch boundaries.
 * Header: phone,name,order,note — name feeds {{1}}, order feeds {{2}}; note feeds nothing.
 */
const ROWS: Array<[string, Expected['outcome'], string | null, string?]> = [
  /*  2 */ ['+6281234567890,Ann,A1,x', 'accepted', null, '+6281234567890'],
  /*  3 */ ['12,Bob,A2,x', 'invalid', 'invalid_phone'],
  /*  4 */ ['+6281234567891,,A3,x', 'invalid', 'missing_param'],
  /*  5 */ ['+6281234567892,"Tab\there",A4,x', 'invalid', 'invalid_param'],
  /*  6 */ ['+6281234567890,Dup,A5,x', 'duplicate', null, '+6281234567890'], // of line 2, an earlier batch
  /*  7 */ ['+6281234567892,Eve,A6,x', 'accepted', null, '+6281234567892'], // line 5 had this number but was invalid
  /*  8 */ ['+6281234567893,Fay,A7,x,extra', 'invalid', 'malformed_row'],
  /*  9 */ ['+6281234567894,Gus', 'invalid', 'missing_param'], // fewer fields: order (body.2) is empty
  /* 10 */ ['+6281234567899,Hal,A8,x', 'suppressed', null, '+6281234567899'],
  /* 11 */ ['081234567895,Ida,A9', 'accepted', null, '+6281234567895'], // fewer fields: note is empty, feeds nothing
  /* 12 */ ['"+62 812-3456-7895",Jo,B1,x', 'duplicate', null, '+6281234567895'], // same batch as line 11
  /* 13 */ ['+6281234567892,Kim,B2,x', 'duplicate', null, '+6281234567892'], // of line 7
  /* 14 */ ['+6281234567896,"Li\r\nne",B3,x', 'invalid', 'invalid_param'], // lines 14-15
  /* 16 */ ['', 'accepted', null], // blank: skipped, not a row
  /* 17 */ [',,,', 'accepted', null], // delimiters only: skipped
  /* 18 */ ['+6281234567897,   ,B4,x', 'invalid', 'missing_param'],
  /* 19 */ ['+6281234567898,Ned,B5,x', 'accepted', null, '+6281234567898'],
  /* 20 */ ['+6281234567899,Hal again,B6,x', 'suppressed', null, '+6281234567899'],
  /* 21 */ ['abc,,C1,x', 'invalid', 'invalid_phone'], // invalid_phone comes before missing_param
  /* 22 */ ['12,Bob,C2,x,extra', 'invalid', 'malformed_row'], // malformed_row comes before invalid_phone
  /* 23 */ ['+6281234567891,Zed,"C3 with   three   spaces",x', 'accepted', null, '+6281234567891'], // line 4 was invalid
];

function contactFile(): { text: string; expected: Expected[] } {
  const lines = ['phone,name,order,note'];
  const expected: Expected[] = [];
  let line = 2;
  for (const [text, outcome, reason, e164] of ROWS) {
    const blank = text.replace(/[,\s]/g, '') === '';
    if (!blank) expected.push({ line, outcome, reason, ...(e164 ? { e164 } : {}) });
    lines.push(text);
    line += 1 + (text.match(/\r\n|\n/g)?.length ?? 0);
  }
  return { text: lines.join('\r\n') + '\r\n', expected };
}

async function setupCampaign(name: string) {
  const template = await addTemplate(t.db, {
    name: `order_update_${name}`, language: 'en', category: 'utility', body: 'Hi {{1}}, order {{2}}',
    headerText: null, headerFormat: null, urlButton: false,
  });
  assert.deepEqual(template.slots, ['body.1', 'body.2']);
  const params = { 'body.1': 'name', 'body.2': 'order' };
  const campaign = await campaignInsert(t.db, [name, template.id, 'default', 'phone', params, 'ID', null]);
  return { template, params, campaignId: campaign.id as string };
}

test('ingest: every row gets its line and outcome, in the spec order; duplicates only after an accepted row', async () => {
  const { text, expected } = contactFile();
  // Sanity of the fixture itself: the line arithmetic above agrees with the physical layout.
  assert.deepEqual(expected.map((e) => e.line), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 18, 19, 20, 21, 22, 23]);
  const file = write(text, 'contacts.csv');
  await t.db.q('suppression_add_many', [['+6281234567899'], 'test', null]);
  const { template, params, campaignId } = await setupCampaign('main');

  const prepared = await prepareIngest(file, template, undefined, params);
  assert.equal(prepared.plan.phoneColumn, 'phone');
  const progress: number[] = [];
  const summary = await ingestRows(t.db, campaignId, prepared, template, {
    defaultCountry: 'ID', batchRows: 3, onProgress: (p) => progress.push(p.rows),
  });
  assert.deepEqual(progress, [3, 6, 9, 12, 15, 18, 19], 'one progress report per batch of 3, then the tail');

  const rows = (await t.db.raw<{ line: number; outcome: string; reason: string | null; phone_e164: string | null }>(
    'SELECT line, outcome, reason, phone_e164 FROM recipients WHERE campaign_id = $1 ORDER BY line', [campaignId])).rows;
  assert.deepEqual(
    rows.map((r) => ({ line: r.line, outcome: r.outcome, reason: r.reason })),
    expected.map((e) => ({ line: e.line, outcome: e.outcome, reason: e.reason })),
  );
  for (const e of expected) {
    if (e.e164) assert.equal(rows.find((r) => r.line === e.line)!.phone_e164, e.e164, `line ${e.line} E.164`);
  }

  // Accepted rows are queued recipients with their parameters exactly as written.
  const accepted = (await t.db.raw('SELECT line, status, params, phone_input FROM recipients WHERE campaign_id = $1 AND outcome = $2 ORDER BY line', [campaignId, 'accepted'])).rows;
  assert.ok(accepted.every((r) => r.status === 'queued'));
  assert.deepEqual(accepted.find((r) => r.line === 2)!.params, { 'body.1': 'Ann', 'body.2': 'A1' });
  assert.deepEqual(accepted.find((r) => r.line === 23)!.params, { 'body.1': 'Zed', 'body.2': 'C3 with   three   spaces' });
  assert.equal(accepted.find((r) => r.line === 11)!.phone_input, '081234567895');
  const others = (await t.db.raw('SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND outcome <> $2 AND status IS NOT NULL', [campaignId, 'accepted'])).rows[0];
  assert.equal(others.n, 0, 'only accepted rows carry a status');

  const count = (o: string) => expected.filter((e) => e.outcome === o).length;
  const reasons = (r: string) => expected.filter((e) => e.reason === r).length;
  assert.equal(summary.rows, expected.length);
  assert.equal(summary.accepted, count('accepted'));
  assert.equal(summary.invalid, count('invalid'));
  assert.equal(summary.duplicate, count('duplicate'));
  assert.equal(summary.suppressed, count('suppressed'));
  assert.equal(summary.rows, summary.accepted + summary.invalid + summary.duplicate + summary.suppressed);
  assert.deepEqual(summary.invalid_reasons, {
    invalid_phone: reasons('invalid_phone'), missing_param: reasons('missing_param'),
    invalid_param: reasons('invalid_param'), malformed_row: reasons('malformed_row'),
  });
  assert.deepEqual([summary.rows, summary.accepted, summary.invalid, summary.duplicate, summary.suppressed], [19, 5, 9, 3, 2]);
  assert.deepEqual(
    summary.errors_sample.map((s) => [s.line, s.reason]),
    expected.filter((e) => e.outcome === 'invalid').map((e) => [e.line, e.reason]),
  );
  assert.match(summary.errors_sample[0]!.detail, /short/);
  assert.match(summary.errors_sample.find((s) => s.line === 5)!.detail, /tab/);
  assert.match(summary.errors_sample.find((s) => s.line === 14)!.detail, /line break/);

  const campaign = (await t.db.q('campaign_get', [campaignId])).rows[0];
  assert.equal(campaign.ingest_state, 'done');
  assert.equal(campaign.ingest_rows, summary.rows);
  assert.equal(campaign.ingest_accepted, summary.accepted);

  // A re-run over the same campaign (a crashed ingest resumed) inserts nothing twice and changes nothing.
  const before = (await t.db.raw('SELECT * FROM recipients WHERE campaign_id = $1 ORDER BY line', [campaignId])).rows;
  const again: IngestSummary = await ingestRows(t.db, campaignId, await prepareIngest(file, template, undefined, params), template, {
    defaultCountry: 'ID', batchRows: 3,
  });
  assert.deepEqual(again, summary);
  const afterRows = (await t.db.raw('SELECT * FROM recipients WHERE campaign_id = $1 ORDER BY line', [campaignId])).rows;
  assert.deepEqual(afterRows, before);
});

test('ingest: the same file in one batch gives the same outcomes as in batches of 3', async () => {
  const { text, expected } = contactFile();
  const file = write(text, 'contacts-one-batch.csv');
  await t.db.q('suppression_add_many', [['+6281234567899'], 'test', null]);
  const { template, params, campaignId } = await setupCampaign('one_batch');
  await ingestRows(t.db, campaignId, await prepareIngest(file, template, undefined, params), template, { defaultCountry: 'ID' });
  const rows = (await t.db.raw('SELECT line, outcome, reason FROM recipients WHERE campaign_id = $1 ORDER BY line', [campaignId])).rows;
  assert.deepEqual(rows, expected.map((e) => ({ line: e.line, outcome: e.outcome, reason: e.reason })));
});

test('ingest: without --default-country a national number is invalid_phone', async () => {
  const file = write('phone,name,order\n081234567895,Ida,A9\n+6281234567895,Ida,A9\n');
  const { template, params, campaignId } = await setupCampaign('no_country');
  const summary = await ingestRows(t.db, campaignId, await prepareIngest(file, template, undefined, params), template, { batchRows: 3 });
  const rows = (await t.db.raw('SELECT line, outcome, reason FROM recipients WHERE campaign_id = $1 ORDER BY line', [campaignId])).rows;
  assert.deepEqual(rows, [
    { line: 2, outcome: 'invalid', reason: 'invalid_phone' },
    { line: 3, outcome: 'accepted', reason: null },
  ]);
  assert.equal(summary.accepted, 1);
});

test('prepareIngest: column problems are usage errors before any row is stored', async () => {
  const { template, params } = await setupCampaign('columns');
  await rejectsUsage(prepareIngest(write('mobile_no,name,order\n+6281234567890,a,b\n'), template, undefined, params), 'phone');
  await rejectsUsage(prepareIngest(write('phone,name,order\n+6281234567890,a,b\n'), template, 'cell', params), 'cell');
  await rejectsUsage(prepareIngest(write('phone,name,order\n+6281234567890,a,b\n'), template, undefined, { 'body.1': 'first' }), 'first');
  await rejectsUsage(prepareIngest(write('phone,name\n+6281234567890,a\n'), template, undefined, { 'body.1': 'name' }), 'body.2');
  // A header and no data rows.
  const { campaignId } = await setupCampaign('header_only');
  await rejectsUsage(ingestRows(t.db, campaignId, await prepareIngest(write('phone,name,order\n\n,,\n'), template, undefined, params), template, {}), 'no data rows');
});
