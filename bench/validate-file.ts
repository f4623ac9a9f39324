import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { inspectFile, fileChunks } from '../src/ingest/upload.ts';
import { planColumns } from '../src/ingest/columns.ts';
import { PIPELINE_DEPTH } from '../src/ingest/process.ts';
import { ValidatorPool } from '../src/ingest/worker-pool.ts';
import { parseTemplate } from '../src/templates/placeholders.ts';
import { generateCsv } from './gen-csv.ts';
import { BENCH_PARAMS, BENCH_TEMPLATE_BODY } from './lib.ts';

/**
 * `npm run bench:validate [-- FILE | --rows N] [--threads N]`: the validation half of `campaign create`
 * with no database. The file (B1's generated CSV when none is given) is cut into the ingest's chunks
 * (fileChunks, as the upload does) and validated on the ingest's threads (ValidatorPool → validateChunk:
 * csv-parse, libphonenumber-js, the parameter checks and the COPY text), PIPELINE_DEPTH chunks in flight as
 * processIngest keeps them. Prints rows, wall time from the first chunk, and the process's CPU time
 * (threads and GC helpers included). B1 runs this beside PostgreSQL on the same cores; this is the half
 * a change to validation moves, without the noise of the other half.
 *
 * The template and columns are B1's: `Halo {{1}}, pesanan {{2}} ke {{3}}` from name, order_id and city,
 * `--default-country ID`, mapped by the ingest's own planColumns, so the file needs B1's columns (bench/gen-csv.ts).
 */

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rows: { type: 'string', default: '1000000' }, threads: { type: 'string', default: '1' } },
});
const threads = Number(values.threads);
const rows = Number(values.rows);
if (!Number.isInteger(threads) || threads < 1 || !Number.isInteger(rows) || rows < 1 || positionals.length > 1) {
  process.stderr.write('usage: npm run bench:validate -- [FILE | --rows N] [--threads N]\n');
  process.exit(2);
}

let dir: string | null = null;
let path = positionals[0];
if (!path) {
  dir = await mkdtemp(join(tmpdir(), 'bench-validate-'));
  path = join(dir, `contacts-${rows}.csv`);
  await generateCsv(path, { rows });
}
try {
  const plan = await inspectFile(path);
  const template = parseTemplate({ name: 'bench_t', language: 'id', body: BENCH_TEMPLATE_BODY, headerText: null, headerFormat: null, urlButton: false });
  const columns = planColumns(plan.header, template, undefined, BENCH_PARAMS);
  const pool = new ValidatorPool(threads);
  pool.configure({
    campaignId: '00000000-0000-4000-8000-0000000000b1', template, headerLength: plan.header.length,
    phoneIndex: columns.phoneIndex, slotColumns: columns.slotColumns, defaultCountry: 'ID', delimiter: plan.delimiter,
    crBreaks: plan.recordDelimiter === '\r', paramOptions: {},
  });
  const chunks = fileChunks(path, plan);
  let t0 = 0;
  let cpu0: NodeJS.CpuUsage | null = null;
  let validated = 0;
  const inflight: Array<Promise<{ rows: number }>> = [];
  for await (const chunk of chunks) {
    if (!cpu0) {
      // From the first chunk: the threads' start-up is not validation.
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
    inflight.push(pool.validate(chunk.data.toString('utf8'), chunk.firstLine, chunk.seq === 0));
    if (inflight.length >= PIPELINE_DEPTH) validated += (await inflight.shift()!).rows;
  }
  for (const p of inflight) validated += (await p).rows;
  const cpu = process.cpuUsage(cpu0 ?? undefined);
  process.stdout.write(JSON.stringify({
    rows: validated, threads, wall_s: Number(((performance.now() - t0) / 1000).toFixed(3)),
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  }) + '\n');
  await pool.close();
} finally {
  if (dir) await rm(dir, { recursive: true, force: true });
}
