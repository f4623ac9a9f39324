import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { acquireEmbedded } from '../src/db/embedded.ts';
import { generateCsv, type GenCsvOptions, type GenCsvStats } from './gen-csv.ts';

/**
 * The benchmark harness's plumbing: a database server (DATABASE_URL, else the embedded PostgreSQL), a
 * fresh database per benchmark, child processes with bounded lifetimes, peak-RSS sampling from /proc,
 * and the result types every benchmark module returns. Everything here talks to 127.0.0.1 only (unless
 * DATABASE_URL names another host) and every wait has a deadline.
 */

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = join(REPO_ROOT, 'bin', 'campaign.js');
export const PSQL = existsSync('/usr/bin/psql') ? '/usr/bin/psql' : 'psql';
export const BENCH_PG_DIR = join(tmpdir(), 'campaign-bench-pg');

// ---------------------------------------------------------------------------------------------- results

/** One measured figure, printed beside the baseline measured in the same run. */
export interface Figure {
  key: string;
  label: string;
  value: number | null;
  unit: 's' | 'MB' | 'rows' | 'rows/s' | 'req/s' | 'ms' | '';
  baseline?: { label: string; value: number | null } | undefined;
  /** value / baseline.value, when both are known. */
  ratio?: number | null | undefined;
  /** The target: on the value itself, or on the ratio to the baseline. */
  target?: { on: 'value' | 'ratio'; max: number } | undefined;
  /** Whether the target is met; null when there is no target or no figure. */
  pass?: boolean | null | undefined;
}

export interface BenchResult {
  id: string;
  title: string;
  ok: boolean;
  error?: string | undefined;
  seconds: number;
  figures: Figure[];
  /** The human lines printed for this benchmark. */
  lines: string[];
  details: Record<string, unknown>;
}

export interface BenchContext {
  /** Rows of the big CSV (1,000,000 unless --rows). */
  rows: number;
  /** The fresh database of this benchmark, created by the harness and dropped after it. */
  dbUrl: string;
  dbName: string;
  /** The environment for a CLI child on this benchmark's database (see cliEnv). */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** A temp directory for this run, removed at the end. */
  tmpDir: string;
  /** The shared big CSV (generated once per run, on first use). */
  csv(): Promise<{ path: string; stats: GenCsvStats }>;
  /** Another CSV, generated into tmpDir. */
  makeCsv(name: string, opts: GenCsvOptions): Promise<{ path: string; stats: GenCsvStats }>;
  /** Upper bound for any single wait (a child process, a first send). */
  timeoutMs: number;
  log(msg: string): void;
}

export interface Benchmark {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<Omit<BenchResult, 'id' | 'title' | 'seconds'>>;
}

/** Fill ratio and pass from value, baseline and target. */
export function figure(f: Omit<Figure, 'ratio' | 'pass'>): Figure {
  const b = f.baseline?.value;
  const ratio = f.value !== null && b !== null && b !== undefined && b > 0 ? f.value / b : f.baseline ? null : undefined;
  let pass: boolean | null | undefined;
  if (f.target) {
    const x = f.target.on === 'ratio' ? ratio : f.value;
    pass = x === null || x === undefined ? null : x <= f.target.max;
  }
  return { ...f, ratio, pass };
}

export function fmt(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toFixed(digits);
}

export function fmtRows(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` every `intervalMs` until it holds (true) or `timeoutMs` passes (false). */
export async function waitFor(pred: () => boolean, timeoutMs: number, intervalMs = 5): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (!pred()) {
    if (now() > deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}

// --------------------------------------------------------------------------------------------- database

export interface DbServer {
  adminUrl: string;
  kind: 'DATABASE_URL' | 'embedded';
  release(): Promise<void>;
}

/** The server named by DATABASE_URL, else the embedded PostgreSQL with its data under the system temp dir. */
export async function acquireServer(log: (msg: string) => void): Promise<DbServer> {
  const url = process.env.DATABASE_URL;
  if (url) return { adminUrl: url, kind: 'DATABASE_URL', release: async () => {} };
  const handle = await acquireEmbedded(BENCH_PG_DIR, log);
  return { adminUrl: handle.url, kind: 'embedded', release: () => handle.release() };
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface FreshDb {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

/** CREATE DATABASE bench_<label>_<random>; `drop()` removes it (forcing out any session left behind). */
export async function createFreshDb(adminUrl: string, label: string): Promise<FreshDb> {
  const name = `bench_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Run one query on `url` and return its rows. */
export async function query<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end().catch(() => {});
  }
}

