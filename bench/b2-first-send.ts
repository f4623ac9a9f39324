import { startFakeCloud, type FakeCloud } from '../test/helpers/fake-cloud.ts';
import {
  BENCH_PARAM_ARGS, exitText, exitWithin, figure, fmt, fmtRows, lastLines, now, runCli, spawnCli, waitFor,
  type BenchContext, type Benchmark, type Figure, type Proc,
} from './lib.ts';

/**
 * B2 — time to first send. A worker (`--no-http`, cloud provider against a fake Cloud API on 127.0.0.1) is
 * running; `campaign create … --start-at now` is spawned on the big CSV, and the figure is the time from
 * that spawn to the first request arriving at the fake. The baseline is the same with a one-row CSV: the
 * floor set by process start-up, migrations check, job pick-up and the first request.
 */

const TARGET_S = 2;
/** After the first send, the create process may run on until this long after its spawn; then it is stopped. */
const CREATE_LIMIT_MS = 120_000;
const WORKER_START_MS = 60_000;
/** SIGTERM → the worker lets in-flight requests finish (≤ 30 s) and exits; SIGKILL after this. */
const WORKER_STOP_GRACE_MS = 45_000;

interface FirstSend {
  /** Seconds from spawning create to the first request at the fake. */
  firstS: number;
  create: Proc;
}

async function timeToFirstSend(
  ctx: BenchContext, fake: FakeCloud, worker: Proc, env: NodeJS.ProcessEnv, name: string, csv: string, timeoutMs: number,
): Promise<FirstSend> {
  const n0 = fake.arrivals.length;
  const create = spawnCli(`campaign create (${name})`, [
    'create', '--name', name, '--template', 'bench_t', '--language', 'id', '--csv', csv,
    ...BENCH_PARAM_ARGS, '--default-country', 'ID',
    '--start-at', 'now', '--json',
  ], { env, timeoutMs: ctx.timeoutMs, captureStdout: true });
  // A create that finished but whose campaign the worker never sends would otherwise wait the full timeout.
  let createDoneAt: number | null = null;
  void create.exited.then(() => { createDoneAt = now(); });
  const seen = await waitFor(() =>
    fake.arrivals.length > n0
    || worker.exit !== null
    || (create.exit !== null && create.exit.code !== 0)
    || (createDoneAt !== null && now() - createDoneAt > 60_000), timeoutMs);
  if (fake.arrivals.length > n0) return { firstS: (fake.arrivals[n0]! - create.startedAt) / 1000, create };
  await create.stop();
  if (worker.exit !== null) throw new Error(`the worker ${exitText(worker.exit)} before the first send: ${lastLines(worker.stderrTail())}`);
  if (create.exit !== null && create.exit.code !== 0) throw new Error(`campaign create (${name}) ${exitText(create.exit)}: ${lastLines(create.stderrTail())}`);
  if (!seen) throw new Error(`no send reached the fake Cloud API within ${timeoutMs / 1000} s of spawning create (${name})`);
  throw new Error(`create (${name}) finished but no send reached the fake Cloud API within 60 s: ${lastLines(worker.stderrTail())}`);
}

export const b2: Benchmark = {
  id: 'B2',
  title: 'first send',
  async run(ctx: BenchContext) {
    const { path, stats } = await ctx.csv();
    const one = await ctx.makeCsv('b2-one-row.csv', { rows: 1, invalidRate: 0, missingParamRate: 0, duplicateRate: 0, quotedRate: 0 });
    const n = fmtRows(stats.rows);
    const details: Record<string, unknown> = {};
    const fake = await startFakeCloud();
    const env = ctx.env({
      WA_PROVIDER: 'cloud', WA_BASE_URL: fake.url, WA_PHONE_NUMBER_ID: '100000000000001', WA_ACCESS_TOKEN: 'bench-token',
      WA_RATE_LIMIT_RPS: '50', LOG_LEVEL: 'info',
    });
    let worker: Proc | null = null;
    try {
      await runCli('template add', ['template', 'add', '--name', 'bench_t', '--language', 'id', '--body', 'Halo {{1}}, pesanan {{2}} ke {{3}}'],
        { env, timeoutMs: ctx.timeoutMs });

      worker = spawnCli('campaign worker', ['worker', '--no-http'], { env, timeoutMs: 3 * ctx.timeoutMs + 4 * CREATE_LIMIT_MS });
      let started = false;
      worker.onStderrLine((line) => {
        if (started) return;
        try { started = (JSON.parse(line) as { msg?: unknown }).msg === 'worker started'; } catch { /* not JSON */ }
      });
      const w = worker;
      await waitFor(() => started || w.exit !== null, WORKER_START_MS, 20);
      if (!started) {
        const why = w.exit ? exitText(w.exit) : `did not log "worker started" within ${WORKER_START_MS / 1000} s`;
        throw new Error(`campaign worker ${why}: ${lastLines(w.stderrTail())}`);
      }
      details.worker_start_s = (now() - w.startedAt) / 1000;

      // Baseline: a one-row CSV.
      ctx.log('B2: first send with a 1-row CSV');
      const base = await timeToFirstSend(ctx, fake, w, env, 'b2-baseline', one.path, 60_000);
      const baseExit = await exitWithin(base.create, 60_000) ?? await base.create.stop();
      details.baseline = { first_send_s: base.firstS, create_wall_s: baseExit.wallS, create_exit: baseExit.code };

      // Measured: the big CSV.
      ctx.log(`B2: first send with ${stats.rows} rows`);
      const big = await timeToFirstSend(ctx, fake, w, env, 'b2', path, ctx.timeoutMs);
      const c = big.create;
      const remaining = Math.max(c.startedAt + CREATE_LIMIT_MS - now(), 5_000);
      let createExit = await exitWithin(c, remaining);
      const createStopped = createExit === null;
      if (createExit === null) {
        ctx.log(`B2: create still running ${fmt((now() - c.startedAt) / 1000, 0)} s after spawn and after the first send; stopping it`);
        createExit = await c.stop();
      }
      details.create = {
        first_send_s: big.firstS, wall_s: createExit.wallS, exit: createExit.code, stopped_after_first_send: createStopped,
        json: createExit.code === 0 ? (() => { try { return JSON.parse(c.stdout()) as unknown; } catch { return null; } })() : null,
      };
      if (!createStopped && createExit.code !== 0) throw new Error(`campaign create (b2) ${exitText(createExit)} after the first send: ${lastLines(c.stderrTail())}`);

      const figures: Figure[] = [figure({
        key: 'first_send_s', label: `time to first send (${n} rows)`, value: big.firstS, unit: 's',
        baseline: { label: '1-row CSV', value: base.firstS }, target: { on: 'value', max: TARGET_S },
      })];
      const lines = [
        `B2 time to first send: ${fmt(big.firstS)} s (target ≤ ${TARGET_S}); with a 1-row CSV: ${fmt(base.firstS)} s`
          + `; create ${createStopped ? `stopped after ${fmt(createExit.wallS, 0)} s` : `finished in ${fmt(createExit.wallS)} s`}`,
      ];
      return { ok: true, figures, lines, details };
    } finally {
      if (worker) {
        const e = await worker.stop(WORKER_STOP_GRACE_MS);
        details.worker = { exit: e.code, signal: e.signal, wall_s: e.wallS, graceful: e.code === 0 };
        if (e.code !== 0) ctx.log(`B2: the worker ${exitText(e)} on SIGTERM: ${lastLines(worker.stderrTail(), 3)}`);
      }
      details.sends_seen = fake.arrivals.length;
      await fake.close();
    }
  },
};
