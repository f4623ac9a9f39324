import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sniffDelimiter, sniffRecordDelimiter, type FieldDelimiter } from '../src/ingest/sniff.ts';

const rows = (...lines: string[]) => lines.join('\n') + '\n';

// ---------------------------------------------------------------------------------------------------------
// sniffDelimiter

test('each candidate delimiter is found', () => {
  assert.equal(sniffDelimiter(rows('phone,name', '+6281,Ann', '+6282,Bob')), ',');
  assert.equal(sniffDelimiter(rows('telefone;nome', '+5511;Ana', '+5512;Bia')), ';');
  assert.equal(sniffDelimiter(rows('phone\tname', '+6281\tAnn', '+6282\tBob')), '\t');
  assert.equal(sniffDelimiter(rows('phone|name', '+6281|Ann', '+6282|Bob')), '|');
});

test('delimiters inside quoted fields are not counted', () => {
  assert.equal(sniffDelimiter(rows('phone,"a;b;c"', '+6281,"x;y;z"')), ',');
  assert.equal(sniffDelimiter('phone,"a;b;c"'), ',');
  assert.equal(sniffDelimiter(rows('phone;name', '"+62,81";"Smith, J"', '"+62,82";"Doe, K"')), ';');
  assert.equal(sniffDelimiter(rows('phone|note', '+6281|"a,b,c;d"', '+6282|"e,f,g;h"')), '|');
  // doubled quotes keep the field quoted
  assert.equal(sniffDelimiter(rows('phone;note', '+6281;"say ""a,b"", c"', '+6282;x')), ';');
});

test('a quoted field spanning lines is one record, not two', () => {
  const sample = rows('phone;note', '+6281;"line one,', 'line two, three"', '+6282;plain', '+6283;"a,', 'b"');
  assert.equal(sniffDelimiter(sample), ';');
});

test('non-ASCII text: accents, CJK, emoji, and a sample cut inside a surrogate pair', () => {
  assert.equal(sniffDelimiter(rows('nome;cidade', 'José;São Paulo', 'Zoë;Zürich', '李雷;北京', 'Ola 😀;Lagos')), ';');
  assert.equal(sniffDelimiter(rows('név,város', 'Zoë,Köln', 'José 😀,Porto')), ',');
  assert.equal(sniffDelimiter('name\tnote\nOla\t😀'.slice(0, -1)), '\t');
  assert.equal(sniffDelimiter('\ufeffphone|name\n+6281|José\n'), '|');
});

test('single column and empty samples give a comma', () => {
  assert.equal(sniffDelimiter(rows('phone', '+6281234567890', '+6281234567891')), ',');
  assert.equal(sniffDelimiter('phone'), ',');
  assert.equal(sniffDelimiter(''), ',');
  assert.equal(sniffDelimiter('\n\n  \n'), ',');
});

test('the header decides which delimiters are possible; data rows decide between them', () => {
  // decimal commas in the data, none in the header
  assert.equal(sniffDelimiter(rows('phone;amount', '+5511;1,50', '+5512;2,75')), ';');
  // a comma in a header name, but only the semicolon count holds on the rows
  const sample = rows('phone;full name, title;city', '1;Ann;Rio', '2;Bob;Recife', '3;Cy, Jr., Dr.;Natal');
  assert.equal(sniffDelimiter(sample), ';');
  // a header-only file still picks the delimiter it has
  assert.equal(sniffDelimiter('phone;name;order\n'), ';');
});

test('ties go to , then ; then tab then |', () => {
  assert.equal(sniffDelimiter(rows('a,b;c', '1,2;3')), ',');
  assert.equal(sniffDelimiter(rows('a;b\tc', '1;2\t3')), ';');
  assert.equal(sniffDelimiter(rows('a\tb|c', '1\t2|3')), '\t');
});

test('blank lines before the header and between rows are ignored; rows of only delimiters count', () => {
  assert.equal(sniffDelimiter('\n   \r\nphone;name\n\n+6281;Ann\n;\n'), ';');
});

