import { join } from 'node:path';
import { longestGaps, round, sortedTimes, startFakeProvider, type FakeProvider } from './fake-provider.ts';
import {
  BENCH_TEMPLATE_ARGS, REPO_ROOT, commCpuByPid, cpuSecondsBetween, createCampaign, exitText, figureAtLeast, fmt, fmtRows, lastLines, now,
  parseJsonOut, query, runCli, spawnProc, startCampaignWorker, treeCpuSeconds, waitFor,
  type BenchContext, type Benchmark, type Figure, type Proc,
} from './lib.ts';

/**
 * B4 — throughput with the limit lifted. A zero-latency fake Cloud API; a campaign of MESSAGES recipients
 * (20,000; BENCH_B4_MESSAGES to change) sent by one `campaign worker` with WA_RATE_LIMIT_RPS at the
 * configuration's maximum (10,000): messages/s from the first to the last request at the fake, and then
 * every recipient must be `accepted` in PostgreSQL with one attempt (the state is durable, nothing was sent
 * twice). The baseline, in the same run against the same fake: a bare HTTP client loop in its own process
 * (bench/http-loop.ts) with the worker's client settings and concurrency posting the same bodies.
 * REDIS_URL, when set in the harness's environment, is passed to the worker (its rate window then lives in
 * Redis instead of PostgreSQL), as in B3.
 */

const TARGET_RATIO = 0.4;
/** "The limit lifted": no limiter and no shared window (src/config.ts). */
const RPS = 'unlimited';
/** The sender's request concurrency: p-limit(max(4, min(256, rps))) in src/send/sender.ts. */
const CONCURRENCY = 256;
const PHONE_ID = '100000000000001';
const TOKEN = 'bench-token';
const WORKER_STOP_GRACE_MS = 45_000;
/** After the last request reached the fake, every recipient must be recorded within this. */
const DURABLE_WAIT_MS = 60_000;

function messages(): number {
  const raw = process.env.BENCH_B4_MESSAGES;
  const n = raw === undefined || raw === '' ? 20_000 : Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 100 || n > 10_000_000) throw new Error(`BENCH_B4_MESSAGES=${raw}: expected a whole number, 100..10000000`);
  return n;
}

/** Messages/s from the first to the last arrival. */
function rateOf(sorted: Float64Array): number | null {
  if (sorted.length < 2) return null;
  const span = sorted[sorted.length - 1]! - sorted[0]!;
  return span > 0 ? (sorted.length - 1) / (span / 1000) : null;
}

interface RecipientCounts { total: string; accepted_rows: string; status_accepted: string; with_message_id: string; multi_attempt: string }
interface AttemptCounts { attempts: string; accepted: string; unfinished: string }