// ------------------------------------------------------------------------------------------- processes

/**
 * The environment of a CLI child: the harness's own, minus everything that configures the campaign tool
 * (so a developer's shell cannot change what is measured), plus the benchmark database and `extra`.
 */
export function cliEnv(dbUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(WA_|CAMPAIGN_|PG)/.test(k) || ['DATABASE_URL', 'REDIS_URL', 'PORT', 'PUBLIC_URL', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, DATABASE_URL: dbUrl, LOG_LEVEL: 'info', ...extra };
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall time from spawn to exit, in seconds. */
  wallS: number;
  /** True when the harness stopped it (asked to, or its deadline passed). */
  stopped: boolean;
  /** True when its deadline passed. */
  timedOut: boolean;
}

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** performance.now() just before spawn. */
  startedAt: number;
  exited: Promise<ExitInfo>;
  exit: ExitInfo | null;
  stdout(): string;
  /** The last 64 KiB of stderr. */
  stderrTail(): string;
  /** Called with each complete stderr line. */
  onStderrLine(cb: (line: string) => void): void;
  /** SIGTERM (the process and its descendants), then SIGKILL after `graceMs`; resolves at exit. */
  stop(graceMs?: number, why?: 'asked' | 'deadline'): Promise<ExitInfo>;
  /** Peak RSS so far (see RssSampler), when sampled. */
  rss: RssSampler | null;
}

const live = new Set<Proc>();

/** Every process a benchmark started and that has not exited yet (for cleanup on SIGINT). */
export function liveProcs(): Proc[] {
  return [...live];
}

let timeProbe: boolean | null = null;
/** Whether /usr/bin/time is GNU time with `-f` and `-o` (BusyBox's is not). */
export function gnuTimeAvailable(): boolean {
  if (timeProbe !== null) return timeProbe;
  timeProbe = false;
  if (!existsSync('/usr/bin/time')) return false;
  const out = join(tmpdir(), `bench-time-probe-${process.pid}`);
  try {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, 'true'], { stdio: 'ignore', timeout: 5000 });
    timeProbe = r.status === 0 && /^\d+\s*$/.test(readFileSync(out, 'utf8'));
  } catch {
    timeProbe = false;
  } finally {
    rmSync(out, { force: true });
  }
  return timeProbe;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  /** Stop the process (SIGTERM, then SIGKILL) when it runs longer than this. */
  timeoutMs: number;
  /** Keep all of stdout (for `--json`); otherwise only the last 64 KiB. */
  captureStdout?: boolean;
  /** Sample the peak RSS of the process tree from /proc every `rssIntervalMs` (and read GNU time's %M at exit). */
  measureRss?: boolean;
  rssIntervalMs?: number;
  cwd?: string;
}

/** Spawn `node bin/campaign.js ...args`. */
export function spawnCli(name: string, args: string[], opts: SpawnOptions): Proc {
  return spawnProc(name, process.execPath, [CLI, ...args], opts);
}

