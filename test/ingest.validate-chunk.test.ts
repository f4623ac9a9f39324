import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateChunk, rowPrefix, type ChunkContext } from '../src/ingest/validate-chunk.ts';
import { parseChunk } from '../src/ingest/parse-chunk.ts';
import type { TemplateDef } from '../src/templates/types.ts';

/**
 * validateChunk on its own (no database): it reads records one at a time and writes each row's verdict
 * into arrays sized before it starts, so every record csv-parse finds must get its own slot, however the
 * chunk's lines end.
 */

const CAMPAIGN = '00000000-0000-4000-8000-000000000001';
const template: TemplateDef = {
  name: 't', language: 'en', category: 'utility', body: 'Hi {{1}}', headerText: null, headerFormat: null,
  urlButton: false, parameterFormat: 'positional', slots: ['body.1'],
};
const ctx = (crBreaks = false): ChunkContext => ({
  campaignId: CAMPAIGN, template, headerLength: 2, phoneIndex: 0, slotColumns: [{ slot: 'body.1', index: 1 }],
  defaultCountry: 'ID', delimiter: ',', crBreaks, paramOptions: {},
});

/** The chunk's rows as text, one string per row, from the result's offsets. */
function rowsOf(r: ReturnType<typeof validateChunk>): string[] {
  const bytes = Buffer.from(r.copy.buffer, r.copy.byteOffset, r.copy.byteLength);
  const out: string[] = [];
  for (let i = 0; i < r.rows; i++) out.push(bytes.subarray(r.ends[i - 1] ?? 0, r.ends[i]).toString('utf8'));
  return out;
}

test('every record gets its verdict, in order, with its line; the arrays hold exactly the rows', () => {
  const text = 'phone,name\n+6281234567890,Ann\n\n0812 3456 7891,Bob\nnot a number,Cy\n+6281234567892,"D, E"';
  const r = validateChunk(ctx(), text, 1, true);
  assert.equal(r.rows, 4);
  assert.equal(r.keys.length, 4);
  assert.equal(r.ends.length, 4);
  assert.deepEqual([...r.keys].map((k) => (Number.isNaN(k) ? null : k)), [6281234567890, 6281234567891, null, 6281234567892]);
  assert.equal(r.numbers, '+6281234567890,+6281234567891,+6281234567892');
  const rows = rowsOf(r);
  assert.ok(rows[0]!.startsWith(`${rowPrefix(CAMPAIGN, 'accepted')}2\t+6281234567890\t+6281234567890\t`));
  assert.ok(rows[1]!.startsWith(`${rowPrefix(CAMPAIGN, 'accepted')}4\t0812 3456 7891\t+6281234567891\t`));
  assert.ok(rows[2]!.startsWith(`${rowPrefix(CAMPAIGN, 'invalid')}5\tnot a number\t\\N\t\\N\tinvalid_phone\t`));
  assert.ok(rows[3]!.includes('"body.1":"D, E"'), rows[3]);
  for (const row of rows) assert.ok(row.endsWith('\n') && !row.slice(0, -1).includes('\n'), JSON.stringify(row));
});

test('lone CRs in an LF file end records for csv-parse: each of them still gets a row', () => {
  // Ten records on two LF lines: csv-parse ends a record at CR, LF or CRLF whatever the file's own ending.
  const cells = Array.from({ length: 10 }, (_, i) => `+62812345678${10 + i},N${i}`);
  const text = `${cells.slice(0, 5).join('\r')}\n${cells.slice(5).join('\r')}`;
  const expected = parseChunk(text, 2, ',', false);
  assert.equal(expected.length, 10, 'csv-parse splits at every CR');
  const r = validateChunk(ctx(), text, 2, false);
  assert.equal(r.rows, 10);
  assert.equal(r.keys.length, 10);
  assert.deepEqual([...r.keys], cells.map((c) => Number(c.slice(1, c.indexOf(',')))));
  assert.equal(new Set(r.ends).size, 10, 'every row has its own end');
  assert.equal(r.ends[9], r.copy.byteLength);
});

test('a chunk of only blank lines, or only the header, has no rows', () => {
  for (const [text, header] of [['\n\n \n,\n', false], ['phone,name\n', true], ['phone,name', true]] as const) {
    const r = validateChunk(ctx(), text, 1, header);
    assert.equal(r.rows, 0, JSON.stringify(text));
    assert.equal(r.copy.byteLength, 0);
    assert.equal(r.numbers, '');
  }
});
