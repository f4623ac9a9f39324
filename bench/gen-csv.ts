import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * A deterministic contact-CSV generator for benchmarks (and tests): `phone,name,order_id,city`, Indonesian
 * mobiles written the ways spreadsheets hold them, with a few percent invalid, missing-parameter and
 * duplicate rows. Every row's fate is a pure function of (seed, row index), so the expected ingest counts
 * are known without keeping anything in memory, and the file is streamed, never built whole.
 *
 * The file is also loadable as-is by PostgreSQL `COPY … (FORMAT csv, HEADER)`: every record has exactly
 * four fields, no blank lines, fields with a comma are quoted.
 */

export interface GenCsvOptions {
  /** Data rows (the header is not counted). At most 100,000,000 (distinct subscriber numbers). */
  rows: number;
  seed?: number;
  /** Share of rows whose phone cell is not a valid number (too short/long, letters, empty, `#N/A`). */
  invalidRate?: number;
  /** Share of rows with a valid, new number but an empty `name` (the ingest's `missing_param`). */
  missingParamRate?: number;
  /** Share of rows repeating the number of an earlier accepted row, in another spelling. */
  duplicateRate?: number;
  /** Share of rows whose name holds a comma and is therefore quoted. */
  quotedRate?: number;
}

export interface GenCsvStats {
  rows: number;
  bytes: number;
  /** What a correct ingest with `--default-country ID` and every column mapped should report. */
  expected: { accepted: number; invalid: number; invalid_phone: number; missing_param: number; duplicate: number };
}

export const CSV_HEADER = 'phone,name,order_id,city';

const PREFIXES = [811, 812, 813, 814, 815, 816, 817, 818, 819, 821, 822, 823, 831, 832, 833, 838, 851, 852, 853,
  855, 856, 857, 858, 859, 877, 878, 881, 882, 883, 884, 885, 886, 887, 888, 889, 895, 896, 897, 898, 899];
const FIRST = ['Budi', 'Siti', 'Agus', 'Dewi', 'Rina', 'Andi', 'Putri', 'Wahyu', 'Ayu', 'Eko', 'Fitri', 'Hendra',
  'Indah', 'Joko', 'Kartika', 'Lestari', 'Made', 'Nur', 'Oktaviani', 'Rudi', 'Sri', 'Teguh', 'Wulan', 'Yusuf'];
const LAST = ['Santoso', 'Wijaya', 'Saputra', 'Hidayat', 'Lubis', 'Nasution', 'Siregar', 'Kurniawan', 'Pratama',
  'Setiawan', 'Halim', 'Gunawan', 'Sihombing', 'Hasibuan', 'Rahmawati', 'Susanto'];
const TITLES = ['S.Kom', 'S.E.', 'M.M.', 'S.H.', 'Dr.'];
const CITIES = ['Jakarta', 'Surabaya', 'Bandung', 'Medan', 'Semarang', 'Makassar', 'Palembang', 'Denpasar',
  'Yogyakarta', 'Bandar Lampung', 'Pekanbaru', 'Balikpapan', 'Pontianak', 'Manado', 'Padang', 'Malang'];

/** A 32-bit integer hash (lowbias32): the same input always gives the same output. */
function mix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d);
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A uniform number in [0, 1) for row `i`, independent per `salt`. */
function u(seed: number, i: number, salt: number): number {
  return mix((mix(seed ^ Math.imul(salt, 0x9e3779b9)) ^ i) >>> 0) / 4294967296;
}

type Kind = 'unique' | 'invalid_phone' | 'missing_param' | 'duplicate';

interface Resolved { invalidRate: number; missingParamRate: number; duplicateRate: number; quotedRate: number; seed: number }

function resolve(opts: GenCsvOptions): Resolved {
  return {
    seed: (opts.seed ?? 20251128) >>> 0,
    invalidRate: opts.invalidRate ?? 0.02,
    missingParamRate: opts.missingParamRate ?? 0.005,
    duplicateRate: opts.duplicateRate ?? 0.03,
    quotedRate: opts.quotedRate ?? 0.01,
  };
}

function kindOf(o: Resolved, i: number): Kind {
  if (i === 0) return 'unique'; // duplicates always have an accepted row to point back to
  const r = u(o.seed, i, 1);
  if (r < o.invalidRate) return 'invalid_phone';
  if (r < o.invalidRate + o.missingParamRate) return 'missing_param';
  if (r < o.invalidRate + o.missingParamRate + o.duplicateRate) return 'duplicate';
  return 'unique';
}