export function spawnProc(name: string, cmd: string, args: string[], opts: SpawnOptions): Proc {
  // GNU time reports the exact peak (ru_maxrss) of the largest process in the tree at exit, including the
  // last moments the /proc sampler may miss. It does not pass signals on, so only wrap what we measure.
  const timeOut = opts.measureRss && gnuTimeAvailable() ? join(tmpdir(), `bench-time-${process.pid}-${randomBytes(4).toString('hex')}`) : null;
  const [file, argv] = timeOut ? ['/usr/bin/time', ['-f', '%M', '-o', timeOut, cmd, ...args]] : [cmd, args];
  const startedAt = now();
  const child = spawn(file, argv, { env: opts.env, cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errTail = '';
  let partial = '';
  const lineCbs: ((line: string) => void)[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (!opts.captureStdout && out.length > 65536) out = out.slice(-65536);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    errTail = (errTail + d).slice(-65536);
    if (lineCbs.length === 0) return;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) for (const cb of lineCbs) cb(line);
  });
  const rss = opts.measureRss && child.pid !== undefined ? new RssSampler(child.pid, opts.rssIntervalMs ?? 50, timeOut !== null) : null;
  let stopped = false;
  let timedOut = false;
  let killTimer: NodeJS.Timeout | null = null;
  const proc: Proc = {
    name, pid: child.pid ?? -1, child, startedAt, exit: null, rss,
    exited: new Promise<ExitInfo>((resolve) => {
      let spawnError: Error | null = null;
      child.once('error', (err) => {
        spawnError = err;
        errTail += `\nspawn error: ${err.message}`;
        if (child.pid === undefined) finish(null, null);
      });
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        const wallS = (now() - startedAt) / 1000;
        clearTimeout(deadline);
        if (killTimer) clearTimeout(killTimer);
        rss?.stop();
        if (rss && timeOut) {
          try { rss.gnuTimeKb = Number(readFileSync(timeOut, 'utf8').trim().split('\n').pop()) || null; } catch { /* killed */ }
          rmSync(timeOut, { force: true });
        }
        live.delete(proc);
        proc.exit = { code: spawnError && code === null ? -1 : code, signal, wallS, stopped, timedOut };
        resolve(proc.exit);
      };
      // 'close' (not 'exit'): stdout is complete by then.
      child.once('close', (code, signal) => finish(code, signal));
    }),
    stdout: () => out,
    stderrTail: () => errTail,
    onStderrLine: (cb) => { lineCbs.push(cb); },
    stop(graceMs = 10_000, why = 'asked') {
      if (proc.exit) return Promise.resolve(proc.exit);
      stopped = true;
      if (why === 'deadline') timedOut = true;
      signalTree(proc.pid, 'SIGTERM');
      killTimer ??= setTimeout(() => signalTree(proc.pid, 'SIGKILL'), graceMs);
      return proc.exited;
    },
  };
  const deadline = setTimeout(() => void proc.stop(10_000, 'deadline'), opts.timeoutMs);
  live.add(proc);
  return proc;
}

/** Send `sig` to `pid` and every descendant of it (found in /proc), children first. */
export function signalTree(pid: number, sig: NodeJS.Signals): void {
  if (pid <= 0) return;
  const pids = [...descendants(pid).reverse(), pid];
  for (const p of pids) {
    try { process.kill(p, sig); } catch { /* gone */ }
  }
}

/** ppid of every process in /proc. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return table; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(e), Number(rest[1]));
    } catch { /* exited meanwhile */ }
  }
  return table;
}

/** Every descendant of `root` (breadth first), not including root. */
export function descendants(root: number): number[] {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function statusKb(pid: number): { hwm: number; rss: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(s);
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
    if (!hwm || !rss) return null; // a zombie has no memory lines
    return { hwm: Number(hwm[1]), rss: Number(rss[1]) };
  } catch {
    return null;
  }
}

/**
 * Peak resident memory of a process tree, sampled from /proc: VmHWM is the kernel's high-water mark of a
 * process's RSS (all its threads share it), so a sample shortly before exit still sees the peak. With
 * several processes in the tree, the peak is the largest sum of their VmHWM seen in one sample.
 * `skipRoot`: the root is a /usr/bin/time wrapper, not counted.
 */
export class RssSampler {
  peakTreeKb = 0;
  peakRootKb = 0;
  samples = 0;
  maxProcs = 0;
  /** GNU time's %M (ru_maxrss of the largest process), filled in at exit when the process was wrapped. */
  gnuTimeKb: number | null = null;
  private timer: NodeJS.Timeout;

