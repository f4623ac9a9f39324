import type { Db } from '../db/executor.ts';
import { UsageError } from '../errors.ts';
import { DEFAULT_PHONE_COLUMNS, findColumn } from './columns.ts';
import { normalizePhone } from './phone.ts';
import { readRecords } from './records.ts';

const BATCH = 5_000;

export interface SuppressionImport {
  rows: number;
  added: number;
  invalid: number;
  errors_sample: Array<{ line: number; detail: string }>;
}

/** `campaign suppress add --csv FILE`: every valid number of the file joins the opt-out list. */
export async function importSuppressions(db: Db, path: string, phoneColumn: string | undefined, country: string | undefined): Promise<SuppressionImport> {
  const { plan, records } = await readRecords(path);
  const names = phoneColumn ? [phoneColumn] : DEFAULT_PHONE_COLUMNS;
  const index = names.map((n) => findColumn(plan.header, n)).find((i) => i >= 0) ?? -1;
  if (index < 0) {
    await records.return(undefined);
    throw new UsageError(`${path}: no phone column (${names.join(', ')}); the file has ${plan.header.map((h) => JSON.stringify(h)).join(', ')}`);
  }
  const out: SuppressionImport = { rows: 0, added: 0, invalid: 0, errors_sample: [] };
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    out.added += (await db.q('suppression_add_many', [batch, 'import', path])).rowCount ?? 0;
    batch = [];
  };
  for await (const rec of records) {
    out.rows++;
    const r = normalizePhone(rec.fields[index] ?? '', country);
    if (!r.ok) {
      out.invalid++;
      if (out.errors_sample.length < 10) out.errors_sample.push({ line: rec.line, detail: r.detail });
      continue;
    }
    batch.push(r.e164);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return out;
}
