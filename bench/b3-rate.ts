import { longestGaps, maxInWindow, perSecond, promptReads, round, sortedTimes, startFakeProvider, type FakeProvider } from './fake-provider.ts';
import {
  BENCH_TEMPLATE_ARGS, createCampaign, exitText, figure, figureAtLeast, fmt, lastLines, now, query, runCli, sleep,
  startCampaignWorker, waitFor,
  type BenchContext, type Benchmark, type CreatedCampaign, type Figure, type Proc,
} from './lib.ts';

/**
 * B3 — the rate limit. WA_RATE_LIMIT_RPS=50 against a fake Cloud API (bench/fake-provider.ts) that
 * timestamps every request's arrival; a campaign big enough to outlast the window. The window is a fixed
 * SECONDS (60; BENCH_B3_SECONDS to shorten) starting at the first request: the achieved rate is the
 * requests that arrived in it ÷ its length, divided by 50 (target ≥ 0.99); the largest number of requests
 * in any rolling 1,000 ms is counted exactly over every request of the phase (target ≤ 50). Two phases,
 * each with its own campaign: one `campaign worker`, then three on the same database sharing the limit
 * (through Redis when REDIS_URL is set in the harness's environment, else PostgreSQL). The fake answers
 * after FAKE_LATENCY_MS, a provider's usual answer time, so requests overlap as they would in production.
 *
 * The limit is kept where a request leaves the worker, so B3 also counts the workers' own write times
 * (send_attempts.written_at, one clock on this machine) and how late the fake read each request after its
 * write: a rolling second at the fake can hold one more than the workers wrote when the fake, sharing the
 * 2 cores, read the first of them late (measured up to 12 ms; the limit's margin is 5 ms, 0.5 % of the rate).
 */

const RPS = 50;
const TARGET_RATE_RATIO = 0.99;
const FAKE_LATENCY_MS = 100;
const PHONE_ID = '100000000000001';
const TOKEN = 'bench-token';
/** Rows beyond SECONDS × RPS, so a phase never runs out of recipients inside its window. */
const SPARE_S = 20;
const WORKER_STOP_GRACE_MS = 45_000;
const FIRST_SEND_MS = 60_000;

function seconds(): number {
  const raw = process.env.BENCH_B3_SECONDS;
  const s = raw === undefined || raw === '' ? 60 : Number(raw);
  if (!Number.isInteger(s) || s < 3 || s > 3600) throw new Error(`BENCH_B3_SECONDS=${raw}: expected whole seconds, 3..3600`);
  return s;
}

interface PhaseResult {
  workers: number;
  window_s: number;
  requests_in_window: number;
  rate: number;
  rate_ratio: number;
  /** (n - 1) / (last - first) over the requests in the window. */
  rate_first_to_last: number | null;
  requests_total: number;
  max_rolling_second: number;
  max_rolling_second_at_s: number | null;
  requests_over_limit: number;
  /** The shortest time spanned by RPS + 1 consecutive requests (under 1,000 ms: the limit was exceeded). */
  tightest_limit_plus_one_ms: number | null;
  /** The same two over the workers' write times (send_attempts.written_at). */
  max_rolling_second_written: number;
  tightest_limit_plus_one_written_ms: number | null;
  /** How long after its write the fake read each first request: p50, p99, max (ms). */
  read_delay_ms: { p50: number; p99: number; max: number } | null;
  per_second: number[];
  longest_gaps: Array<{ after_s: number; gap_ms: number }>;
  requests_by_worker: Record<string, number>;
  workers_that_sent: number;
  attempts_not_accepted: number;
  duplicate_sends: number;
  rejected_by_fake: number;
  worker_exits: Array<{ exit: number | null; signal: string | null; graceful: boolean }>;
  first_send_after_start_s: number;
  /** How the fake's thread was scheduled during the phase (promptReads). */
  fake_scheduling: string;
}