/** The national significant number of row `i`: distinct for every i < 1e8 (i ↦ i·48271 + c mod 1e8 is a bijection). */
function nsnOf(o: Resolved, i: number): { prefix: string; sub: string } {
  const prefix = String(PREFIXES[mix(i ^ o.seed) % PREFIXES.length]);
  const sub = String((i * 48271 + 12345678) % 100_000_000).padStart(8, '0');
  return { prefix, sub };
}

/** The spellings people and exporters use for one Indonesian mobile (`+62 812-3456-7890` and friends). */
function spell(prefix: string, sub: string, style: number): string {
  const s1 = sub.slice(0, 4), s2 = sub.slice(4);
  switch (style) {
    case 0: return `+62 ${prefix}-${s1}-${s2}`;
    case 1: return `0${prefix} ${s1} ${s2}`;
    case 2: return `(0${prefix}) ${sub.slice(0, 3)} ${sub.slice(3, 6)} ${sub.slice(6)}`;
    case 3: return `62${prefix}${sub}`;
    default: return `0062 ${prefix} ${s1} ${s2}`;
  }
}

function invalidPhone(o: Resolved, i: number, prefix: string, sub: string): string {
  switch (Math.floor(u(o.seed, i, 5) * 5)) {
    case 0: return `0${prefix} ${sub.slice(0, 3)}`;                 // too short
    case 1: return `0${prefix}-ABCD-${sub.slice(4)}`;               // letters
    case 2: return '';                                              // empty cell
    case 3: return `+62 ${prefix} ${sub} ${sub.slice(0, 4)}`;       // too long
    default: return '#N/A';                                         // spreadsheet error value
  }
}

/** Line `i` (0-based data row) of the file, without the newline. */
export function csvRow(opts: GenCsvOptions, i: number): string {
  return rowOf(resolve(opts), i).line;
}

function rowOf(o: Resolved, i: number): { kind: Kind; line: string } {
  const kind = kindOf(o, i);
  let ref = i;
  if (kind === 'duplicate') {
    // An earlier row that was accepted: try a few random earlier rows, else row 0 (always unique).
    ref = 0;
    for (let t = 0; t < 8; t++) {
      const j = Math.floor(u(o.seed, i, 10 + t) * i);
      if (kindOf(o, j) === 'unique') { ref = j; break; }
    }
  }
  const { prefix, sub } = nsnOf(o, ref);
  const phone = kind === 'invalid_phone'
    ? invalidPhone(o, i, prefix, sub)
    : spell(prefix, sub, Math.floor(u(o.seed, i, 2) * 5));
  let name = '';
  if (kind !== 'missing_param') {
    name = `${FIRST[Math.floor(u(o.seed, i, 3) * FIRST.length)]} ${LAST[Math.floor(u(o.seed, i, 4) * LAST.length)]}`;
    if (u(o.seed, i, 6) < o.quotedRate) name = `"${name}, ${TITLES[Math.floor(u(o.seed, i, 7) * TITLES.length)]}"`;
  }
  const orderId = `INV-${String(100_000_000 + i)}`;
  const city = CITIES[Math.floor(u(o.seed, i, 8) * CITIES.length)];
  return { kind, line: `${phone},${name},${orderId},${city}` };
}

/** Write the CSV to `path` (LF line ends, header first), streaming with back-pressure. */
export async function generateCsv(path: string, opts: GenCsvOptions): Promise<GenCsvStats> {
  if (!Number.isInteger(opts.rows) || opts.rows < 0 || opts.rows > 100_000_000) throw new Error(`rows: expected 0..100000000, got ${opts.rows}`);
  const o = resolve(opts);
  const out = createWriteStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const failed = new Promise<never>((_, rej) => out.once('error', rej));
  failed.catch(() => {});
  const expected = { accepted: 0, invalid: 0, invalid_phone: 0, missing_param: 0, duplicate: 0 };
  let bytes = 0;
  let chunk: string[] = [CSV_HEADER];
  const flush = async () => {
    const text = chunk.join('\n') + '\n';
    chunk = [];
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
  };
  for (let i = 0; i < opts.rows; i++) {
    const { kind, line } = rowOf(o, i);
    if (kind === 'unique') expected.accepted++;
    else if (kind === 'duplicate') expected.duplicate++;
    else { expected.invalid++; expected[kind]++; }
    chunk.push(line);
    if (chunk.length >= 2000) await flush();
  }
  if (chunk.length > 0) await flush();
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return { rows: opts.rows, bytes, expected };
}

// `node bench/gen-csv.ts FILE [ROWS]`: write a file by hand.
if (import.meta.main) {
  const [file, rows] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/gen-csv.ts FILE [ROWS]\n');
    process.exit(2);
  }
  const stats = await generateCsv(file, { rows: rows ? Number(rows) : 1_000_000 });
  process.stdout.write(JSON.stringify(stats) + '\n');
}
