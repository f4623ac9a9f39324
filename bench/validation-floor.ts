import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { open } from 'node:fs/promises';
import { parseArgs } from 'node:util';

/**
 * B1's second baseline: the least work any ingest that keeps the project's rules must do on this machine.
 * It parses the CSV with csv-parse (the ingest's own `parseChunk`, same options) and normalises every
 * phone cell with libphonenumber-js `/max` (the ingest's own `normalizePhone`, speed-ups installed), on
 * one thread per core, and stores nothing: no database, no COPY text, no duplicates, no parameters.
 *
 * `node bench/validation-floor.ts FILE [--threads N] [--country ID] [--column 0]` prints one JSON line:
 * { rows, valid_phone, threads, wall_ms }. Run as its own process, so its time includes a process start,
 * as `campaign create`'s does.
 *
 * The file is split into one byte range per thread at line breaks, so it must have no line break inside a
 * quoted field (bench/gen-csv.ts writes none); B1 checks the row count against the generator's.
 */

/** About the ingest's chunk size (src/ingest/upload.ts), so csv-parse works on pieces of the same size. */
const PIECE_CHARS = 1 << 20;

interface Part { rows: number; valid: number }

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(end - start);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

/** Byte offsets [start, end) for each thread, each starting right after a line break (the header skipped). */
async function ranges(path: string, threads: number): Promise<Array<[number, number]>> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const probe = Buffer.allocUnsafe(64 * 1024);
    const lineStartAfter = async (pos: number): Promise<number> => {
      for (let p = pos; p < size; p += probe.length) {
        const { bytesRead } = await fh.read(probe, 0, probe.length, p);
        const i = probe.subarray(0, bytesRead).indexOf(10);
        if (i >= 0) return p + i + 1;
      }
      return size;
    };
    const cuts = [await lineStartAfter(0)];
    for (let i = 1; i < threads; i++) cuts.push(await lineStartAfter(Math.floor((size * i) / threads)));
    cuts.push(size);
    return cuts.slice(0, -1).map((s, i) => [s, Math.max(s, cuts[i + 1]!)]);
  } finally {
    await fh.close();
  }
}

async function validatePart(path: string, start: number, end: number, country: string, column: number): Promise<Part> {
  const { installPhoneSpeedups } = await import('../src/ingest/phone-speedups.ts');
  installPhoneSpeedups();
  const { normalizePhone } = await import('../src/ingest/phone.ts');
  const { parseChunk } = await import('../src/ingest/parse-chunk.ts');
  const text = (await readRange(path, start, end)).toString('utf8');
  let rows = 0;
  let valid = 0;
  for (let p = 0; p < text.length;) {
    const nl = text.indexOf('\n', p + PIECE_CHARS);
    const e = nl < 0 ? text.length : nl + 1;
    for (const r of parseChunk(text.slice(p, e), 2, ',', false)) {
      rows++;
      if (normalizePhone(r.fields[column] ?? '', country).ok) valid++;
    }
    p = e;
  }
  return { rows, valid };
}

if (isMainThread) {
  const t0 = performance.now();
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { threads: { type: 'string' }, country: { type: 'string', default: 'ID' }, column: { type: 'string', default: '0' } },
  });
  const path = positionals[0];
  if (!path) {
    process.stderr.write('usage: node bench/validation-floor.ts FILE [--threads N] [--country ID] [--column 0]\n');
    process.exit(2);
  }
  const threads = Math.max(1, Number(values.threads ?? availableParallelism()));
  const parts = await Promise.all((await ranges(path, threads)).map(([start, end]) => new Promise<Part>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { path, start, end, country: values.country, column: Number(values.column) } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const rows = parts.reduce((a, p) => a + p.rows, 0);
  const valid = parts.reduce((a, p) => a + p.valid, 0);
  process.stdout.write(JSON.stringify({ rows, valid_phone: valid, threads, wall_ms: Math.round(performance.now() - t0) }) + '\n');
} else {
  const { path, start, end, country, column } = workerData as { path: string; start: number; end: number; country: string; column: number };
  parentPort!.postMessage(await validatePart(path, start, end, country, column));
}
