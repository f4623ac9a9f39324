import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse, type Options } from 'csv-parse/sync';
import { chunkRecords, RecordCutter, type RecordChunk } from '../src/ingest/chunker.ts';
import type { RecordDelimiter } from '../src/ingest/sniff.ts';
import { UsageError } from '../src/errors.ts';

// ---------------------------------------------------------------------------------------------------------
// helpers

/** Feed `input` in pieces: a fixed size, or a cycle of sizes. */
function split(input: Buffer, sizes: number | number[]): Buffer[] {
  const cycle = typeof sizes === 'number' ? [sizes] : sizes;
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < input.length; k++) {
    const size = Math.max(1, cycle[k % cycle.length]!);
    out.push(input.subarray(i, i + size));
    i += size;
  }
  return out;
}

async function* source(pieces: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of pieces) yield p;
}

async function chunks(
  input: string | Buffer,
  recordDelimiter: RecordDelimiter,
  targetBytes: number,
  sizes: number | number[] = 1 << 16,
  delimiter?: string,
): Promise<RecordChunk[]> {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const out: RecordChunk[] = [];
  const opts = { recordDelimiter, targetBytes, delimiter };
  for await (const c of chunkRecords(source(split(buf, sizes)), opts)) out.push(c);
  return out;
}

/** How src/ingest/parse-chunk.ts parses a chunk: every line ending, stray quotes kept as text. */
const relaxed = (delimiter: string): Options => ({
  delimiter,
  record_delimiter: ['\r\n', '\n', '\r'],
  relax_quotes: true,
  relax_column_count: true,
});

const texts = (cs: RecordChunk[]) => cs.map((c) => c.data.toString('utf8'));
const starts = (cs: RecordChunk[]) => cs.map((c) => c.firstLine);

/** Line breaks by the rule the chunker documents, written the slow and obvious way. */
function lineBreaks(s: string, recordDelimiter: RecordDelimiter): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\n') {
      if (recordDelimiter !== '\r' || s[i - 1] !== '\r') n++;
    } else if (s[i] === '\r' && recordDelimiter === '\r') n++;
  }
  return n;
}

/** Every check that must hold for any input: the properties the rest of the ingest relies on. */
function checkChunks(
  input: string,
  cs: RecordChunk[],
  rd: RecordDelimiter,
  targetBytes: number,
  relaxedParse?: Options,
): void {
  const opts = relaxedParse ?? { record_delimiter: rd, relax_column_count: true };
  const whole = Buffer.from(input, 'utf8');
  assert.ok(Buffer.concat(cs.map((c) => c.data)).equals(whole), 'chunks concatenate to the input');
  const expected = parse(whole, opts);
  const got = cs.flatMap((c) => parse(c.data, opts));
  assert.deepEqual(got, expected, 'parsing chunk by chunk gives the records of the whole file');
  let before = '';
  cs.forEach((c, k) => {
    const text = c.data.toString('utf8');
    assert.equal(c.seq, k);
    assert.ok(c.data.length > 0);
    assert.equal(c.firstLine, 1 + lineBreaks(before, rd), `chunk ${k} firstLine`);
    const ends = text.endsWith('\n') || (rd === '\r' && text.endsWith('\r'));
    assert.equal(c.lines, lineBreaks(text, rd) + (ends ? 0 : 1), `chunk ${k} lines`);
    // Over the target only when the chunk is a single record. (Not checked against a parser that takes
    // every line ending: it sees record ends the chunker may not cut at, such as a lone LF in a CRLF file.)
    if (c.data.length > targetBytes && !relaxedParse) {
      assert.equal(parse(c.data, opts).length, 1, `chunk ${k} is over the target`);
    }
    before += text;
  });
}

// ---------------------------------------------------------------------------------------------------------
// examples

test('LF: chunks of whole lines, cut at the last record that fits the target', async () => {
  const input = 'phone,name\n+6281,Ann\n+6282,Bob\n+6283,Cy\n';
  const cs = await chunks(input, '\n', 22);
  assert.deepEqual(texts(cs), ['phone,name\n+6281,Ann\n', '+6282,Bob\n+6283,Cy\n']);
  assert.deepEqual(starts(cs), [1, 3]);
  assert.deepEqual(cs.map((c) => c.lines), [2, 2]);
  checkChunks(input, cs, '\n', 22);
});

test('a chunk that reaches the target exactly is cut there', async () => {
  const cs = await chunks('abc\ndef\ng\n', '\n', 4);
  assert.deepEqual(texts(cs), ['abc\n', 'def\n', 'g\n']);
});

test('one default-size chunk for a small file; no chunk at all for an empty one', async () => {
  const input = 'phone\n+6281\n';
  const one: RecordChunk[] = [];
  for await (const c of chunkRecords(source([Buffer.from(input)]), { recordDelimiter: '\n' })) one.push(c);
  assert.deepEqual(one.map((c) => [c.seq, c.firstLine, c.lines, c.data.toString()]), [[0, 1, 2, input]]);
  assert.deepEqual(await chunks('', '\n', 8), []);
});

