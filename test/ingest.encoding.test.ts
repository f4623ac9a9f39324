import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { decodeStream, detectEncoding, Utf8Checker, type TextEncoding } from '../src/ingest/encoding.ts';

const dir = mkdtempSync(join(tmpdir(), 'ingest-encoding-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function write(content: Buffer): string {
  const file = join(dir, `f${++fileNo}.csv`);
  writeFileSync(file, content);
  return file;
}

/** Decode a file the way ingest will: read it (in small pieces, to cross every boundary), then decodeStream. */
async function decodeFile(file: string, encoding: TextEncoding, bom: number, highWaterMark = 5): Promise<string> {
  const parts: Buffer[] = [];
  await pipeline(createReadStream(file, { highWaterMark }), decodeStream(encoding, bom), async (src) => {
    for await (const b of src as AsyncIterable<Buffer>) {
      assert.ok(Buffer.isBuffer(b), 'decodeStream emits Buffers');
      parts.push(b);
    }
  });
  const out = Buffer.concat(parts);
  assert.ok(isUtf8(out), 'decodeStream emits UTF-8');
  return out.toString('utf8');
}

// Everything Excel exports in its various "CSV" and "Unicode text" flavours must come out as this text
const TEXT = 'phone;name;note\r\n+6281234567890;José Zoë;“quoted” – 5 €\r\n+5511;São Paulo;naïve café\r\n';
// …and these need more than Windows-1252
const WIDE = 'phone,name\n+6281,李雷 😀\n+6282,Ola 🇳🇬\n';

const BOM_UTF8 = Buffer.from([0xef, 0xbb, 0xbf]);
const BOM_LE = Buffer.from([0xff, 0xfe]);
const BOM_BE = Buffer.from([0xfe, 0xff]);

const cases: { name: string; bytes: Buffer; text: string; encoding: TextEncoding; bom: number }[] = [
  { name: 'UTF-8 without BOM', bytes: Buffer.from(TEXT + WIDE), text: TEXT + WIDE, encoding: 'utf8', bom: 0 },
  {
    name: 'UTF-8 with BOM (Excel "CSV UTF-8")',
    bytes: Buffer.concat([BOM_UTF8, Buffer.from(TEXT + WIDE)]),
    text: TEXT + WIDE,
    encoding: 'utf8',
    bom: 3,
  },
  {
    name: 'UTF-16 LE with BOM (Excel "Unicode text")',
    bytes: Buffer.concat([BOM_LE, Buffer.from(TEXT + WIDE, 'utf16le')]),
    text: TEXT + WIDE,
    encoding: 'utf16le',
    bom: 2,
  },
  {
    name: 'UTF-16 BE with BOM',
    bytes: Buffer.concat([BOM_BE, iconv.encode(TEXT + WIDE, 'utf16be')]),
    text: TEXT + WIDE,
    encoding: 'utf16be',
    bom: 2,
  },
  {
    name: 'Windows-1252 (Excel "CSV" on Western Windows)',
    bytes: iconv.encode(TEXT, 'win1252'),
    text: TEXT,
    encoding: 'win1252',
    bom: 0,
  },
  { name: 'pure ASCII', bytes: Buffer.from('phone\n+6281\n'), text: 'phone\n+6281\n', encoding: 'utf8', bom: 0 },
  { name: 'an empty file', bytes: Buffer.alloc(0), text: '', encoding: 'utf8', bom: 0 },
];

for (const c of cases) {
  test(`${c.name}: detected, and decoded to the same UTF-8 text`, async () => {
    const file = write(c.bytes);
    const got = await detectEncoding(file);
    assert.deepEqual(got, { encoding: c.encoding, bom: c.bom });
    for (const hwm of [1, 2, 3, 5, 64 * 1024]) {
      assert.equal(await decodeFile(file, got.encoding, got.bom, hwm), c.text, `read in pieces of ${hwm}`);
    }
  });
}

test('Windows-1252: 0x80–0x9F are the typographic characters, not C1 controls (as latin1 would give)', async () => {
  const bytes = Buffer.from([0x93, 0x61, 0x94, 0x20, 0x96, 0x20, 0x80, 0x20, 0xe9, 0x85, 0x91, 0x92, 0x99]);
  const file = write(bytes);
  assert.deepEqual(await detectEncoding(file), { encoding: 'win1252', bom: 0 });
  assert.equal(await decodeFile(file, 'win1252', 0, 1), '“a” – € é…‘’™');
  assert.notEqual(bytes.toString('latin1'), '“a” – € é…‘’™');
});

test('Windows-1252 whose only non-ASCII byte is the last one', async () => {
  const file = write(Buffer.concat([Buffer.from('phone,name\n+6281,Jos'), Buffer.from([0xe9])]));
  assert.deepEqual(await detectEncoding(file), { encoding: 'win1252', bom: 0 });
});

test('UTF-8 whose only non-ASCII character straddles a 1 MiB read boundary is still UTF-8', async () => {
  const MiB = 1 << 20;
  for (const [char, offset] of [
    ['é', MiB - 1], // 2 bytes: C3 | A9
    ['€', MiB - 1], // 3 bytes: E2 | 82 AC
    ['€', MiB - 2], // 3 bytes: E2 82 | AC
    ['😀', MiB - 1], // 4 bytes: F0 | 9F 98 80
    ['😀', MiB - 3], // 4 bytes: F0 9F 98 | 80
  ] as const) {
    const bytes = Buffer.concat([Buffer.alloc(offset, 'a'), Buffer.from(char), Buffer.from('\nb\n')]);
    const file = write(bytes);
    assert.deepEqual(await detectEncoding(file), { encoding: 'utf8', bom: 0 }, `${char} at ${offset}`);
  }
});

test('a file that ends inside a UTF-8 character is not UTF-8', async () => {
  const bytes = Buffer.concat([Buffer.alloc((1 << 20) - 1, 'a'), Buffer.from('😀').subarray(0, 3)]);
  assert.deepEqual(await detectEncoding(write(bytes)), { encoding: 'win1252', bom: 0 });
});

test('a UTF-16 LE BOM wins over the rest of the bytes; a lone FF or FE is not a BOM', async () => {
  assert.deepEqual(await detectEncoding(write(Buffer.from([0xff, 0xfe, 0x41, 0x00]))), { encoding: 'utf16le', bom: 2 });
  assert.deepEqual(await detectEncoding(write(Buffer.from([0xff, 0x41]))), { encoding: 'win1252', bom: 0 });
  assert.deepEqual(await detectEncoding(write(Buffer.from([0xef, 0xbb]))), { encoding: 'win1252', bom: 0 });
});

test('decodeStream skips a BOM split over several pieces, for every encoding', async () => {
  for (const c of cases.filter((c) => c.bom > 0)) {
    const parts: Buffer[] = [];
    const pieces = [...c.bytes].map((b) => Buffer.from([b]));
    await pipeline(Readable.from(pieces), decodeStream(c.encoding, c.bom), async (src) => {
      for await (const b of src as AsyncIterable<Buffer>) parts.push(b);
    });
    assert.equal(Buffer.concat(parts).toString('utf8'), c.text, c.name);
  }
});

test('property: Utf8Checker over any split agrees with isUtf8 on the whole', () => {
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  );
  fc.assert(
    fc.property(bytesArb, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 6 }), (u8, sizes) => {
      const whole = Buffer.from(u8);
      const check = new Utf8Checker();
      let ok = true;
      for (let i = 0, k = 0; i < whole.length && ok; k++) {
        const size = sizes[k % sizes.length]!;
        ok = check.write(whole.subarray(i, i + size));
        i += size;
      }
      if (ok) ok = check.end();
      assert.equal(ok, isUtf8(whole));
    }),
    { numRuns: 2000 },
  );
});
