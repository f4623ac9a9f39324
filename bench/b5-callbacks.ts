import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createPool, poolDb } from '../src/db/executor.ts';
import { reconcile } from '../src/reconcile/reconcile.ts';
import { B5_APP_SECRET, ID_DIGITS, ID_PREFIX, ID_SUFFIX, messageId, phaseBodies, phaseStatuses, type B5Mode } from './b5-bodies.ts';
import {
  BENCH_TEMPLATE_ARGS, REPO_ROOT, cpuSecondsBetween, descendants, exitText, figure, figureAtLeast, fmt, fmtRows, lastLines, now,
  parseJsonOut, pidCpuSeconds, runCli, spawnCli, spawnProc, waitFor,
  type BenchContext, type Benchmark, type Figure, type Proc, type SpawnOptions,
} from './lib.ts';

/**
 * B5 — status callbacks. A campaign of MESSAGES recipients (100,000; BENCH_B5_MESSAGES to change), each
 * `accepted` with a message id (seeded with SQL: the sends themselves are B4's business), then the
 * realistic callbacks about them, signed with the app secret, from 50 keep-alive connections in a closed
 * loop (bench/b5-load.ts, its own process):
 *
 *   1. one status per POST: `sent` for every message (MESSAGES POSTs);
 *   2. ten statuses per POST: `delivered` and `read` for five messages (MESSAGES / 5 POSTs).
 *
 * Measured: `campaign worker --port 0` — the product as deployed: the HTTP server, whose 200 means the
 * events are committed (group commit, src/callbacks/inbox.ts), with every job handler running, so
 * reconcile runs during the load as it would (each stored webhook nudges the worker's reconcile job).
 * Baseline, in the same run, same load generator and bodies: a bare node:http server in its own process
 * that reads the body and answers 200 (bench/b5-bare-server.ts), the median of BARE_RUNS runs. Figures: POSTs/s of each phase against
 * the baseline (target ≥ 0.4), p99 latency (target < 50 ms), and after each phase the time from its last
 * 200 until everything stored is reconciled (inbox and queue empty, every recipient at the status
 * the callbacks say) — done by the worker's own reconcile job, not called by the benchmark.
 */

/**
 * 100,000 messages: 100,000 POSTs of one status, then 20,000 of ten, about 15 s and 4 s against the
 * worker. With 20,000 (the default until 2026-12-06) the ten-per-POST phase lasted about a second, and
 * its p99 was the first 300 ms: new connections, a cold load generator and cold code paths. Every
 * answer over 30 ms came then, for the bare server too (BENCH_B5_DUMP, 2026-12-06: bare p99 29–36 ms
 * over a whole short run, its steady maximum 15 ms). A webhook receiver runs for days; its p99 is what
 * it does when warm, and a longer run measures that without discarding any request.
 */
const DEFAULT_MESSAGES = 100_000;
const TARGET_RATIO = 0.4;
const TARGET_P99_MS = 50;
const CONNECTIONS = 50;
/**
 * Runs of the bare server per phase; the median is the baseline. Single runs ranged 4,400–14,300 POSTs/s
 * in one sitting (20,000 messages, 2-core box, 2026-12-06).
 */
const BARE_RUNS = 3;
const WORKER_STOP_GRACE_MS = 45_000;
const RECONCILE_WAIT_MS = 120_000;
/**
 * How often the benchmark counts what is left to reconcile. Each count reads the queue and the campaign's
 * recipients (100,000): every 25 ms, as before, it took a good part of a core from the reconcile it times.
 */
const PROGRESS_POLL_MS = 100;

/**
 * BENCH_B5_DUMP=DIR keeps every request's send time and latency, one file per run (bench/b5-load.ts --dump).
 *
 * BENCH_B5_SERVER=serve measures `campaign serve` instead (the HTTP server alone: nothing reconciles
 * during the load), and after each phase the benchmark calls reconcile() (src/reconcile/reconcile.ts) itself
 * and times it: the cost of storing and the cost of reconciling, each on its own.
 */
function serverKind(): 'worker' | 'serve' {
  const v = process.env.BENCH_B5_SERVER ?? 'worker';
  if (v !== 'worker' && v !== 'serve') throw new Error(`BENCH_B5_SERVER=${v}: expected worker or serve`);
  return v;
}

