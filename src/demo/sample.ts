import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** The demo's template: positional placeholders, a body only. */
export const DEMO_TEMPLATE = {
  name: 'demo_order_update',
  language: 'en',
  category: 'utility' as const,
  body: 'Hi {{1}}, your order {{2}} has shipped. Track it in the app.',
  headerText: null,
  headerFormat: null,
  urlButton: false,
};

const NAMES = ['Budi', 'Siti', 'Agus', 'Dewi', 'Rina', 'Joko', 'Putri', 'Andi', 'Wati', 'Eko', 'José', 'Zoë'];

/** A deterministic PRNG (mulberry32): the same seed writes the same file. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An Indonesian mobile number written the ways people type it. */
function typedNumber(n: number, style: number): string {
  const sub = String(10_000_000 + (n % 90_000_000)).padStart(8, '0');
  const local = `812${sub}`; // 0812-xxxx-xxxx national, +62 812… international
  switch (style % 5) {
    case 0: return `+62 ${local.slice(0, 3)}-${local.slice(3, 7)}-${local.slice(7)}`;
    case 1: return `0${local.slice(0, 3)} ${local.slice(3, 7)} ${local.slice(7)}`;
    case 2: return `62${local}`;
    case 3: return `(0${local.slice(0, 3)}) ${local.slice(3, 6)} ${local.slice(6, 9)} ${local.slice(9)}`;
    default: return `0062 ${local}`;
  }
}

export interface SampleStats { rows: number; invalid: number; duplicates: number }

/**
 * Write a contact CSV of `rows` data rows (header `phone,name,order_id`) with some bad rows mixed in:
 * invalid numbers, missing and invalid parameters, and duplicates of earlier numbers.
 */
export async function writeSampleCsv(path: string, rows: number, seed = Date.now()): Promise<SampleStats> {
  const rnd = prng(seed);
  const out = createWriteStream(path);
  const base = Math.floor(rnd() * 50_000_000);
  const stats: SampleStats = { rows, invalid: 0, duplicates: 0 };
  out.write('phone,name,order_id\n');
  for (let i = 0; i < rows; i++) {
    const r = rnd();
    let phone = typedNumber(base + i, i);
    let name = NAMES[i % NAMES.length]!;
    const order = `ORD-${100_000 + i}`;
    if (r < 0.02) { phone = ['12345', 'not a phone', '', '0812-34'][i % 4]!; stats.invalid++; }
    else if (r < 0.03) { name = ''; stats.invalid++; }
    else if (r < 0.035) { name = `${name}\twith a tab`; stats.invalid++; }
    else if (r < 0.06 && i > 10) { phone = typedNumber(base + i - 1 - Math.floor(rnd() * 10), i + 1); stats.duplicates++; }
    const cell = (s: string) => (/[",\n\t]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    if (!out.write(`${cell(phone)},${cell(name)},${order}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return stats;
}
