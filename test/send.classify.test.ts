import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SendOutcome } from '../src/providers/types.ts';
import { backoffMs, classifyOutcome, type SendAction } from '../src/send/classify.ts';

function error(code: string | null, httpStatus = 400, title: string | null = 'Title'): SendOutcome {
  return { kind: 'error', httpStatus, code, title };
}

const retry: SendAction = { action: 'retry', minDelayMs: 1_000 };
const throughput: SendAction = { action: 'retry', minDelayMs: 2_000, slowChannel: true };
const longRetry: SendAction = { action: 'retry', minDelayMs: 60_000, slowChannel: true };
const fail: SendAction = { action: 'fail' };

test('every error code of spec/whatsapp.md', async (t) => {
  const cases: Array<[code: string, http: number, want: SendAction | 'pause']> = [
    ['408', 400, retry],
    ['130429', 400, throughput],
    ['131000', 500, retry],
    ['131016', 503, retry],
    ['133004', 503, retry],
    ['1', 400, retry],
    ['2', 503, retry],
    ['4', 400, longRetry],
    ['80007', 400, longRetry],
    ['131056', 400, { action: 'delay_recipient', minDelayMs: 6_000 }],
    ['131026', 400, fail],
    ['131050', 400, { action: 'fail', suppress: true }],
    ['470', 400, fail],
    ['131047', 400, fail],
    ['131049', 400, fail],
    ['132000', 400, fail],
    ['132005', 400, fail],
    ['132007', 400, fail],
    ['132012', 400, fail],
    ['132018', 400, fail],
    ['100', 400, fail],
    ['131008', 400, fail],
    ['131009', 400, fail],
    ['131048', 400, 'pause'],
    ['132001', 404, 'pause'],
    ['132015', 400, 'pause'],
    ['132016', 400, 'pause'],
    ['0', 401, 'pause'],
    ['190', 401, 'pause'],
    ['10', 403, 'pause'],
    ['200', 403, 'pause'],
    ['250', 403, 'pause'],
    ['299', 403, 'pause'],
    ['131042', 400, 'pause'],
    ['368', 403, 'pause'],
    ['131031', 403, 'pause'],
  ];
  for (const [code, http, want] of cases) {
    await t.test(`code ${code}`, () => {
      const got = classifyOutcome(error(code, http));
      if (want === 'pause') {
        assert.equal(got.action, 'pause');
        assert.match(got.action === 'pause' ? got.reason : '', new RegExp(`error ${code}: Title`));
      } else {
        assert.deepEqual(got, want);
      }
    });
  }
});

test('HTTP status when there is no code we know', async (t) => {
  const cases: Array<[code: string | null, http: number, want: SendAction['action'], extra?: object]> = [
    [null, 408, 'retry', retry],
    [null, 429, 'retry', throughput],
    [null, 500, 'retry', retry],
    [null, 502, 'retry', retry],
    [null, 503, 'retry', retry],
    [null, 401, 'pause'],
    [null, 403, 'pause'],
    [null, 400, 'fail', fail],
    [null, 404, 'fail', fail],
    [null, 409, 'fail', fail],
    ['999999', 400, 'fail', fail],
    ['999999', 503, 'retry', retry],
    ['not-a-number', 429, 'retry', throughput],
    [null, 200, 'ambiguous', { action: 'ambiguous' }],
  ];
  for (const [code, http, want, extra] of cases) {
    await t.test(`${code ?? 'no code'}, HTTP ${http}`, () => {
      const got = classifyOutcome(error(code, http));
      assert.equal(got.action, want);
      if (extra) assert.deepEqual(got, extra);
    });
  }
});

test('the error code takes precedence over the HTTP status', () => {
  assert.deepEqual(classifyOutcome(error('131026', 500)), fail);
  assert.deepEqual(classifyOutcome(error('130429', 400)), throughput);
  assert.deepEqual(classifyOutcome(error('131000', 400)), retry);
  assert.equal(classifyOutcome(error('190', 400)).action, 'pause');
  assert.deepEqual(classifyOutcome(error(' 131050 ', 400)), { action: 'fail', suppress: true });
});