async function runPhase(
  ctx: BenchContext, fake: FakeProvider, env: NodeJS.ProcessEnv, campaign: CreatedCampaign, nWorkers: number, windowS: number,
): Promise<PhaseResult> {
  const tag = `${nWorkers} worker${nWorkers > 1 ? 's' : ''}`;
  const workers: Proc[] = [];
  const exits: PhaseResult['worker_exits'] = [];
  let prompt: ReturnType<typeof promptReads> | null = null;
  try {
    for (let i = 0; i < nWorkers; i++) {
      workers.push(await startCampaignWorker(`campaign worker ${i + 1}/${nWorkers}`, { env, timeoutMs: ctx.timeoutMs + windowS * 1000 + 5 * 60_000 }));
    }
    fake.reset();
    // After the workers are up: reset-on-fork keeps `campaign start` below from inheriting it anyway.
    prompt = promptReads();
    ctx.log(`B3: ${tag}: campaign start; measuring ${windowS} s from the first request; fake: ${prompt.note}`);
    const t0 = now();
    await runCli('campaign start', ['start', campaign.id, '--json'], { env, timeoutMs: ctx.timeoutMs });
    const dead = () => workers.find((w) => w.exit !== null);
    await waitFor(() => fake.arrivals.length > 0 || dead() !== undefined, FIRST_SEND_MS, 5);
    const gone = dead();
    if (gone) throw new Error(`${gone.name} ${exitText(gone.exit!)}: ${lastLines(gone.stderrTail())}`);
    if (fake.arrivals.length === 0) throw new Error(`${tag}: no request reached the fake within ${FIRST_SEND_MS / 1000} s of campaign start`);
    const first = fake.arrivals[0]!;
    const windowEnd = first + windowS * 1000;
    // Sleep through the window (the harness does nothing else meanwhile), watching for a dead worker.
    while (now() < windowEnd + 500) {
      await sleep(Math.min(1000, Math.max(1, windowEnd + 500 - now())));
      const d = dead();
      if (d) throw new Error(`${d.name} ${exitText(d.exit!)} during the window: ${lastLines(d.stderrTail())}`);
    }
    // Stop sending: cancel the campaign (no new attempt starts), then stop the workers (in-flight finish).
    await runCli('campaign cancel', ['cancel', campaign.id], { env, timeoutMs: ctx.timeoutMs });
    for (const w of workers.splice(0)) {
      const e = await w.stop(WORKER_STOP_GRACE_MS);
      exits.push({ exit: e.code, signal: e.signal, graceful: e.code === 0 });
      if (e.code !== 0) ctx.log(`B3: ${w.name} ${exitText(e)} on SIGTERM: ${lastLines(w.stderrTail(), 3)}`);
    }

    const all = sortedTimes(fake.arrivals);
    let inWindow = 0;
    let lastInWindow = first;
    for (const t of all) {
      if (t < windowEnd) { inWindow++; lastInWindow = t; }
    }
    const rolling = maxInWindow(all, 1000);
    const byWorker = await query<{ worker: string; n: string; not_accepted: string }>(ctx.dbUrl, `
      SELECT worker, count(*)::text AS n, count(*) FILTER (WHERE result IS DISTINCT FROM 'accepted')::text AS not_accepted
      FROM send_attempts WHERE campaign_id = $1 GROUP BY worker ORDER BY worker`, [campaign.id]);
    const rate = inWindow / windowS;
    const writes = await query<{ to: string; ms: string }>(ctx.dbUrl, `
      SELECT substr(r.phone_e164, 2) AS to, extract(epoch FROM a.written_at) * 1000 AS ms
      FROM send_attempts a JOIN recipients r USING (campaign_id, line)
      WHERE a.campaign_id = $1 AND a.written_at IS NOT NULL`, [campaign.id]);
    const written = Float64Array.from(writes, (w) => Number(w.ms)).sort();
    const delays: number[] = [];
    for (const w of writes) {
      const at = fake.firstArrival?.get(w.to);
      if (at !== undefined) delays.push(performance.timeOrigin + at - Number(w.ms));
    }
    delays.sort((a, b) => a - b);
    let dupSends = 0;
    for (const n of fake.tos?.values() ?? []) if (n > 1) dupSends += n - 1;
    return {
      workers: nWorkers,
      window_s: windowS,
      requests_in_window: inWindow,
      rate,
      rate_ratio: rate / RPS,
      rate_first_to_last: inWindow > 1 && lastInWindow > first ? (inWindow - 1) / ((lastInWindow - first) / 1000) : null,
      requests_total: all.length,
      max_rolling_second: rolling.max,
      max_rolling_second_at_s: rolling.at === null ? null : round((rolling.at - first) / 1000, 3),
      requests_over_limit: rolling.over(RPS),
      tightest_limit_plus_one_ms: tightest(all, RPS + 1),
      max_rolling_second_written: maxInWindow(written, 1000).max,
      tightest_limit_plus_one_written_ms: tightest(written, RPS + 1),
      read_delay_ms: delays.length === 0 ? null : {
        p50: round(delays[Math.floor(delays.length * 0.5)]!, 2),
        p99: round(delays[Math.floor(delays.length * 0.99)]!, 2),
        max: round(delays[delays.length - 1]!, 2),
      },
      per_second: perSecond(all, first, windowS),
      longest_gaps: longestGaps(all, first, 5),
      requests_by_worker: Object.fromEntries(byWorker.map((r, i) => [`worker ${i + 1} (${r.worker})`, Number(r.n)])),
      workers_that_sent: byWorker.filter((r) => Number(r.n) > 0).length,
      attempts_not_accepted: byWorker.reduce((acc, r) => acc + Number(r.not_accepted), 0),
      duplicate_sends: dupSends,
      rejected_by_fake: fake.rejected,
      worker_exits: exits,
      first_send_after_start_s: round((first - t0) / 1000, 3),
      fake_scheduling: prompt.note,
    };
  } finally {
    prompt?.restore();
    await Promise.all(workers.map((w) => w.stop(WORKER_STOP_GRACE_MS)));
  }
}