function messages(): number {
  const raw = process.env.BENCH_B5_MESSAGES;
  const n = raw === undefined || raw === '' ? DEFAULT_MESSAGES : Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 100 || n > 10_000_000 || n % 5 !== 0) throw new Error(`BENCH_B5_MESSAGES=${raw}: expected a whole number, 100..10000000, a multiple of 5`);
  return n;
}

interface LoadOut {
  mode: B5Mode; requests: number; statuses: number; ok: number; codes: Record<string, number>; connections: number; sockets: number;
  wall_ms: number; requests_per_s: number; statuses_per_s: number | null; body_bytes: { first: number; mean: number };
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
}

/** Run the load generator against `url`; resolves with its report and performance.now() when its last answer came. */
async function load(ctx: BenchContext, url: string, mode: B5Mode, n: number, who: string): Promise<LoadOut & { endedAt: number }> {
  const dumpDir = process.env.BENCH_B5_DUMP;
  const proc = spawnProc(`load ${mode}`, process.execPath, [
    join(REPO_ROOT, 'bench', 'b5-load.ts'), '--url', url, '--mode', mode, '--messages', String(n), '--connections', String(CONNECTIONS),
    ...(dumpDir ? ['--dump', join(dumpDir, `${mode}-${who}.txt`)] : []),
  ], { env: ctx.env(), timeoutMs: ctx.timeoutMs, captureStdout: true });
  // The report is printed right after the last answer: its arrival (not the exit) ends the phase.
  let endedAt = 0;
  proc.child.stdout!.on('data', () => { endedAt ||= now(); });
  const exit = await proc.exited;
  if (exit.code !== 0) throw new Error(`load generator (${mode}) ${exitText(exit)}: ${lastLines(proc.stderrTail())}`);
  return { ...parseJsonOut<LoadOut>(`load generator (${mode})`, proc.stdout()), endedAt: endedAt || now() };
}

/** Spawn `name` and wait for a JSON stderr log line with `msg`; returns that line's object. */
async function spawnAndWaitLog(name: string, args: string[], opts: SpawnOptions, msgs: string[], startMs = 60_000): Promise<{ proc: Proc; seen: Map<string, Record<string, unknown>> }> {
  const proc = spawnCli(name, args, opts);
  const seen = new Map<string, Record<string, unknown>>();
  proc.onStderrLine((line) => {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.msg === 'string' && msgs.includes(o.msg)) seen.set(o.msg, o);
    } catch { /* not JSON */ }
  });
  await waitFor(() => seen.size === msgs.length || proc.exit !== null, startMs, 20);
  if (seen.size !== msgs.length) {
    const why = proc.exit ? exitText(proc.exit) : `did not log ${msgs.filter((m) => !seen.has(m)).join(', ')} within ${startMs / 1000} s`;
    await proc.stop(5_000);
    throw new Error(`${name} ${why}: ${lastLines(proc.stderrTail())}`);
  }
  return { proc, seen };
}

interface Progress { queue: number; at_status: number }

