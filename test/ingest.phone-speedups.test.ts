import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { normalizePhone } from '../src/ingest/phone.ts';

/**
 * The validation threads load libphonenumber-js with two helpers replaced (src/ingest/phone-speedups.ts).
 * This process loads the library untouched, so the same inputs through both must give the same verdicts,
 * detail for detail; and the replacements must really be in use with the installed version.
 */

/** Every spelling and failure the ingest tests use, and a few thousand generated numbers of many countries. */
function inputs(): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [
    ['+62 812-3456-7890', 'ID'], ['0812 3456 7890', 'ID'], ['(0812) 345 678 90', 'ID'], ['6281234567890', 'ID'],
    ['0062 812 3456 7890', 'ID'], ['0062 812', 'ID'], ['6281234567890.0', 'ID'], ['5511987654321', 'ID'],
    ['+1 212 555 0123', undefined], ['(212) 555-0123', 'US'], ['(11) 98765-4321', 'BR'], ['021 2555 0123', 'ID'],
    ['0812', 'ID'], ['0812 3456 7890 1234 5678', 'ID'], ['+999 1234567', undefined], ['12345', undefined],
    ['#N/A', 'ID'], ['', 'ID'], ['   ', 'ID'], ['+62 812 3456 7890 ext. 5', 'ID'], ['++62812', 'ID'],
    ['+44 20 7946 0958', 'GB'], ['020 7946 0958', 'GB'], ['07700 900123', 'GB'], ['+49 30 901820', 'DE'],
    ['0176 12345678', 'DE'], ['+91 98765 43210', 'IN'], ['098765 43210', 'IN'], ['+234 803 123 4567', 'NG'],
  ];
  // A fixed generator (no Math.random): the same few thousand inputs every run.
  let seed = 12345;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const countries = ['ID', 'US', 'BR', 'GB', 'DE', 'IN', 'NG', 'MX', 'PH', undefined];
  const digits = (n: number): string => Array.from({ length: n }, () => String(next(10))).join('');
  for (let i = 0; i < 3000; i++) {
    const country = countries[next(countries.length)];
    const body = digits(6 + next(10));
    const form = next(5);
    const raw = form === 0 ? `+${body}` : form === 1 ? `0${body}` : form === 2 ? `00${body}` : form === 3 ? `(0${body.slice(0, 3)}) ${body.slice(3)}` : body;
    out.push([raw, country]);
  }
  return out;
}

test('the validation threads judge phone numbers exactly like the untouched library', async () => {
  const cases = inputs();
  const worker = new Worker(new URL('./helpers/phone-speedups-child.ts', import.meta.url), { workerData: { inputs: cases } });
  const got = await new Promise<{ results: unknown[]; speedups: { applied: string[]; skipped: string[]; expected: number } }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.deepEqual(got.speedups.skipped, [], 'a replaced file differs from the one checked: look at phone-speedups.ts again');
  assert.equal(got.speedups.applied.length, got.speedups.expected);
  const valid = cases.filter((_, i) => (got.results[i] as { ok: boolean }).ok).length;
  assert.ok(valid > 100 && valid < cases.length - 100, `a mix of valid and invalid inputs (${valid} of ${cases.length} valid)`);
  for (let i = 0; i < cases.length; i++) {
    const [raw, country] = cases[i]!;
    assert.deepEqual(got.results[i], normalizePhone(raw, country), `${JSON.stringify(raw)} with ${country ?? 'no default'}`);
  }
});