export const b4: Benchmark = {
  id: 'B4',
  title: 'throughput, limit lifted',
  async run(ctx: BenchContext) {
    const n = messages();
    const redisUrl = process.env.REDIS_URL || '';
    const details: Record<string, unknown> = {
      messages: n, rate_limit_rps: RPS, concurrency: CONCURRENCY, fake_latency_ms: 0,
      shared_window: redisUrl ? 'redis (REDIS_URL)' : 'postgres (no REDIS_URL)',
    };
    const fake: FakeProvider = await startFakeProvider();
    const env = ctx.env({
      WA_PROVIDER: 'cloud', WA_BASE_URL: fake.url, WA_PHONE_NUMBER_ID: PHONE_ID, WA_ACCESS_TOKEN: TOKEN,
      WA_RATE_LIMIT_RPS: String(RPS), LOG_LEVEL: 'info',
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    });
    const spawnOpts = { env, timeoutMs: ctx.timeoutMs };
    let worker: Proc | null = null;
    try {
      await runCli('template add', BENCH_TEMPLATE_ARGS, spawnOpts);
      const csv = await ctx.makeCsv(`b4-contacts-${n}.csv`, { rows: n, invalidRate: 0, missingParamRate: 0, duplicateRate: 0, quotedRate: 0.01 });
      ctx.log(`B4: campaign create (${n} rows, not started)`);
      const created = await createCampaign('b4', csv.path, spawnOpts);
      if (created.ingest?.accepted !== n) throw new Error(`campaign create accepted ${created.ingest?.accepted} of ${n} rows`);
      details.campaign = { id: created.id, state: created.state, ingest: created.ingest };

      // Baseline: the bare client loop, alone against the fake (the database is idle).
      ctx.log(`B4: bare HTTP client loop, ${n} requests, concurrency ${CONCURRENCY}`);
      fake.reset();
      const loop = spawnProc('http loop', process.execPath, [
        join(REPO_ROOT, 'bench', 'http-loop.ts'), '--url', fake.messagesUrl(PHONE_ID), '--requests', String(n),
        '--concurrency', String(CONCURRENCY), '--token', TOKEN,
      ], { env: ctx.env(), timeoutMs: ctx.timeoutMs, captureStdout: true });
      const loopExit = await loop.exited;
      if (loopExit.code !== 0) throw new Error(`http loop ${exitText(loopExit)}: ${lastLines(loop.stderrTail())}`);
      const loopOut = parseJsonOut<{ requests: number; ok: number; failed: number; statuses: Record<string, number>; wall_ms: number }>('http loop', loop.stdout());
      if (loopOut.ok !== n) throw new Error(`http loop: ${loopOut.ok} of ${n} requests answered 200 (${JSON.stringify(loopOut.statuses)})`);
      const base = sortedTimes(fake.arrivals);
      const baseRate = rateOf(base);
      details.baseline = {
        requests_at_fake: base.length, msgs_per_s: baseRate, span_s: base.length ? (base[base.length - 1]! - base[0]!) / 1000 : null,
        wall_s: loopExit.wallS, loop: loopOut, connections: fake.connections, body_bytes: fake.sampleBody?.length ?? null,
      };
      const baseBody = fake.sampleBody;

      // Measured: one worker sends the campaign.
      fake.reset();
      worker = await startCampaignWorker('campaign worker', { ...spawnOpts, timeoutMs: 2 * ctx.timeoutMs });
      const w = worker;
      ctx.log(`B4: campaign start; one worker, WA_RATE_LIMIT_RPS=${RPS}`);
      const cpu0 = { worker: treeCpuSeconds(w.pid), postgres: commCpuByPid('postgres') };
      await runCli('campaign start', ['start', created.id, '--json'], spawnOpts);
      const gotAll = await waitFor(() => fake.arrivals.length >= n || w.exit !== null, ctx.timeoutMs, 20);
      if (w.exit !== null) throw new Error(`the worker ${exitText(w.exit)} while sending: ${lastLines(w.stderrTail())}`);
      if (!gotAll) throw new Error(`${fake.arrivals.length} of ${n} requests reached the fake within ${ctx.timeoutMs / 1000} s`);
      const sent = sortedTimes(fake.arrivals);
      const cpu1 = { worker: treeCpuSeconds(w.pid), postgres: commCpuByPid('postgres') };

      // Durable: every recipient accepted, with its message id, in one attempt. Polled only now, so the
      // polling does not load the database while the worker sends.
      let counts: RecipientCounts | undefined;
      const durable = await (async () => {
        const deadline = now() + DURABLE_WAIT_MS;
        for (;;) {
          [counts] = await query<RecipientCounts & Record<string, unknown>>(ctx.dbUrl, `
            SELECT count(*)::text AS total,
                   count(*) FILTER (WHERE outcome = 'accepted')::text AS accepted_rows,
                   count(*) FILTER (WHERE status = 'accepted')::text AS status_accepted,
                   count(*) FILTER (WHERE status = 'accepted' AND message_id IS NOT NULL)::text AS with_message_id,
                   count(*) FILTER (WHERE attempts > 1)::text AS multi_attempt
            FROM recipients WHERE campaign_id = $1`, [created.id]);
          if (Number(counts?.status_accepted) >= n) return now();
          if (now() > deadline || w.exit !== null) return null;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const [attempts] = await query<AttemptCounts & Record<string, unknown>>(ctx.dbUrl, `
        SELECT count(*)::text AS attempts, count(*) FILTER (WHERE result = 'accepted')::text AS accepted,
               count(*) FILTER (WHERE finished_at IS NULL)::text AS unfinished
        FROM send_attempts WHERE campaign_id = $1`, [created.id]);
      const [camp] = await query<{ state: string }>(ctx.dbUrl, 'SELECT state::text AS state FROM campaigns WHERE id = $1', [created.id]);
      const rate = rateOf(sent);
      const spanS = sent.length ? (sent[sent.length - 1]! - sent[0]!) / 1000 : null;
      const durableS = durable !== null && sent.length ? (durable - sent[0]!) / 1000 : null;
      const dups = fake.arrivals.length - n;
      details.measured = {
        requests_at_fake: sent.length, msgs_per_s: rate, span_s: spanS,
        first_request_to_all_durable_s: durableS, msgs_per_s_to_durable: durableS ? n / durableS : null,
        connections: fake.connections, recipients: counts, attempts, campaign_state: camp?.state ?? null,
        cpu_s: { worker: round(cpu1.worker - cpu0.worker), postgres_backends: round(cpuSecondsBetween(cpu0.postgres, cpu1.postgres)) },
        longest_gaps: longestGaps(sent, sent[0] ?? 0),
        same_body_shape: baseBody !== null && fake.sampleBody !== null
          ? JSON.stringify(shape(JSON.parse(baseBody))) === JSON.stringify(shape(JSON.parse(fake.sampleBody))) : null,
        body_bytes: fake.sampleBody?.length ?? null,
      };

      const problems: string[] = [];
      if (durable === null) problems.push(`only ${counts?.status_accepted ?? '?'} of ${n} recipients were accepted in PostgreSQL ${DURABLE_WAIT_MS / 1000} s after the last request`);
      if (dups !== 0) problems.push(`${sent.length} requests reached the fake for ${n} recipients`);
      if (Number(counts?.multi_attempt) > 0) problems.push(`${counts?.multi_attempt} recipients took more than one attempt`);
      if (Number(attempts?.attempts) !== n || Number(attempts?.accepted) !== n) problems.push(`send_attempts: ${attempts?.attempts} rows, ${attempts?.accepted} accepted, expected ${n}`);

      const figures: Figure[] = [figureAtLeast({
        key: 'throughput_msgs_per_s', label: `messages/s, state in PostgreSQL (${fmtRows(n)})`, value: rate, unit: 'req/s',
        baseline: { label: 'bare HTTP client loop', value: baseRate },
      }, { on: 'ratio', min: TARGET_RATIO })];
      const f = figures[0]!;
      const cpu = details.measured as { cpu_s: { worker: number; postgres_backends: number } };
      const lines = [
        `B4 throughput, limit lifted: ${fmt(rate, 0)} messages/s (${n} in ${fmt(spanS)} s, first to last request); bare HTTP client loop: `
          + `${fmt(baseRate, 0)} requests/s; ratio ${fmt(f.ratio)} (target ≥ ${TARGET_RATIO})`
          + (durableS !== null ? `; all ${n} accepted in PostgreSQL ${fmt(durableS)} s after the first request` : ''),
        `B4 CPU while sending: worker ${fmt(cpu.cpu_s.worker)} s, PostgreSQL ${fmt(cpu.cpu_s.postgres_backends)} s over ${fmt(spanS)} s of sending`
          + `; ${fake.connections} sockets opened (≈ the most requests in flight); rate window in ${details.shared_window}`,
      ];
      return { ok: problems.length === 0, ...(problems.length ? { error: problems.join('; ') } : {}), figures, lines, details };
    } finally {
      if (worker) {
        const e = await worker.stop(WORKER_STOP_GRACE_MS);
        details.worker = { exit: e.code, signal: e.signal, wall_s: e.wallS, graceful: e.code === 0 };
        if (e.code !== 0) ctx.log(`B4: the worker ${exitText(e)} on SIGTERM: ${lastLines(worker.stderrTail(), 3)}`);
      }
      await fake.close();
    }
  },
};

/** The keys and value types of a JSON value, recursively (to compare two bodies whose values differ). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return typeof v;
}