  readonly pid: number;
  readonly skipRoot: boolean;

  constructor(pid: number, intervalMs: number, skipRoot: boolean) {
    this.pid = pid;
    this.skipRoot = skipRoot;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const pids = [this.pid, ...descendants(this.pid)].slice(this.skipRoot ? 1 : 0);
    let sum = 0;
    let n = 0;
    for (const p of pids) {
      const s = statusKb(p);
      if (!s) continue;
      sum += s.hwm;
      n++;
      if (p === pids[0]) this.peakRootKb = Math.max(this.peakRootKb, s.hwm);
    }
    this.samples++;
    this.maxProcs = Math.max(this.maxProcs, n);
    this.peakTreeKb = Math.max(this.peakTreeKb, sum);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The peak in MB (MiB): the larger of the sampled tree sum and GNU time's figure. */
  peakMb(): number {
    return Math.max(this.peakTreeKb, this.gnuTimeKb ?? 0) / 1024;
  }
}

/** The process's exit, or null when it is still running after `ms` (the timer never outlives the wait). */
export async function exitWithin(proc: Proc, ms: number): Promise<ExitInfo | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([proc.exited, new Promise<null>((r) => { timer = setTimeout(() => r(null), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run to completion (bounded by opts.timeoutMs); throws with the stderr tail when it fails. */
export async function runCli(name: string, args: string[], opts: SpawnOptions): Promise<{ proc: Proc; exit: ExitInfo }> {
  const proc = spawnCli(name, args, { captureStdout: true, ...opts });
  const exit = await proc.exited;
  if (exit.code !== 0) throw new Error(`${name} ${exitText(exit)}: ${lastLines(proc.stderrTail())}`);
  return { proc, exit };
}

export function exitText(e: ExitInfo): string {
  const how = e.signal ? `died of ${e.signal}` : `exited ${e.code}`;
  if (e.timedOut) return `ran past its deadline (${fmt(e.wallS, 0)} s) and was stopped (${how})`;
  if (e.stopped) return `was stopped after ${fmt(e.wallS, 1)} s (${how})`;
  return how;
}

export function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join(' | ').slice(-2000);
}

/** Parse the single JSON document a `--json` command printed. */
export function parseJsonOut<T>(name: string, stdout: string): T {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new Error(`${name}: stdout is not one JSON document: ${stdout.slice(0, 300)}`);
  }
}

// -------------------------------------------------------------------------------------------- temp dirs

export function makeTmpDir(): string {
  return mkdtempSync(join(tmpdir(), 'campaign-bench-'));
}

/** A `csv()` for BenchContext: generate the shared big file once, on first use. */
export function csvCache(tmpDir: string, rows: number, log: (msg: string) => void) {
  let big: Promise<{ path: string; stats: GenCsvStats }> | null = null;
  const makeCsv = async (name: string, opts: GenCsvOptions) => {
    const path = join(tmpDir, name);
    const t0 = now();
    const stats = await generateCsv(path, opts);
    log(`generated ${path}: ${stats.rows} rows, ${fmt(stats.bytes / 1048576, 1)} MB in ${fmt((now() - t0) / 1000)} s`);
    return { path, stats };
  };
  return {
    makeCsv,
    csv: () => (big ??= makeCsv(`contacts-${rows}.csv`, { rows })),
  };
}

// ------------------------------------------------------------------------------------- send benchmarks

/**
 * A figure whose target is a lower bound (B3's achieved rate ≥ 0.99 of the limit, B4's ≥ 0.4 of a bare
 * client). Figure.target only has `max`, so the target is kept beside it as `target_min` (in the JSON) and
 * `pass` is filled from it; the table shows the result, the benchmark's own line names the bound.
 */
export function figureAtLeast(
  f: Omit<Figure, 'ratio' | 'pass' | 'target'>, min: { on: 'value' | 'ratio'; min: number },
): Figure & { target_min: { on: 'value' | 'ratio'; min: number } } {
  const base = figure(f);
  const x = min.on === 'ratio' ? base.ratio : base.value;
  return { ...base, target_min: min, pass: x === null || x === undefined ? null : x >= min.min };
}

/** The body of the template every benchmark uses, and the generated CSV's columns that fill it. */
export const BENCH_TEMPLATE_BODY = 'Halo {{1}}, pesanan {{2}} ke {{3}}';
export const BENCH_PARAMS: Record<string, string> = { 'body.1': 'name', 'body.2': 'order_id', 'body.3': 'city' };
/** BENCH_PARAMS as `campaign create` flags. */
export const BENCH_PARAM_ARGS = Object.entries(BENCH_PARAMS).flatMap(([slot, column]) => ['--param', `${slot}=${column}`]);

/** The template every send benchmark uses (the same as B1's and B2's). */
export const BENCH_TEMPLATE_ARGS = ['template', 'add', '--name', 'bench_t', '--language', 'id', '--body', BENCH_TEMPLATE_BODY];

export interface CreatedCampaign {
  id: string;
  state: string;
  ingest: { rows: number; accepted: number; invalid: number; duplicate: number; suppressed: number };
}

/** `campaign create … --json` of a generated CSV (4 columns), not started; throws unless it exits 0. */
export async function createCampaign(name: string, csv: string, opts: SpawnOptions): Promise<CreatedCampaign> {
  const { proc } = await runCli(`campaign create (${name})`, [
    'create', '--name', name, '--template', 'bench_t', '--language', 'id', '--csv', csv,
    ...BENCH_PARAM_ARGS, '--default-country', 'ID', '--json',
  ], opts);
  return parseJsonOut<CreatedCampaign>(`campaign create (${name})`, proc.stdout());
}

/**
 * Spawn `campaign worker --no-http` and wait for its "worker started" log line; on failure the worker is
 * stopped and the error carries its stderr tail.
 */
export async function startCampaignWorker(name: string, opts: SpawnOptions & { startMs?: number }): Promise<Proc> {
  const worker = spawnCli(name, ['worker', '--no-http'], opts);
  let started = false;
  worker.onStderrLine((line) => {
    if (started) return;
    try { started = (JSON.parse(line) as { msg?: unknown }).msg === 'worker started'; } catch { /* not JSON */ }
  });
  const startMs = opts.startMs ?? 60_000;
  await waitFor(() => started || worker.exit !== null, startMs, 20);
  if (!started) {
    const why = worker.exit ? exitText(worker.exit) : `did not log "worker started" within ${startMs / 1000} s`;
    await worker.stop(5_000);
    throw new Error(`${name} ${why}: ${lastLines(worker.stderrTail())}`);
  }
  return worker;
}

const CLK_TCK = 100;

/** CPU seconds (user + system) used so far by `pid` and its descendants that are still alive. */
export function treeCpuSeconds(pid: number): number {
  return [pid, ...descendants(pid)].reduce((acc, p) => acc + procCpuSeconds(p), 0);
}

/** CPU seconds (user + system) so far of every process whose name (comm) is `comm` (e.g. `postgres`), by pid. */
export function commCpuByPid(comm: string): Map<number, number> {
  const out = new Map<number, number>();
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== comm) continue;
      out.set(Number(e), cpuOfStat(stat));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/**
 * CPU seconds used between two commCpuByPid snapshots by the processes alive at the second one (a process
 * that exited in between is not counted: a lower bound, exact for long-lived backends).
 */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += Math.max(0, cpu - (before.get(pid) ?? 0));
  return total;
}

function procCpuSeconds(pid: number): number {
  return pidCpuSeconds(pid) ?? 0;
}

/** CPU seconds (user + system) used so far by `pid`; null once it has exited (or without /proc). */
export function pidCpuSeconds(pid: number): number | null {
  try { return cpuOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return null; }
}

function cpuOfStat(stat: string): number {
  // After "pid (comm) ": state ppid … utime is field 14, stime 15 (1-based), i.e. rest[11], rest[12].
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}
