import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Breaker } from '../src/send/breaker.ts';

test('closed: everyone is admitted at once, and answers other than transient failures keep it closed', async () => {
  const b = new Breaker(3, 1000);
  assert.equal(await b.admit(), false);
  assert.equal(b.record(true, false), false);
  assert.equal(b.record(true, false), false);
  assert.equal(b.record(false, false), false, 'an answer resets the count');
  assert.equal(b.record(true, false), false);
  assert.equal(b.record(true, false), false);
  assert.equal(b.isOpen, false, 'two in a row after the reset: still closed');
});

test('threshold consecutive transient failures open it; one probe per interval; a good probe closes it', async () => {
  let clock = 0;
  const b = new Breaker(3, 1000, () => clock);
  b.record(true, false);
  b.record(true, false);
  assert.equal(b.record(true, false), true, 'the third opens it');
  assert.equal(b.isOpen, true);

  assert.equal(await b.admit(), true, 'the first caller after opening is the probe');
  // A second caller waits while the probe is out, and also until the interval has passed.
  let second: boolean | null = null;
  const waiting = b.admit().then((p) => (second = p));
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(second, null, 'no second request while the probe is out');
  assert.equal(b.record(true, true), true, 'the probe failed: still open');
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(second, null, 'and none before the probe interval has passed');
  clock += 1000;
  await waiting;
  assert.equal(second, true, 'after the interval, the next caller is the next probe');
  assert.equal(b.record(false, true), false, 'the probe got an answer: closed');
  assert.equal(b.isOpen, false);
  assert.equal(await b.admit(), false);
});

test('an aborted admit rejects with the signal reason', async () => {
  let clock = 0;
  const b = new Breaker(1, 1000, () => clock);
  b.record(true, false);
  assert.equal(await b.admit(), true);
  const ac = new AbortController();
  const p = b.admit(ac.signal);
  ac.abort(new Error('stopping'));
  await assert.rejects(p, /stopping/);
});
