import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate } from '../src/templates/placeholders.ts';
import { validateRow, type RowInput, type RowVerdict } from '../src/ingest/validate-row.ts';

// phone, name, order, header text  — body {{1}} {{2}}, text header {{1}}, URL button.
const textTemplate = parseTemplate({
  name: 'order_update', language: 'id', category: 'utility',
  headerText: 'Pesanan {{1}}', headerFormat: 'text', body: 'Halo {{1}}, pesanan {{2}} dikirim', urlButton: true,
});
const header = ['phone', 'name', 'order', 'title', 'track'];
const textColumns = [
  { slot: 'header.1', index: 3 },
  { slot: 'body.1', index: 1 },
  { slot: 'body.2', index: 2 },
  { slot: 'button.0', index: 4 },
];

const imageTemplate = parseTemplate({ name: 'promo', language: 'id', headerFormat: 'image', body: 'Halo {{1}}' });
const imageColumns = [{ slot: 'header.1', index: 2 }, { slot: 'body.1', index: 1 }];

function row(fields: string[], over: Partial<RowInput> = {}): RowVerdict {
  return validateRow({ fields, headerLength: header.length, phoneIndex: 0, slotColumns: textColumns, template: textTemplate, defaultCountry: 'ID', ...over });
}

function image(fields: string[]): RowVerdict {
  return validateRow({ fields, headerLength: 3, phoneIndex: 0, slotColumns: imageColumns, template: imageTemplate, defaultCountry: 'ID' });
}

const good = ['0812 3456 7890', 'Budi', 'ORD-17', 'ORD-17', 'abc123'];

test('a good row becomes a candidate with its values exactly as written', () => {
  const fields = ['0812 3456 7890', '  Budi ', 'ORD-17', 'Pesanan besar', 'a?b=1'];
  assert.deepEqual(row(fields), {
    outcome: 'candidate',
    e164: '+6281234567890',
    params: { 'header.1': 'Pesanan besar', 'body.1': '  Budi ', 'body.2': 'ORD-17', 'button.0': 'a?b=1' },
    phoneInput: '0812 3456 7890',
  });
});