test('pause reasons name the code and title', () => {
  assert.deepEqual(classifyOutcome(error('131048', 400, 'Spam rate limit hit')), {
    action: 'pause',
    reason: 'provider error 131048: Spam rate limit hit (HTTP 400)',
  });
  assert.deepEqual(classifyOutcome(error('190', 401, null)), { action: 'pause', reason: 'provider error 190 (HTTP 401)' });
  assert.deepEqual(classifyOutcome(error(null, 403, 'quota exceeded')), { action: 'pause', reason: 'provider answered HTTP 403: quota exceeded' });
});

test('Verihubs HTTP answers (the adapter codes them verihubs_…)', async (t) => {
  const cases: Array<[code: string, http: number, want: SendAction | RegExp]> = [
    ['verihubs_http_429', 429, throughput],
    ['verihubs_http_403', 403, /^Verihubs quota exhausted \(HTTP 403, verihubs_http_403\): Title$/],
    ['verihubs_http_409', 409, { action: 'fail', suppress: true }],
    ['verihubs_http_401', 401, /^Verihubs refused the App-ID\/API-Key, check WA_APP_ID and WA_API_KEY/],
    ['verihubs_http_400', 400, fail],
    ['verihubs_http_500', 500, retry],
    // A code of Verihubs' own keeps the status's Verihubs meaning, and is never read as a Meta code.
    ['verihubs_4', 409, { action: 'fail', suppress: true }],
    ['verihubs_10', 403, /^Verihubs quota exhausted/],
  ];
  for (const [code, http, want] of cases) {
    await t.test(`${code}, HTTP ${http}`, () => {
      const got = classifyOutcome(error(code, http));
      if (want instanceof RegExp) {
        assert.equal(got.action, 'pause');
        assert.match(got.action === 'pause' ? got.reason : '', want);
      } else {
        assert.deepEqual(got, want);
      }
    });
  }
  // Another provider's bare 409 is not a blocked number: no suppression.
  assert.deepEqual(classifyOutcome(error(null, 409)), fail);
});

test('accepted and network outcomes', () => {
  assert.deepEqual(classifyOutcome({ kind: 'accepted', messageId: 'wamid.1', httpStatus: 200 }), { action: 'accepted' });
  assert.deepEqual(classifyOutcome({ kind: 'network', phase: 'before_write', message: 'ECONNREFUSED' }), retry);
  assert.deepEqual(classifyOutcome({ kind: 'network', phase: 'after_write', message: 'timeout' }), { action: 'ambiguous' });
});

test('backoffMs: full jitter under an exponential ceiling', async (t) => {
  const cases: Array<[attempt: number, random: number, want: number]> = [
    [0, 0.5, 500],
    [1, 0.5, 1_000],
    [2, 0.5, 2_000],
    [3, 0.999, 7_992],
    [0, 0, 0],
    [10, 0.5, 15_000], // 1000·2^10 capped at 30 000
    [5000, 0.5, 15_000], // 2^5000 is Infinity: still the cap
    [-3, 0.5, 500],
    [Number.NaN, 0.5, 500],
    [2, 1.5, 4_000], // a broken random source is clamped
    [2, Number.NaN, 0],
  ];
  for (const [attempt, r, want] of cases) {
    await t.test(`attempt ${attempt}, random ${r}`, () => assert.equal(backoffMs(attempt, 1_000, 30_000, () => r), want));
  }
});

test('backoffMs stays within [0, ceiling) for any random in [0, 1)', () => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const ceiling = Math.min(30_000, 1_000 * 2 ** attempt);
    for (const r of [0, 0.1, 0.5, 0.9999999]) {
      const ms = backoffMs(attempt, 1_000, 30_000, () => r);
      assert.ok(ms >= 0 && ms < ceiling, `${ms} for attempt ${attempt}`);
    }
  }
});