export const b5: Benchmark = {
  id: 'B5',
  title: 'status callbacks',
  async run(ctx: BenchContext) {
    const n = messages();
    const phases: B5Mode[] = ['single', 'batch10'];
    const kind = serverKind();
    const details: Record<string, unknown> = { messages: n, connections: CONNECTIONS, server: kind };
    const spawnOpts = { env: ctx.env(), timeoutMs: ctx.timeoutMs };
    const db = new pg.Client({ connectionString: ctx.dbUrl, connectionTimeoutMillis: 10_000 });
    let bare: Proc | null = null;
    let worker: Proc | null = null;
    try {
      // Set-up: migrations and the template through the CLI, then the campaign and its accepted recipients.
      await runCli('template add', BENCH_TEMPLATE_ARGS, spawnOpts);
      await db.connect();
      const [campaign] = (await db.query<{ id: string }>(`
        INSERT INTO campaigns (name, template_id, channel, state, phone_column, param_map, ingest_state, ingest_rows, ingest_accepted, started_at, completed_at)
        SELECT 'b5', id, 'default', 'completed', 'phone', '{"body.1":"name","body.2":"order_id","body.3":"city"}', 'done', $1, $1, now(), now()
        FROM templates WHERE name = 'bench_t' RETURNING id`, [n])).rows;
      if (!campaign) throw new Error('the bench template is missing');
      const seedT0 = now();
      await db.query(`
        INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, attempts, message_id, accepted_at)
        SELECT $1, g + 2, p, p, '{"body.1":"Budi Santoso","body.2":"INV-100000001","body.3":"Jakarta"}', 'accepted', 'accepted', 1,
               $2 || lpad(g::text, $3, '0') || $4, now()
        FROM generate_series(0, $5 - 1) g, LATERAL (SELECT '+62812' || right((10000000 + g)::text, 8) AS p) x`,
      [campaign.id, ID_PREFIX, ID_DIGITS, ID_SUFFIX, n]);
      await db.query('ANALYZE recipients');
      const [probe] = (await db.query<{ message_id: string }>('SELECT message_id FROM recipients WHERE campaign_id = $1 AND line = $2', [campaign.id, 2 + n - 1])).rows;
      if (probe?.message_id !== messageId(n - 1)) throw new Error(`seeded message id ${probe?.message_id} ≠ ${messageId(n - 1)}`);
      details.seed = { campaign: campaign.id, recipients: n, seconds: (now() - seedT0) / 1000 };
      const sample = phaseBodies('batch10', 5)[0]!;
      details.sample_body_bytes = { single: phaseBodies('single', 1)[0]!.length, batch10: sample.length };

      // Both servers run from here on; each phase loads the bare one, then the measured one, back to back,
      // so that both figures of a phase see the same machine (an idle server costs next to nothing).
      bare = spawnProc('bare server', process.execPath, [join(REPO_ROOT, 'bench', 'b5-bare-server.ts')], { ...spawnOpts, captureStdout: true });
      const b = bare;
      await waitFor(() => b.stdout().includes('\n') || b.exit !== null, 30_000, 10);
      if (b.exit !== null) throw new Error(`bare server ${exitText(b.exit)}: ${lastLines(b.stderrTail())}`);
      const barePort = (JSON.parse(b.stdout().split('\n')[0]!) as { port: number }).port;
      const baseline: Partial<Record<B5Mode, LoadOut>> = {};
      const bareAll: Partial<Record<B5Mode, Array<{ requests_per_s: number; p99_ms: number }>>> = {};
      details.baseline = baseline;
      details.baseline_runs = bareAll;

      // Measured: the worker (HTTP server and every job handler), verifying signatures.
      const workerEnv = ctx.env({
        WA_PROVIDER: 'cloud', WA_BASE_URL: 'http://127.0.0.1:9/v23.0', WA_PHONE_NUMBER_ID: '100000000000001', WA_ACCESS_TOKEN: 'bench-token',
        WA_APP_SECRET: B5_APP_SECRET, LOG_LEVEL: 'info',
      });
      ctx.log(`B5: campaign ${kind} --port 0`);
      const started = await spawnAndWaitLog(`campaign ${kind}`, [kind, '--port', '0'], { env: workerEnv, timeoutMs: 2 * ctx.timeoutMs },
        kind === 'worker' ? ['HTTP server listening', 'worker started'] : ['HTTP server listening']);
      worker = started.proc;
      const w = worker;
      const port = Number(started.seen.get('HTTP server listening')!.port);
      const url = `http://127.0.0.1:${port}/webhooks/whatsapp`;

      const progress = async (status: string): Promise<Progress> => (await db.query<Progress>(`
        SELECT ((SELECT count(*) FROM status_event_queue) + (SELECT coalesce(sum(events), 0) FROM status_inbox))::int AS queue,
               (SELECT count(*) FROM recipients WHERE campaign_id = $1 AND status = $2::recipient_status)::int AS at_status`, [campaign.id, status])).rows[0]!;
      const storedEvents = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM status_events')).rows[0]!.n;

      const measured: Partial<Record<B5Mode, LoadOut & { cpu_s: { worker: number; postgres_backends: number }; at_last_200: Progress; reconciled_s: number | null; final: Progress; events_stored: number }>> = {};
      let storedSoFar = 0;
      for (const mode of phases) {
        ctx.log(`B5: ${mode}: ${mode === 'single' ? n : n / 5} POSTs, ${CONNECTIONS} connections, to the bare server (${BARE_RUNS} runs), then to campaign ${kind}`);
        const bareRuns: LoadOut[] = [];
        for (let r = 0; r < BARE_RUNS; r++) {
          const bareOut = await load(ctx, `http://127.0.0.1:${barePort}/webhooks/whatsapp`, mode, n, `bare${r + 1}`);
          if (bareOut.ok !== bareOut.requests) throw new Error(`bare server: ${bareOut.ok} of ${bareOut.requests} answered 200 (${JSON.stringify(bareOut.codes)})`);
          bareRuns.push(bareOut);
        }
        // The median run (by POSTs/s), with its own latencies; all of them in the details.
        baseline[mode] = bareRuns.toSorted((a, b) => a.requests_per_s - b.requests_per_s)[Math.floor(BARE_RUNS / 2)]!;
        bareAll[mode] = bareRuns.map((b) => ({ requests_per_s: round(b.requests_per_s, 0), p99_ms: round(b.latency_ms.p99, 1) }));
        const cpu0 = { worker: cpuOf([w.pid, ...descendants(w.pid)]), postgres: postgresCpu(ctx.dbName) };
        const out = await load(ctx, url, mode, n, kind);
        const cpu1 = { worker: cpuOf([w.pid, ...descendants(w.pid)]), postgres: postgresCpu(ctx.dbName) };
        if (w.exit !== null) throw new Error(`the worker ${exitText(w.exit)} during the load: ${lastLines(w.stderrTail())}`);
        // Reconciled: nothing queued and every recipient at the status this phase ends in.
        const want = mode === 'single' ? 'sent' : 'read';
        const atLast200 = await progress(want);
        let final = atLast200;
        if (kind === 'serve') {
          // Nothing reconciles under `serve`: the benchmark runs reconcile() itself, from here.
          const pool = createPool(ctx.dbUrl, { max: 2 });
          try { await reconcile(poolDb(pool)); } finally { await pool.end(); }
        }
        const done = await (async () => {
          const deadline = now() + RECONCILE_WAIT_MS;
          for (;;) {
            final = await progress(want);
            if (final.queue === 0 && final.at_status === n) return now();
            if (now() > deadline || w.exit !== null) return null;
            await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
          }
        })();
        storedSoFar += phaseStatuses(mode, n);
        const eventsStored = await storedEvents();
        measured[mode] = {
          ...out, at_last_200: atLast200, final, events_stored: eventsStored, reconciled_s: done === null ? null : (done - out.endedAt) / 1000,
          cpu_s: { worker: round(cpuSecondsBetween(cpu0.worker, cpu1.worker)), postgres_backends: round(cpuSecondsBetween(cpu0.postgres, cpu1.postgres)) },
        };
        if (eventsStored !== storedSoFar) ctx.log(`B5: ${eventsStored} events stored, expected ${storedSoFar}`);
      }
      details.measured = measured;

      const [rec] = (await db.query<{ read: number; with_times: number }>(`
        SELECT count(*) FILTER (WHERE status = 'read')::int AS read,
               count(*) FILTER (WHERE sent_at IS NOT NULL AND delivered_at IS NOT NULL AND read_at IS NOT NULL)::int AS with_times
        FROM recipients WHERE campaign_id = $1`, [campaign.id])).rows;
      details.recipients = rec;

      const problems: string[] = [];
      for (const mode of phases) {
        const m = measured[mode]!;
        if (m.ok !== m.requests) problems.push(`${mode}: ${m.ok} of ${m.requests} callbacks answered 200 (${JSON.stringify(m.codes)})`);
        if (m.reconciled_s === null) problems.push(`${mode}: not reconciled within ${RECONCILE_WAIT_MS / 1000} s (queue ${m.final.queue}, ${m.final.at_status} of ${n} recipients)`);
      }
      const events = measured.batch10!.events_stored;
      if (events !== 3 * n) problems.push(`${events} status events stored for ${3 * n} statuses answered 200`);
      if (rec?.read !== n || rec?.with_times !== n) problems.push(`after reconcile: ${rec?.read} of ${n} recipients read, ${rec?.with_times} with all three times`);

      const figures: Figure[] = [];
      const lines: string[] = [];
      for (const mode of phases) {
        const m = measured[mode]!;
        const base = baseline[mode]!;
        const per = mode === 'single' ? '1 status per POST' : '10 statuses per POST';
        const rate = figureAtLeast({
          key: `callbacks_${mode}_per_s`, label: `callbacks/s, ${per}, durable before 200`, value: m.ok === m.requests ? m.requests_per_s : null, unit: 'req/s',
          baseline: { label: 'bare node:http', value: base.requests_per_s },
        }, { on: 'ratio', min: TARGET_RATIO });
        const p99 = figure({
          key: `p99_${mode}_ms`, label: `p99 latency, ${per}`, value: m.latency_ms.p99, unit: 'ms',
          baseline: { label: 'bare node:http', value: base.latency_ms.p99 }, target: { on: 'value', max: TARGET_P99_MS },
        });
        const rec = figure({ key: `reconciled_after_${mode}_s`, label: `last 200 → all reconciled (${mode})`, value: m.reconciled_s, unit: 's' });
        figures.push(rate, p99, rec);
        lines.push(
          `B5 ${per}: ${fmt(m.requests_per_s, 0)} POSTs/s (${fmt(m.statuses_per_s, 0)} statuses/s; ${m.requests} POSTs in ${fmt(m.wall_ms / 1000)} s); `
            + `bare node:http (median of ${BARE_RUNS}: ${bareAll[mode]!.map((b) => fmt(b.requests_per_s, 0)).join(' / ')}): ${fmt(base.requests_per_s, 0)} POSTs/s; ratio ${fmt(rate.ratio)} (target ≥ ${TARGET_RATIO})`,
          `B5 ${per}: latency p50 ${fmt(m.latency_ms.p50)} ms, p99 ${fmt(m.latency_ms.p99)} ms (target < ${TARGET_P99_MS}), max ${fmt(m.latency_ms.max)} ms; `
            + `bare: p50 ${fmt(base.latency_ms.p50)} ms, p99 ${fmt(base.latency_ms.p99)} ms`,
          `B5 ${per}: at the last 200, ${m.at_last_200.queue} events still queued; all reconciled ${fmt(m.reconciled_s)} s later `
            + `(${kind === 'worker' ? "by the worker's reconcile job" : 'reconcile() called by the benchmark'}); `
            + `CPU during the load: ${kind} ${fmt(m.cpu_s.worker)} s, its PostgreSQL backends ${fmt(m.cpu_s.postgres_backends)} s`,
        );
      }
      lines.push(`B5 stored ${events} status events for ${fmtRows(n)} messages; recipients read: ${rec?.read}`);
      return { ok: problems.length === 0, ...(problems.length ? { error: problems.join('; ') } : {}), figures, lines, details };
    } finally {
      await bare?.stop(5_000);
      if (worker) {
        const e = await worker.stop(WORKER_STOP_GRACE_MS);
        details.worker = { exit: e.code, signal: e.signal, wall_s: e.wallS, graceful: e.code === 0 };
        if (e.code !== 0) ctx.log(`B5: the worker ${exitText(e)} on SIGTERM: ${lastLines(worker.stderrTail(), 3)}`);
      }
      await db.end().catch(() => {});
    }
  },
};

// CPU seconds from /proc, per pid (pidCpuSeconds). A delta (cpuSecondsBetween) counts the processes alive
// at its end: one that started in between counts whole, one that exited in between is missed.
function cpuOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of pids) {
    const c = pidCpuSeconds(p);
    if (c !== null) out.set(p, c);
  }
  return out;
}

/**
 * The PostgreSQL backends connected to database `db` (their title, in /proc/PID/cmdline, names it: "postgres:
 * … user db host(port) state"): the work done for this benchmark, not for whatever else uses the server.
 * The WAL writer and checkpointer are not counted.
 */
function postgresCpu(db: string): Map<number, number> {
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { /* no /proc */ }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return cmd.startsWith('postgres:') && cmd.split(' ').includes(db);
    } catch {
      return false;
    }
  });
  return cpuOf(pids);
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