test('CRLF: cuts after CRLF, counts it once, also when CR and LF arrive in different pieces', async () => {
  const input = 'a,b\r\n1,2\r\n3,4\r\n5,6';
  for (const sizes of [1, 2, 3, 4, 5, 1000]) {
    const cs = await chunks(input, '\r\n', 5, sizes);
    assert.deepEqual(texts(cs), ['a,b\r\n', '1,2\r\n', '3,4\r\n', '5,6'], `pieces of ${sizes}`);
    assert.deepEqual(starts(cs), [1, 2, 3, 4]);
    assert.deepEqual(cs.map((c) => c.lines), [1, 1, 1, 1]);
  }
});

test('CRLF: a lone LF outside quotes is a line but not a record end, so never a cut', async () => {
  const input = 'a\nb\r\nc\r\n';
  const cs = await chunks(input, '\r\n', 1, 1);
  assert.deepEqual(texts(cs), ['a\nb\r\n', 'c\r\n']);
  assert.deepEqual(starts(cs), [1, 3]);
  assert.deepEqual(cs.map((c) => c.lines), [2, 1]);
});

test('LF: a lone CR is neither a line nor a cut; the last line without a break still counts', async () => {
  const cs = await chunks('a\rb\nc\rd', '\n', 1, 1);
  assert.deepEqual(texts(cs), ['a\rb\n', 'c\rd']);
  assert.deepEqual(starts(cs), [1, 2]);
  assert.deepEqual(cs.map((c) => c.lines), [1, 1]);
});

test('CR (old Mac): cuts after CR; CR, LF and CRLF each count one line; a CRLF is never split', async () => {
  const input = 'h\r"x\ny"\r"p\r\nq"\rz\r\nw\r';
  for (const sizes of [1, 2, 3, 7, 1000]) {
    const cs = await chunks(input, '\r', 1, sizes);
    assert.deepEqual(texts(cs), ['h\r', '"x\ny"\r', '"p\r\nq"\r', 'z\r\nw\r'], `pieces of ${sizes}`);
    assert.deepEqual(starts(cs), [1, 2, 4, 6]);
    assert.deepEqual(cs.map((c) => c.lines), [1, 2, 2, 2]);
  }
});

test('quoted fields: embedded newlines, delimiters and doubled quotes are never cut', async () => {
  // Each record is larger than the target, so a cut is tried at every line break
  const input = 'id,note\n1,"a\nb"\n2,"x"",\n""y"\n3,"""\r\n"""\n4,"São\nPaulo 😀"\n';
  for (const sizes of [1, 2, 3, 5, 8, 13, [1, 4, 2, 7]]) {
    const cs = await chunks(input, '\n', 1, sizes);
    assert.deepEqual(
      texts(cs),
      ['id,note\n', '1,"a\nb"\n', '2,"x"",\n""y"\n', '3,"""\r\n"""\n', '4,"São\nPaulo 😀"\n'],
      `pieces of ${JSON.stringify(sizes)}`,
    );
    assert.deepEqual(starts(cs), [1, 2, 4, 6, 8]);
    checkChunks(input, cs, '\n', 1);
  }
});

test('a quoted field spanning a whole quote-free piece keeps its line breaks uncut', async () => {
  // Pieces: '1,"a\n' | 'b\nc\n' (no quote: the indexOf path) | 'd"\n2\n'
  const input = '1,"a\nb\nc\nd"\n2\n';
  const cs = await chunks(input, '\n', 1, [5, 4, 100]);
  assert.deepEqual(texts(cs), ['1,"a\nb\nc\nd"\n', '2\n']);
  assert.deepEqual(starts(cs), [1, 5]);
  const crlf = '1,"a\r\nb\r\n"\r\n2\r\n';
  const cs2 = await chunks(crlf, '\r\n', 1, [5, 3, 3, 100]);
  assert.deepEqual(texts(cs2), ['1,"a\r\nb\r\n"\r\n', '2\r\n']);
  assert.deepEqual(starts(cs2), [1, 4]);
});

test('bytes pass through untouched, multi-byte characters included, whatever the piece size', async () => {
  const input = 'nome;cidade\nJosé;São Paulo\nZoë;Zürich\n李雷;北京\nOla 😀;Lagos\n';
  for (const sizes of [1, 2, 3, 4, 1000]) {
    const cs = await chunks(input, '\n', 16, sizes);
    checkChunks(input, cs, '\n', 16);
  }
});

