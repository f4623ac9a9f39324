import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { maxInWindow } from './helpers/window.ts';
import { RateLimiter, type Grant } from '../src/send/limiter.ts';

// The limiter is in-process (one channel, one worker): no database is involved. Every test uses its own
// limiter and mostly sleeps, so they run side by side to keep the file near 3 s instead of 9 s.

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the sender does with a grant: wait for its lead, then write (here: nothing) and depart. */
async function leave(g: Grant): Promise<number> {
  await g.ready();
  const at = performance.now();
  g.depart();
  return at;
}

/**
 * Measures how late this process's timers fire (event-loop lag, CPU starvation when other test files run
 * beside this one). The limiter waits on timers, so on a starved machine each request leaves that much
 * later than its pacing allows; the throughput floor below allows for exactly the measured lateness.
 */
function lagProbe(): { stop(): number } {
  const every = 10;
  let total = 0;
  let n = 0;
  let expected = performance.now() + every;
  let timer: NodeJS.Timeout;
  const tick = () => {
    const now = performance.now();
    total += Math.max(0, now - expected);
    n++;
    expected = now + every;
    timer = setTimeout(tick, every);
  };
  timer = setTimeout(tick, every);
  return { stop: () => { clearTimeout(timer); return n === 0 ? 0 : total / n; } };
}

