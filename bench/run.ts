import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { b1 } from './b1-ingest.ts';
import { b2 } from './b2-first-send.ts';
import { b3 } from './b3-rate.ts';
import { b4 } from './b4-throughput.ts';
import { b5 } from './b5-callbacks.ts';
import { b6 } from './b6-report.ts';
import {
  REPO_ROOT, acquireServer, cliEnv, createFreshDb, csvCache, fmt, liveProcs, makeTmpDir, now,
  type BenchResult, type Benchmark, type DbServer, type Figure, type FreshDb,
} from './lib.ts';

/**
 * `npm run bench [-- --only B1,B2] [--rows N] [--timeout S]`: run the benchmarks black-box through the
 * real CLI, each in a fresh database, print every figure beside its baseline from the same run, and write
 * bench/results/latest.json. A benchmark is a module exporting a `Benchmark`; add it to BENCHMARKS.
 */

const BENCHMARKS: Benchmark[] = [b1, b2, b3, b4, b5, b6];

const USAGE = `usage: node bench/run.ts [--only B1[,B2…]] [--rows N] [--timeout SECONDS] [--out FILE] [--keep-tmp]
  --only      run only these benchmarks (${BENCHMARKS.map((b) => b.id).join(', ')}); repeatable or comma-separated
  --rows      rows of the generated contact CSV (default 1000000; 20000 for a quick check)
  --timeout   upper bound in seconds for any single wait: a child process, a first send (default 1800)
  --out       where to write the JSON results (default bench/results/latest.json)
  --keep-tmp  keep the generated CSVs (their directory is printed)
Uses DATABASE_URL when set, else an embedded PostgreSQL under the system temp dir.
Environment: BENCH_B3_SECONDS (B3's window per phase, default 60), BENCH_B4_MESSAGES (B4's campaign size,
default 20000), REDIS_URL (passed to the workers of B3 and B4: their rate window is then in Redis).`;

function parse() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      rows: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      'keep-tmp': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const rows = values.rows === undefined ? 1_000_000 : Number(values.rows.replaceAll('_', ''));
  if (!Number.isInteger(rows) || rows < 1 || rows > 100_000_000) usage(`--rows ${values.rows}: expected a whole number of rows, 1..100000000`);
  const timeoutS = values.timeout === undefined ? 1800 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage(`--timeout ${values.timeout}: expected seconds`);
  const ids = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim().toUpperCase()).filter(Boolean);
  const unknown = ids.filter((id) => !BENCHMARKS.some((b) => b.id === id));
  if (unknown.length > 0) usage(`--only ${unknown.join(',')}: unknown benchmark; known: ${BENCHMARKS.map((b) => b.id).join(', ')}`);
  const selected = ids.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => ids.includes(b.id));
  return { rows, timeoutMs: timeoutS * 1000, selected, out: values.out ?? join(REPO_ROOT, 'bench', 'results', 'latest.json'), keepTmp: values['keep-tmp'] };
}

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** `ratio ≤ 3`, or for figures that must reach a floor (figureAtLeast) `ratio ≥ 0.4`. */
function targetText(f: Figure & { target_min?: { on: 'value' | 'ratio'; min: number } }): string {
  if (f.target) return `${f.target.on === 'ratio' ? 'ratio' : 'value'} ≤ ${f.target.max}`;
  if (f.target_min) return `${f.target_min.on === 'ratio' ? 'ratio' : 'value'} ≥ ${f.target_min.min}`;
  return '-';
}

function table(results: BenchResult[]): string {
  const head = ['bench', 'figure', 'value', 'baseline', 'ratio', 'target', 'result'];
  const rows: string[][] = [];
  const unit = (f: Figure) => (f.unit ? ` ${f.unit}` : '');
  for (const r of results) {
    if (r.figures.length === 0) rows.push([r.id, r.title, '-', '-', '-', '-', r.ok ? 'ok' : 'ERROR']);
    for (const f of r.figures) {
      const digits = f.unit === 'MB' ? 0 : 2;
      rows.push([
        r.id,
        f.label,
        `${fmt(f.value, digits)}${unit(f)}`,
        f.baseline ? `${fmt(f.baseline.value, digits)}${unit(f)} (${f.baseline.label})` : '-',
        f.ratio === undefined ? '-' : fmt(f.ratio),
        targetText(f),
        !r.ok ? 'ERROR' : f.pass === true ? 'pass' : f.pass === false ? 'MISS' : '-',
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const opts = parse();
  const startedAt = new Date();
  let server: DbServer | null = null;
  let current: FreshDb | null = null;
  const tmpDir = makeTmpDir();

  let interrupted = false;
  let cleaning: Promise<void> | null = null;
  const cleanup = () => (cleaning ??= (async () => {
    await Promise.all(liveProcs().map((p) => p.stop(5_000)));
    await current?.drop().catch((err: Error) => log(`could not drop database ${current?.name}: ${err.message}`));
    current = null;
    if (!opts.keepTmp) rmSync(tmpDir, { recursive: true, force: true });
    await server?.release().catch((err: Error) => log(`could not release the embedded PostgreSQL: ${err.message}`));
  })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      log(`${sig}: stopping child processes and cleaning up; no results written`);
      const force = setTimeout(() => process.exit(130), 20_000);
      force.unref();
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    server = await acquireServer(log);
    log(`database: ${server.kind}; rows: ${opts.rows}; benchmarks: ${opts.selected.map((b) => b.id).join(', ')}; temp dir ${tmpDir}`);
    const { csv, makeCsv } = csvCache(tmpDir, opts.rows, log);
    const results: BenchResult[] = [];
    for (const bench of opts.selected) {
      const t0 = now();
      let result: BenchResult;
      try {
        current = await createFreshDb(server.adminUrl, bench.id);
        const db = current;
        log(`${bench.id} ${bench.title}: database ${db.name}`);
        const r = await bench.run({
          rows: opts.rows, dbUrl: db.url, dbName: db.name, tmpDir, timeoutMs: opts.timeoutMs,
          env: (extra) => cliEnv(db.url, extra), csv, makeCsv, log,
        });
        result = { id: bench.id, title: bench.title, seconds: (now() - t0) / 1000, ...r };
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        result = { id: bench.id, title: bench.title, ok: false, error: msg, seconds: (now() - t0) / 1000, figures: [], lines: [], details: {} };
      } finally {
        // Whatever a benchmark left running dies with it.
        await Promise.all(liveProcs().map((p) => p.stop(5_000)));
        await current?.drop().catch((err: Error) => log(`could not drop database ${current?.name}: ${err.message}`));
        current = null;
      }
      if (interrupted) return 130;
      if (!result.ok) result.lines.push(`${bench.id} ERROR: ${result.error}`);
      results.push(result);
      for (const l of result.lines) process.stdout.write(l + '\n');
    }

    process.stdout.write('\n' + table(results) + '\n');
    const doc = {
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      ok: results.every((r) => r.ok),
      rows: opts.rows,
      database: server.kind,
      host: {
        node: process.version, platform: `${platform()} ${release()}`, cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null,
        mem_gb: Math.round(totalmem() / 2 ** 30 * 10) / 10,
      },
      results,
    };
    mkdirSync(join(opts.out, '..'), { recursive: true });
    writeFileSync(opts.out, JSON.stringify(doc, null, 2) + '\n');
    process.stdout.write(`\nresults: ${opts.out}\n`);
    if (opts.keepTmp) process.stdout.write(`CSV files kept in ${tmpDir}\n`);
    return doc.ok ? 0 : 1;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