test('only the first 20 records are read', () => {
  // Both , and ; are on the header; the first 19 rows agree with ';', the 50 after them with ','
  const head = ['phone;name,x', ...Array.from({ length: 19 }, (_, i) => `${i};x`)];
  assert.equal(sniffDelimiter(rows(...head, ...Array(50).fill('a,b'))), ';');
  assert.equal(sniffDelimiter(rows(...head.slice(0, 5), ...Array(50).fill('a,b'))), ',');
});

test('CRLF and CR samples sniff like LF ones', () => {
  assert.equal(sniffDelimiter('phone;name\r\n+6281;Ann\r\n+6282;Bob\r\n'), ';');
  assert.equal(sniffDelimiter('phone|name\r+6281|Ann\r+6282|Bob\r'), '|');
});

test('property: a regular table of quoted cells holding any delimiter is sniffed right', () => {
  const cell = fc
    .array(fc.constantFrom('a', 'é', '😀', '1', ' ', ',', ';', '\t', '|', '"', '\n'), { minLength: 1, maxLength: 5 })
    .map((cs) => cs.join(''));
  fc.assert(
    fc.property(
      fc.constantFrom<FieldDelimiter>(',', ';', '\t', '|'),
      fc.integer({ min: 2, max: 5 }),
      fc.array(fc.array(cell, { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 30 }),
      fc.constantFrom('\n', '\r\n', '\r'),
      (delim, width, table, eol) => {
        const header = Array.from({ length: width }, (_, i) => `col${i}`);
        // every cell quoted, so any delimiter it holds is inside quotes
        const line = (cells: string[]) => cells.map((c) => `"${c.replaceAll('"', '""')}"`).join(delim);
        const sample = [header.join(delim), ...table.map((r) => line(r.slice(0, width)))].join(eol) + eol;
        assert.equal(sniffDelimiter(sample), delim);
      },
    ),
  );
});

// ---------------------------------------------------------------------------------------------------------
// sniffRecordDelimiter

test('LF, CRLF and CR record delimiters', () => {
  assert.equal(sniffRecordDelimiter('a,b\n1,2\n'), '\n');
  assert.equal(sniffRecordDelimiter('a,b\r\n1,2\r\n'), '\r\n');
  assert.equal(sniffRecordDelimiter('a,b\r1,2\r'), '\r');
});

test('line breaks inside quoted cells do not count', () => {
  // Excel: CRLF between records, bare LF inside a cell
  assert.equal(sniffRecordDelimiter('a,b\r\n1,"x\ny\nz"\r\n2,"p\nq"\r\n'), '\r\n');
  assert.equal(sniffRecordDelimiter('a,b\r1,"x\ny\nz"\r2,"p\r\nq"\r'), '\r');
  assert.equal(sniffRecordDelimiter('a,b\n1,"x\r\ny\r\nz"\n'), '\n');
});

test('no line break gives LF; a CR at the very end of the sample is not counted', () => {
  assert.equal(sniffRecordDelimiter('phone,name'), '\n');
  assert.equal(sniffRecordDelimiter(''), '\n');
  // the sample stops between CR and LF
  assert.equal(sniffRecordDelimiter('a,b\r\n1,2\r\n3,4\r'), '\r\n');
  assert.equal(sniffRecordDelimiter('a,b\r'), '\n');
});

test('mixed endings: the most frequent wins', () => {
  assert.equal(sniffRecordDelimiter('a\r\nb\r\nc\nd\r\n'), '\r\n');
  assert.equal(sniffRecordDelimiter('a\nb\nc\r\nd\n'), '\n');
  assert.equal(sniffRecordDelimiter('a\rb\rc\nd\r'), '\r');
});

test('non-ASCII text around the line breaks', () => {
  assert.equal(sniffRecordDelimiter('nome;cidade\r\nJosé;São Paulo\r\nOla 😀;Lagos\r\n'), '\r\n');
  assert.equal(sniffRecordDelimiter('nome;cidade\rZoë;Zürich\r李雷;北京\r'), '\r');
});