test('rows that end invalid, and why', async (t) => {
  const long = (n: number, c = 'x'): string => c.repeat(n);
  const cases: Array<{ name: string; verdict: RowVerdict; reason: string; detail: string }> = [
    { name: 'more fields than the header', verdict: row([...good, 'extra']), reason: 'malformed_row', detail: '6 fields but the header has 5' },
    { name: 'malformed wins over a bad phone', verdict: row(['x', 'a', 'b', 'c', 'd', 'e']), reason: 'malformed_row', detail: '6 fields but the header has 5' },
    { name: 'empty phone', verdict: row(['', 'Budi', 'ORD', 'T', 'x']), reason: 'invalid_phone', detail: 'empty' },
    { name: 'short phone', verdict: row(['0812', 'Budi', 'ORD', 'T', 'x']), reason: 'invalid_phone', detail: 'too short for ID' },
    { name: 'bad phone wins over missing params', verdict: row(['abc']), reason: 'invalid_phone', detail: 'not a number' },
    { name: 'missing trailing fields are empty', verdict: row(['0812 3456 7890', 'Budi', 'ORD', 'T']), reason: 'missing_param', detail: 'button.0 is empty' },
    { name: 'whitespace only is empty', verdict: row(['0812 3456 7890', 'Budi', ' \u00a0 ', 'T', 'x']), reason: 'missing_param', detail: 'body.2 is empty' },
    { name: 'slots are checked in template order', verdict: row(['0812 3456 7890', '', '', '', '']), reason: 'missing_param', detail: 'header.1 is empty' },
    { name: 'missing wins over invalid', verdict: row(['0812 3456 7890', 'a\tb', '', 'T', 'x']), reason: 'missing_param', detail: 'body.2 is empty' },
    { name: 'newline', verdict: row(['0812 3456 7890', 'Budi\nSantoso', 'ORD', 'T', 'x']), reason: 'invalid_param', detail: 'body.1 contains a line break' },
    { name: 'carriage return', verdict: row(['0812 3456 7890', 'Budi', 'ORD\r', 'T', 'x']), reason: 'invalid_param', detail: 'body.2 contains a line break' },
    { name: 'tab', verdict: row(['0812 3456 7890', 'Budi', 'ORD', 'T', 'a\tb']), reason: 'invalid_param', detail: 'button.0 contains a tab' },
    { name: 'five spaces', verdict: row(['0812 3456 7890', 'Budi     S', 'ORD', 'T', 'x']), reason: 'invalid_param', detail: 'body.1 has more than 4 consecutive spaces' },
    { name: 'header over 60', verdict: row(['0812 3456 7890', 'Budi', 'ORD', long(71), 'x']), reason: 'invalid_param', detail: 'header.1 longer than 60 characters (71)' },
    { name: 'body over 1024', verdict: row(['0812 3456 7890', long(1025), 'ORD', 'T', 'x']), reason: 'invalid_param', detail: 'body.1 longer than 1024 characters (1025)' },
    { name: 'media header not a link', verdict: image(['0812 3456 7890', 'Budi', 'a.jpg']), reason: 'invalid_param', detail: 'header.1 is not an http(s) link to the image' },
    { name: 'media header ftp', verdict: image(['0812 3456 7890', 'Budi', 'ftp://example.com/a.jpg']), reason: 'invalid_param', detail: 'header.1 is not an http(s) link to the image' },
    { name: 'media header with a space', verdict: image(['0812 3456 7890', 'Budi', 'https://example.com/a b.jpg']), reason: 'invalid_param', detail: 'header.1 is not an http(s) link to the image' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.equal(c.verdict.outcome, 'invalid');
      if (c.verdict.outcome !== 'invalid') return;
      assert.equal(c.verdict.reason, c.reason);
      assert.equal(c.verdict.detail, c.detail);
    });
  }
});

test('limits are inclusive and count characters, not UTF-16 units', async (t) => {
  const cases: Array<[name: string, fields: string[]]> = [
    ['header of exactly 60', ['0812 3456 7890', 'Budi', 'ORD', 'x'.repeat(60), 'x']],
    ['header of 60 emoji', ['0812 3456 7890', 'Budi', 'ORD', '🎉'.repeat(60), 'x']],
    ['body of exactly 1024', ['0812 3456 7890', 'y'.repeat(1024), 'ORD', 'T', 'x']],
    ['four spaces are fine', ['0812 3456 7890', 'a    b', 'ORD', 'T', 'x']],
  ];
  for (const [name, fields] of cases) {
    await t.test(name, () => assert.equal(row(fields).outcome, 'candidate'));
  }
});

test('a media header takes an http(s) link', () => {
  const v = image(['+62 812 3456 7890', 'Budi', 'https://cdn.example.com/a.jpg?x=1']);
  assert.deepEqual(v, {
    outcome: 'candidate',
    e164: '+6281234567890',
    params: { 'header.1': 'https://cdn.example.com/a.jpg?x=1', 'body.1': 'Budi' },
    phoneInput: '+62 812 3456 7890',
  });
});

test('the phone input is reported as written, also for invalid rows', () => {
  const v = row(['  0812 ', 'Budi', 'ORD', 'T', 'x']);
  assert.equal(v.phoneInput, '  0812 ');
});

test('without a default country, numbers need their country code', () => {
  const v = row(good, { defaultCountry: undefined });
  assert.equal(v.outcome, 'invalid');
  assert.equal(v.outcome === 'invalid' && v.detail, 'no country code and no --default-country');
});

test('a slot with no column is a caller bug, not a bad row', () => {
  assert.throws(() => row(good, { slotColumns: textColumns.slice(1) }), /no column is mapped to template slot header\.1/);
});