describe('RateLimiter', { concurrency: true }, () => {
  test('maxInWindow (the checker itself) counts a rolling window correctly', () => {
    assert.equal(maxInWindow([0, 999, 1000, 1999], 1000), 2);
    assert.equal(maxInWindow([0, 1, 2, 999.9], 1000), 4);
    assert.equal(maxInWindow([0, 1000, 2000], 1000), 1);
    assert.equal(maxInWindow([], 1000), 0);
  });

  test('rps 50: 160 sends from 20 concurrent loops never exceed 50 in any rolling second, and sustain ≥ 0.9 × 50/s', async () => {
    const rps = 50;
    const total = 160;
    const limiter = new RateLimiter(rps);
    const departures: number[] = [];
    let issued = 0;
    const loop = async () => {
      while (issued < total) {
        issued++;
        const grant = await limiter.acquire();
        await grant.ready();
        // Stamp first, then depart: the limiter's own stamp is at least this late, so the check below is
        // never more lenient than the limiter's guarantee.
        departures.push(performance.now());
        grant.depart();
      }
    };
    const probe = lagProbe();
    let lag: number;
    try {
      await Promise.all(Array.from({ length: 20 }, loop));
    } finally {
      lag = probe.stop();
      await limiter.stop();
    }
    assert.equal(departures.length, total);

    const worst = maxInWindow(departures, 1000);
    assert.ok(worst <= rps, `${worst} departures in one rolling 1000 ms window (limit ${rps})`);
    // Equivalently: request i+50 leaves at least 1000 ms after request i.
    const s = [...departures].sort((a, b) => a - b);
    for (let i = 0; i + rps < s.length; i++) {
      assert.ok(s[i + rps]! - s[i]! >= 1000, `requests ${i} and ${i + rps} only ${(s[i + rps]! - s[i]!).toFixed(1)} ms apart`);
    }

    // Sustained throughput after the first second: the limiter does not leave capacity unused (≥ 0.9 × rps
    // on an idle machine; on a starved one, less by exactly the measured timer lateness).
    const t0 = s[0]!;
    const later = s.filter((x) => x >= t0 + 1000);
    assert.ok(later.length >= 50, `only ${later.length} departures after the first second`);
    const rate = ((later.length - 1) / (later[later.length - 1]! - later[0]!)) * 1000;
    // The limiter paces one request per floor(1000 / rps) ms, and a late timer delays every one after it.
    const floor = (0.9 * 1000) / (Math.floor(1000 / rps) + lag);
    assert.ok(rate >= floor, `sustained ${rate.toFixed(1)}/s, expected ≥ ${floor.toFixed(1)}/s (0.9 × ${rps}, timer lag ${lag.toFixed(1)} ms)`);
    assert.ok(limiter.waitedTotalMs > 0, 'waiting is accounted for the metrics');
  });

  /**
   * rps 5 (paced every 200 ms). Grant g0 is held ~900 ms while g1..g4 leave at once. The 6th request reuses
   * g0's slot of the ring: if g0 departs at ~900 ms it must wait until ~1900 ms; if g0 is cancelled, the slot
   * is free and it leaves at the pace (~1000 ms). Returns the times relative to the start.
   */
  async function heldSlotScenario(finish: (g: Grant) => void): Promise<{ released: number; sixth: number }> {
    const limiter = new RateLimiter(5);
    try {
      const start = performance.now();
      const g0 = await limiter.acquire();
      for (let i = 1; i < 5; i++) await leave(await limiter.acquire());
      const sixth = limiter.acquire().then(async (g) => {
        await g.ready();
        const at = performance.now() - start;
        g.depart();
        return at;
      });
      await sleep(Math.max(0, 900 - (performance.now() - start)));
      const released = performance.now() - start;
      finish(g0);
      return { released, sixth: await sixth };
    } finally {
      await limiter.stop();
    }
  }

  test('a departure is counted when the request leaves, not when it was granted', async () => {
    const { released, sixth } = await heldSlotScenario((g) => g.depart());
    assert.ok(sixth - released >= 1000, `the 6th left ${(sixth - released).toFixed(0)} ms after the held request departed`);
  });

  test('cancel() frees the slot: a cancelled grant is not counted', async () => {
    const { released, sixth } = await heldSlotScenario((g) => g.cancel());
    assert.ok(sixth >= released, 'the 6th waits while the slot is granted and unsettled');
    // Counted, it would leave ≥ 1000 ms after the cancel; free, right after it (~100 ms, the pacing).
    assert.ok(sixth - released < 750, `the 6th left ${(sixth - released).toFixed(0)} ms after the cancel: the cancelled grant was counted`);
  });

  test('cancel and depart are idempotent: the first call wins', async () => {
    // rps 1, a single slot. g is held 800 ms, then cancelled, then (wrongly) departed. If that late depart
    // counted, the next request would leave ≥ 1000 ms after it; cancelled, only the pacing applies (one
    // request per 1000 ms since the first, so ~200 ms after the cancel).
    const limiter = new RateLimiter(1);
    try {
      const g = await limiter.acquire();
      await sleep(800);
      const cancelledAt = performance.now();
      g.cancel();
      g.depart();
      await leave(await limiter.acquire());
      const after = performance.now() - cancelledAt;
      assert.ok(after < 800, `the next request left ${after.toFixed(0)} ms after the cancel: the depart after cancel was counted`);
    } finally {
      await limiter.stop();
    }
  });

  test('a cancel after depart does not free the slot: the request has left and stays counted', async () => {
    const limiter = new RateLimiter(1);
    try {
      const g = await limiter.acquire();
      await sleep(300);
      const departedAt = performance.now();
      g.depart();
      g.cancel();
      await leave(await limiter.acquire());
      const after = performance.now() - departedAt;
      assert.ok(after >= 1000, `the next request left ${after.toFixed(0)} ms after the first one`);
    } finally {
      await limiter.stop();
    }
  });

  test('an aborted signal rejects a waiting acquire with its reason; the limiter carries on', async () => {
    const limiter = new RateLimiter(5);
    try {
      const grants: Grant[] = [];
      for (let i = 0; i < 5; i++) grants.push(await limiter.acquire());
      await Promise.all(grants.map((g) => g.ready()));
      // All five leave together: the ring is full until departed + 1000 ms, so the next acquire must wait.
      const departed = performance.now();
      for (const g of grants) g.depart();
      const ac = new AbortController();
      const reason = new Error('worker stopping');
      let settled = false;
      const waiting = limiter.acquire(ac.signal).finally(() => { settled = true; });
      await sleep(150);
      assert.equal(settled, false, 'the acquire is waiting');
      const abortedAt = performance.now();
      ac.abort(reason);
      await assert.rejects(waiting, (err: unknown) => err === reason);
      const rejectedAt = performance.now();
      // The limiter notices the abort at its next check, at the latest when the window would have opened.
      assert.ok(rejectedAt - abortedAt < 2000, `rejected ${(rejectedAt - abortedAt).toFixed(0)} ms after the abort`);

      // The next request is still held to the window, and is granted once it opens.
      const next = await limiter.acquire();
      await next.ready();
      const at = performance.now();
      next.depart();
      assert.ok(at - departed >= 1000, `a 6th request within ${(at - departed).toFixed(0)} ms of five`);
      assert.ok(at - Math.max(rejectedAt, departed + 1000) < 800, `the next grant came ${(at - departed).toFixed(0)} ms after the five`);
    } finally {
      await limiter.stop();
    }
  });

  test('an already-aborted signal rejects at once, without waiting', async () => {
    const limiter = new RateLimiter(50);
    try {
      const ac = new AbortController();
      ac.abort(new Error('stopped'));
      const t0 = performance.now();
      await assert.rejects(limiter.acquire(ac.signal), /stopped/);
      assert.ok(performance.now() - t0 < 50);
      // And the limiter still grants.
      await leave(await limiter.acquire());
    } finally {
      await limiter.stop();
    }
  });

  test('above the paced range (rps 600, no Bottleneck): 900 sends never exceed 600 in any rolling second, and the first 600 go at once', async () => {
    const rps = 600;
    const limiter = new RateLimiter(rps);
    const departures: number[] = [];
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 900 }, async () => {
      const g = await limiter.acquire();
      await g.ready();
      departures.push(performance.now());
      g.depart();
    }));
    await limiter.stop();
    assert.ok(maxInWindow(departures, 1000) <= rps, `${maxInWindow(departures, 1000)} in one rolling second`);
    const sorted = [...departures].sort((a, b) => a - b);
    assert.ok(sorted[rps - 1]! - t0 < 900, `the first ${rps} took ${(sorted[rps - 1]! - t0).toFixed(0)} ms: not paced like Bottleneck would`);
  });

  test('rps is floored to a whole number, at least 1', () => {
    assert.equal(new RateLimiter(50.9).rps, 50);
    assert.equal(new RateLimiter(0.2).rps, 1);
  });
});