test('Uint8Array pieces are accepted', async () => {
  const u8 = new TextEncoder().encode('a\nb\n');
  const out: RecordChunk[] = [];
  for await (const c of chunkRecords((async function* () { yield u8; })(), { recordDelimiter: '\n', targetBytes: 2 }))
    out.push(c);
  assert.deepEqual(texts(out), ['a\n', 'b\n']);
});

test('an unclosed quote stops with a UsageError naming the line where its record starts', async () => {
  const input = Buffer.from('phone\n+6281\n"oops\n' + 'x\n'.repeat(100));
  const cutter = new RecordCutter({ recordDelimiter: '\n', targetBytes: 4, maxRecordBytes: 64 });
  assert.throws(
    () => { for (const p of split(input, 16)) cutter.write(p); },
    (err: unknown) => err instanceof UsageError && /line 3\b/.test(err.message) && /quote/.test(err.message),
  );
});

test('a stray quote in an unquoted field: the chunk holding it fails to parse, as the whole file does', async () => {
  const input = 'sku,desc\n1,5" screen\n2,plain\n3,"two\nlines"\n4,end\n';
  const opts = { record_delimiter: '\n' as const };
  assert.throws(() => parse(input, opts), { code: 'INVALID_OPENING_QUOTE' });
  const cs = await chunks(input, '\n', 1, 3);
  const holder = cs.find((c) => c.data.includes('5"'))!;
  assert.throws(() => parse(holder.data, opts), { code: 'INVALID_OPENING_QUOTE' });
  assert.equal(Buffer.concat(cs.map((c) => c.data)).toString(), input);
});

test('with the field delimiter, a stray quote is text, as csv-parse relax_quotes reads it', async () => {
  const input = 'sku,desc\n1,5" screen\n2,plain\n3,"two\nlines"\n4,end\n';
  for (const sizes of [1, 2, 3, 1000]) {
    const cs = await chunks(input, '\n', 1, sizes, ',');
    assert.deepEqual(texts(cs), ['sku,desc\n', '1,5" screen\n', '2,plain\n', '3,"two\nlines"\n', '4,end\n']);
    assert.deepEqual(starts(cs), [1, 2, 3, 4, 6]);
    checkChunks(input, cs, '\n', 1, relaxed(','));
  }
  // Without it the stray quote flips the state, and a cut lands inside "two\nlines"
  const toggled = texts(await chunks(input, '\n', 1, 1));
  assert.ok(toggled.some((t) => t.endsWith('3,"two\n')));
});

test('with the field delimiter: only a quote at a field start opens; one after a closing quote escapes', async () => {
  const cases: [string, string, string[]][] = [
    // a space before the quote: text, so the line break ends the record
    ['a; "x\ny";b\n', ';', ['a; "x\n', 'y";b\n']],
    // a quote that closes early is followed by text: the field is text from there on
    ['"ab"c\nd",e\nf\n', ',', ['"ab"c\n', 'd",e\n', 'f\n']],
    // doubled quotes, also split across pieces
    ['"a""\nb"\tx\nc\n', '\t', ['"a""\nb"\tx\n', 'c\n']],
    ['x|"p\nq"\n"r\rs"\n', '|', ['x|"p\nq"\n', '"r\rs"\n']],
  ];
  for (const [input, delim, expected] of cases) {
    for (const sizes of [1, 2, 3, 1000]) {
      const cs = await chunks(input, '\n', 1, sizes, delim);
      assert.deepEqual(texts(cs), expected, `${JSON.stringify(input)} in pieces of ${sizes}`);
      checkChunks(input, cs, '\n', 1, relaxed(delim));
    }
  }
});

test('the field delimiter must be one ASCII character other than a quote or line break', () => {
  for (const delimiter of [',,', '', '"', '\n', '€']) {
    assert.throws(() => new RecordCutter({ recordDelimiter: '\n', delimiter }), TypeError);
  }
});

test('memory stays bounded: chunks go out while the source is still being read', async () => {
  const row = '+6281234567890,"Ann\nSmith",A1\n';
  const input = Buffer.from('phone,name,order\n' + row.repeat(2000));
  const target = 256;
  let pulled = 0;
  let emitted = 0;
  let maxHeld = 0;
  async function* counted() {
    for (const p of split(input, 97)) {
      pulled += p.length;
      yield p;
    }
  }
  for await (const c of chunkRecords(counted(), { recordDelimiter: '\n', targetBytes: target })) {
    emitted += c.data.length;
    maxHeld = Math.max(maxHeld, pulled - emitted);
    assert.ok(c.data.length <= target);
  }
  assert.equal(emitted, input.length);
  // held back: under one target's worth, plus the record in progress, plus one source piece
  assert.ok(maxHeld <= target + row.length + 97, `held ${maxHeld} bytes`);
});

// ---------------------------------------------------------------------------------------------------------
// properties