/** The shortest span (ms) of `k` consecutive sorted times, or null when there are fewer. */
function tightest(sorted: Float64Array, k: number): number | null {
  let min: number | null = null;
  for (let j = k - 1; j < sorted.length; j++) {
    const span = sorted[j]! - sorted[j - k + 1]!;
    if (min === null || span < min) min = span;
  }
  return min === null ? null : round(min, 2);
}

export const b3: Benchmark = {
  id: 'B3',
  title: 'rate limit',
  async run(ctx: BenchContext) {
    const windowS = seconds();
    const rows = RPS * (windowS + SPARE_S);
    const redisUrl = process.env.REDIS_URL || '';
    const details: Record<string, unknown> = {
      rate_limit_rps: RPS, window_s: windowS, fake_latency_ms: FAKE_LATENCY_MS, rows_per_campaign: rows,
      shared_window: redisUrl ? 'redis (REDIS_URL)' : 'postgres (no REDIS_URL)',
    };
    const fake = await startFakeProvider({ latencyMs: FAKE_LATENCY_MS, recordTo: true });
    const env = ctx.env({
      WA_PROVIDER: 'cloud', WA_BASE_URL: fake.url, WA_PHONE_NUMBER_ID: PHONE_ID, WA_ACCESS_TOKEN: TOKEN,
      WA_RATE_LIMIT_RPS: String(RPS), LOG_LEVEL: 'info',
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    });
    try {
      await runCli('template add', BENCH_TEMPLATE_ARGS, { env, timeoutMs: ctx.timeoutMs });
      const csv = await ctx.makeCsv(`b3-contacts-${rows}.csv`, { rows, invalidRate: 0, missingParamRate: 0, duplicateRate: 0, quotedRate: 0.01 });
      const campaigns: CreatedCampaign[] = [];
      for (const name of ['b3-1-worker', 'b3-3-workers']) {
        const c = await createCampaign(name, csv.path, { env, timeoutMs: ctx.timeoutMs });
        if (c.ingest?.accepted !== rows) throw new Error(`campaign create (${name}) accepted ${c.ingest?.accepted} of ${rows} rows`);
        campaigns.push(c);
      }

      const one = await runPhase(ctx, fake, env, campaigns[0]!, 1, windowS);
      details.one_worker = one;
      const three = await runPhase(ctx, fake, env, campaigns[1]!, 3, windowS);
      details.three_workers = three;

      const figures: Figure[] = [];
      const lines: string[] = [];
      const problems: string[] = [];
      for (const p of [one, three]) {
        const tag = `${p.workers} worker${p.workers > 1 ? 's' : ''}`;
        figures.push(
          figureAtLeast({
            key: `rate_${p.workers}w`, label: `achieved rate, ${tag}, ${windowS} s`, value: p.rate, unit: 'req/s',
            baseline: { label: 'configured limit', value: RPS },
          }, { on: 'ratio', min: TARGET_RATE_RATIO }),
          figure({
            key: `max_rolling_second_${p.workers}w`, label: `most requests in a rolling second, ${tag}`, value: p.max_rolling_second, unit: '',
            baseline: { label: 'configured limit', value: RPS }, target: { on: 'value', max: RPS },
          }),
          figure({
            key: `max_rolling_second_written_${p.workers}w`, label: `most written in a rolling second (workers' clock), ${tag}`,
            value: p.max_rolling_second_written, unit: '',
            baseline: { label: 'configured limit', value: RPS }, target: { on: 'value', max: RPS },
          }),
        );
        const slow = p.per_second.map((n, s) => [s, n] as const).filter(([, n]) => n < RPS * 0.9);
        lines.push(
          `B3 ${tag}: ${p.requests_in_window} requests in ${windowS} s = ${fmt(p.rate)} req/s; ÷ ${RPS} = ${fmt(p.rate_ratio, 3)} (target ≥ ${TARGET_RATE_RATIO})`
            + `; most in any rolling second: ${p.max_rolling_second} (target ≤ ${RPS})`
            + (p.requests_over_limit > 0 ? `, ${p.requests_over_limit} requests over the limit (${RPS + 1} within ${fmt(p.tightest_limit_plus_one_ms, 1)} ms)` : '')
            + `; ${p.workers_that_sent} of ${p.workers} workers sent`,
          `B3 ${tag}: as the workers wrote them: most in any rolling second ${p.max_rolling_second_written}`
            + `, ${RPS + 1} spanned at least ${fmt(p.tightest_limit_plus_one_written_ms, 1)} ms`
            + (p.read_delay_ms ? `; the fake read them ${fmt(p.read_delay_ms.p50, 2)} ms after the write (p50), p99 ${fmt(p.read_delay_ms.p99, 2)}, max ${fmt(p.read_delay_ms.max, 1)} ms` : ''),
        );
        if (slow.length > 0) lines.push(`B3 ${tag}: seconds under ${RPS * 0.9} requests: ${slow.slice(0, 8).map(([s, n]) => `${s}s:${n}`).join(', ')}${slow.length > 8 ? ', …' : ''}`);
        if (p.duplicate_sends > 0) problems.push(`${tag}: ${p.duplicate_sends} duplicate sends to one number`);
        if (p.rejected_by_fake > 0) problems.push(`${tag}: the fake rejected ${p.rejected_by_fake} bodies`);
      }
      lines.push(`B3 shared limit through ${details.shared_window}; fake answers after ${FAKE_LATENCY_MS} ms; fake scheduled ${one.fake_scheduling}`);
      return { ok: problems.length === 0, ...(problems.length ? { error: problems.join('; ') } : {}), figures, lines, details };
    } finally {
      await fake.close();
    }
  },
};
