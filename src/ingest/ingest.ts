import type { Db } from '../db/executor.ts';
import type { TemplateDef } from '../templates/types.ts';
import { UsageError } from '../errors.ts';
import { openCsv, type CsvSource } from './csv.ts';
import { planColumns, type ColumnPlan } from './columns.ts';
import { validateRow } from './validate-row.ts';

/** Rows per round trip: large enough that the database is not the bottleneck, small enough to stay in memory. */
export const INGEST_BATCH_ROWS = 5_000;
export const ERRORS_SAMPLE = 10;

export interface IngestSummary {
  rows: number;
  accepted: number;
  invalid: number;
  duplicate: number;
  suppressed: number;
  invalid_reasons: Record<string, number>;
  errors_sample: Array<{ line: number; reason: string; detail: string }>;
}

export interface IngestProgress { rows: number; accepted: number; invalid: number; duplicate: number; suppressed: number }

export interface PreparedIngest {
  csv: CsvSource;
  plan: ColumnPlan;
}

/** Open the file and map its columns; every problem here is the user's to fix (exit 2), before any row is stored. */
export async function prepareIngest(file: string, template: TemplateDef, phoneColumn: string | undefined, params: Record<string, string>): Promise<PreparedIngest> {
  const csv = await openCsv(file);
  try {
    return { csv, plan: planColumns(csv.header, template, phoneColumn, params) };
  } catch (err) {
    await csv.records.return(undefined);
    throw err;
  }
}

interface Row {
  line: number;
  phoneInput: string;
  e164: string | null;
  params: string | null;
  outcome: 'accepted' | 'invalid' | 'duplicate' | 'suppressed';
  reason: string | null;
  detail: string | null;
}

/**
 * Decide `suppressed` and `duplicate` for a batch against the database, then store it in one statement.
 * Batches run one after another, so "an earlier row was accepted" is exact: earlier batches are in the
 * table, earlier rows of this batch are in `seen`.
 */
async function storeBatch(db: Db, campaignId: string, rows: Row[], progress: IngestProgress): Promise<void> {
  await db.tx(async (tx) => {
    const candidates = [...new Set(rows.filter((r) => r.outcome === 'accepted').map((r) => r.e164!))];
    const [suppressed, taken] = await Promise.all([
      tx.q<{ phone_e164: string }>('suppression_find_many', [candidates]),
      tx.q<{ phone_e164: string }>('recipient_accepted_numbers', [campaignId, candidates]),
    ]);
    const blocked = new Set(suppressed.rows.map((r) => r.phone_e164));
    const seen = new Set(taken.rows.map((r) => r.phone_e164));
    for (const r of rows) {
      if (r.outcome !== 'accepted') continue;
      if (blocked.has(r.e164!)) r.outcome = 'suppressed';
      else if (seen.has(r.e164!)) r.outcome = 'duplicate';
      else seen.add(r.e164!);
    }
    await tx.q('recipient_insert_batch', [
      campaignId,
      rows.map((r) => r.line),
      rows.map((r) => r.phoneInput),
      rows.map((r) => r.e164),
      rows.map((r) => r.params),
      rows.map((r) => r.outcome),
      rows.map((r) => r.reason),
      rows.map((r) => r.detail),
    ]);
  });
  for (const r of rows) {
    progress.rows++;
    progress[r.outcome === 'invalid' ? 'invalid' : r.outcome]++;
  }
}

/**
 * Read every data row of the file into `recipients`, each with its line and outcome, in batches. Returns
 * the final counts. The caller removes the campaign if this throws, so no half-ingested campaign remains.
 */
export async function ingestRows(
  db: Db,
  campaignId: string,
  prepared: PreparedIngest,
  template: TemplateDef,
  opts: { defaultCountry?: string | undefined; batchRows?: number; onProgress?: (p: IngestProgress) => void },
): Promise<IngestSummary> {
  const { csv, plan } = prepared;
  const batchRows = opts.batchRows ?? INGEST_BATCH_ROWS;
  const progress: IngestProgress = { rows: 0, accepted: 0, invalid: 0, duplicate: 0, suppressed: 0 };
  let batch: Row[] = [];
  for await (const rec of csv.records) {
    const v = validateRow({
      fields: rec.fields,
      headerLength: csv.header.length,
      phoneIndex: plan.phoneIndex,
      slotColumns: plan.slotColumns,
      template,
      ...(opts.defaultCountry ? { defaultCountry: opts.defaultCountry } : {}),
    });
    batch.push(
      v.outcome === 'invalid'
        ? { line: rec.line, phoneInput: v.phoneInput, e164: null, params: null, outcome: 'invalid', reason: v.reason, detail: v.detail }
        : { line: rec.line, phoneInput: v.phoneInput, e164: v.e164, params: JSON.stringify(v.params), outcome: 'accepted', reason: null, detail: null },
    );
    if (batch.length >= batchRows) {
      await storeBatch(db, campaignId, batch, progress);
      batch = [];
      opts.onProgress?.(progress);
    }
  }
  if (batch.length > 0) await storeBatch(db, campaignId, batch, progress);
  opts.onProgress?.(progress);
  if (progress.rows === 0) throw new UsageError('the file has a header but no data rows');
  const done = (await db.q('campaign_ingest_finish', [campaignId])).rows[0];
  const sample = (await db.q<{ line: number; reason: string; detail: string }>('campaign_errors_sample', [campaignId, ERRORS_SAMPLE])).rows;
  return {
    rows: done.ingest_rows,
    accepted: done.ingest_accepted,
    invalid: done.ingest_invalid,
    duplicate: done.ingest_duplicate,
    suppressed: done.ingest_suppressed,
    invalid_reasons: done.invalid_reasons,
    errors_sample: sample.map((s) => ({ line: s.line, reason: s.reason, detail: s.detail ?? '' })),
  };
}
