import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NumberSet } from '../src/ingest/number-set.ts';

test('NumberSet behaves like a Set over E.164 digit numbers, through growth and deletions', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 999_999 })), { maxLength: 400 }), (ops) => {
      const ours = new NumberSet(4);
      const ref = new Set<number>();
      for (const [add, n] of ops) {
        const key = 6281200000000 + n; // numbers that share a long prefix, as real lists do
        if (add) assert.equal(ours.add(key), !ref.has(key)), ref.add(key);
        else ours.delete(key), ref.delete(key);
        assert.equal(ours.size, ref.size);
      }
      for (let n = 1; n <= 1000; n++) assert.equal(ours.has(6281200000000 + n), ref.has(6281200000000 + n));
    }),
  );
});

test('a million 15-digit numbers fit exactly', () => {
  const s = new NumberSet();
  for (let i = 0; i < 1_000_000; i++) s.add(999_000_000_000_000 + i * 7);
  assert.equal(s.size, 1_000_000);
  assert.ok(s.has(999_000_000_000_000 + 7 * 999_999));
  assert.ok(!s.has(999_000_000_000_000 + 1));
});
