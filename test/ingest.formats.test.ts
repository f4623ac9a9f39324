import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createLogger } from '../src/log.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign, type CreateInput } from '../src/campaigns/service.ts';
import { importSuppressions } from '../src/ingest/suppressions.ts';

let t: TestDb;
const dir = mkdtempSync(join(tmpdir(), 'formats-'));
const log = createLogger('warn', { pretty: false });
before(async () => {
  t = await createTestDb('formats');
  await addTemplate(t.db, { name: 'greet', language: 'id', category: 'marketing', body: 'Halo {{nama}}, kode {{kode}}', headerText: null, headerFormat: null, urlButton: false });
});
after(() => t.close());

async function ingest(file: string, extra: Partial<CreateInput> = {}) {
  const r = await createCampaign({ db: t.db, pool: t.pool, log }, {
    name: file, template: 'greet', language: 'id', csv: file, channel: 'default', params: {}, defaultCountry: 'ID', ...extra,
  });
  const rows = (await t.db.raw('SELECT line, outcome::text, reason, phone_e164, params FROM recipients WHERE campaign_id = $1 ORDER BY line', [r.id])).rows;
  return { r, rows };
}

/** The same five data rows in every encoding and delimiter (named placeholders map columns by name). */
function table(delim: string, eol: string): string {
  return [
    ['Telepon', 'nama', 'kode'],
    ['+62 812-3456-7890', 'José', 'A1'],
    ['0812 3456 7891', 'Zoë “quoted”', 'A2'],
    ['12', 'Budi', 'A3'],
    ['(0812) 345 678 92', '', 'A4'],
    ['0062 81234567890', 'Siti €', 'A5'],
  ].map((r) => r.join(delim)).join(eol) + eol;
}
const EXPECT = [
  { line: 2, outcome: 'accepted', reason: null },
  { line: 3, outcome: 'accepted', reason: null },
  { line: 4, outcome: 'invalid', reason: 'invalid_phone' },
  { line: 5, outcome: 'invalid', reason: 'missing_param' },
  { line: 6, outcome: 'duplicate', reason: null },
];

const FORMATS: Array<[string, Buffer]> = [
  ['utf8 comma LF', Buffer.from(table(',', '\n'))],
  ['utf8 BOM semicolon CRLF', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(table(';', '\r\n'))])],
  ['utf16le BOM tab CRLF', Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(table('\t', '\r\n'), 'utf16le')])],
  ['utf16be BOM pipe LF', Buffer.concat([Buffer.from([0xfe, 0xff]), iconv.encode(table('|', '\n'), 'utf16be')])],
  ['windows-1252 semicolon CRLF', iconv.encode(table(';', '\r\n'), 'win1252')],
];

for (const [name, bytes] of FORMATS) {
  test(`${name}: decoded, delimited and judged row by row`, async () => {
    const file = join(dir, `${name.replace(/\W+/g, '_')}.csv`);
    writeFileSync(file, bytes);
    const { r, rows } = await ingest(file, { phoneColumn: 'telepon' });
    assert.deepEqual(rows.map((x) => ({ line: x.line, outcome: x.outcome, reason: x.reason })), EXPECT);
    assert.equal(rows[0].phone_e164, '+6281234567890');
    assert.deepEqual(rows[0].params, { 'body.nama': 'José', 'body.kode': 'A1' });
    assert.equal(rows[1].params['body.nama'], 'Zoë “quoted”', 'non-ASCII survives every encoding');
    assert.equal(r.ingest.rows, 5);
  });
}

test('quoted fields with delimiters, quotes and line breaks; blank lines; short and long records', async () => {
  const file = join(dir, 'quoted.csv');
  writeFileSync(file, [
    'phone,nama,kode',
    '+6281234567801,"Budi, Jr.","K""1"""',
    '',
    '+6281234567802,"two',
    'lines",K2',
    ' , ,',
    '+6281234567803,Siti,K3,extra',
    '+6281234567804,Rina',
    '+6281234567805,Eko,K5',
  ].join('\r\n'));
  const { rows } = await ingest(file);
  assert.deepEqual(rows.map((x) => [x.line, x.outcome, x.reason]), [
    [2, 'accepted', null],
    [4, 'invalid', 'invalid_param'], // a line break inside a parameter
    [7, 'invalid', 'malformed_row'],
    [8, 'invalid', 'missing_param'], // fewer fields: the missing ones are empty
    [9, 'accepted', null],
  ]);
  assert.deepEqual(rows[0].params, { 'body.nama': 'Budi, Jr.', 'body.kode': 'K"1"' });
});

test('parameter normalisation is opt-in', async () => {
  const file = join(dir, 'spaces.csv');
  writeFileSync(file, 'phone,nama,kode\n+6281234567811,"  Budi     Santoso ",K1\n');
  const plain = await ingest(file);
  assert.equal(plain.rows[0].reason, 'invalid_param', 'five spaces are refused as written');
  const fixed = await ingest(file, { paramOptions: { trim: true, collapse_spaces: true } });
  assert.equal(fixed.rows[0].outcome, 'accepted');
  assert.equal(fixed.rows[0].params['body.nama'], 'Budi Santoso');
});

test('suppress --csv imports the opt-out list, and ingest marks those numbers suppressed', async () => {
  const list = join(dir, 'optout.csv');
  writeFileSync(list, 'MSISDN;note\n0812 3456 7821;asked\nnot a number;x\n+62 812 3456 7822;asked\n');
  const imp = await importSuppressions(t.db, list, undefined, 'ID');
  assert.deepEqual({ rows: imp.rows, added: imp.added, invalid: imp.invalid }, { rows: 3, added: 2, invalid: 1 });
  assert.equal(imp.errors_sample[0]!.line, 3);
  const file = join(dir, 'supp.csv');
  writeFileSync(file, 'phone,nama,kode\n+6281234567821,A,1\n+6281234567823,B,2\n+6281234567822,C,3\n');
  const { rows } = await ingest(file);
  assert.deepEqual(rows.map((x) => x.outcome), ['suppressed', 'accepted', 'suppressed']);
});