/** Field text drawn to hit the hard cases: delimiters, quotes, every line ending, multi-byte characters. */
const fieldArb = fc
  .array(fc.constantFrom('a', 'Z', '1', ' ', ',', ';', '"', '""', '\n', '\r\n', '\r', 'é', '€', '😀', '李'), {
    maxLength: 6,
  })
  .map((parts) => parts.join(''));

function csvText(rows: { field: string; quote: boolean }[][], rd: RecordDelimiter, trailing: boolean): string {
  const lines = rows.map((r) =>
    r
      .map(({ field, quote }) =>
        quote || /[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field,
      )
      .join(','),
  );
  return lines.join(rd) + (trailing ? rd : '');
}

const caseArb = fc.record({
  rows: fc.array(fc.array(fc.record({ field: fieldArb, quote: fc.boolean() }), { minLength: 1, maxLength: 4 }), {
    minLength: 1,
    maxLength: 12,
  }),
  rd: fc.constantFrom<RecordDelimiter>('\n', '\r\n', '\r'),
  trailing: fc.boolean(),
  targetBytes: fc.integer({ min: 1, max: 64 }),
  sizes: fc.oneof(fc.constant(1), fc.constant(3), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 })),
});

test('property: chunks concatenate to the input, parse to the same records, and carry the right lines', async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ rows, rd, trailing, targetBytes, sizes }) => {
      const input = csvText(rows, rd, trailing);
      const cs = await chunks(input, rd, targetBytes, sizes);
      checkChunks(input, cs, rd, targetBytes);
    }),
    { numRuns: 600 },
  );
});

test('property: the way the source is split never changes the chunks', async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ rows, rd, trailing, targetBytes, sizes }) => {
      const input = csvText(rows, rd, trailing);
      const whole = await chunks(input, rd, targetBytes, 1 << 20);
      const pieces = await chunks(input, rd, targetBytes, sizes);
      assert.deepEqual(pieces, whole);
    }),
    { numRuns: 300 },
  );
});

/** Cells as people type them: unquoted text may hold quotes anywhere, even first (`"ab`, `5" screen`). */
const rawCellArb = fc
  .array(fc.constantFrom('a', '1', ' ', '"', '""', 'é', '😀', ';', '|'), { maxLength: 5 })
  .map((parts) => parts.join(''));

test('property: with the delimiter, chunks parse like the whole file under relax_quotes, stray quotes included', async () => {
  const arb = fc.record({
    delim: fc.constantFrom(',', ';', '\t', '|'),
    rows: fc.array(
      fc.array(fc.oneof(fc.record({ raw: rawCellArb }), fc.record({ field: fieldArb })), { minLength: 1, maxLength: 4 }),
      { minLength: 1, maxLength: 12 },
    ),
    rd: fc.constantFrom<RecordDelimiter>('\n', '\r\n', '\r'),
    trailing: fc.boolean(),
    targetBytes: fc.integer({ min: 1, max: 64 }),
    sizes: fc.oneof(fc.constant(1), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 })),
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ delim, rows, rd, trailing, targetBytes, sizes }) => {
      const line = (cells: ({ raw: string } | { field: string })[]) =>
        cells
          .map((c) =>
            'raw' in c
              ? c.raw.replaceAll(delim, '')
              : `"${c.field.replaceAll('"', '""')}"`,
          )
          .join(delim);
      const input = rows.map(line).join(rd) + (trailing ? rd : '');
      const cs = await chunks(input, rd, targetBytes, sizes, delim);
      const opts = relaxed(delim);
      let whole: unknown;
      try {
        whole = parse(input, opts);
      } catch {
        // An unclosed quote: the chunk that holds it must fail too
        assert.ok(Buffer.concat(cs.map((c) => c.data)).equals(Buffer.from(input)));
        assert.ok(cs.some((c) => { try { parse(c.data, opts); return false; } catch { return true; } }));
        return;
      }
      assert.ok(whole);
      checkChunks(input, cs, rd, targetBytes, opts);
    }),
    { numRuns: 600 },
  );
});

test('firstTargetBytes makes only the first chunk small', async () => {
  const { chunkRecords } = await import('../src/ingest/chunker.ts');
  const text = Array.from({ length: 2000 }, (_, i) => `row${i},"a\nb",x`).join('\n') + '\n';
  const chunks = [];
  for await (const c of chunkRecords((async function* () { yield Buffer.from(text); })(), { recordDelimiter: '\n', targetBytes: 4096, firstTargetBytes: 256 })) chunks.push(c);
  assert.ok(chunks[0]!.data.length <= 256);
  assert.ok(chunks.slice(1, -1).every((c) => c.data.length > 2048 && c.data.length <= 4096));
  assert.equal(Buffer.concat(chunks.map((c) => c.data)).toString(), text);
  let line = 1;
  for (const c of chunks) {
    assert.equal(c.firstLine, line);
    line += c.lines;
  }
});
