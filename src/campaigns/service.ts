import type { Db } from '../db/executor.ts';
import { UsageError } from '../errors.ts';
import { getTemplate } from '../templates/store.ts';
import { ingestRows, prepareIngest, type IngestProgress, type IngestSummary } from '../ingest/ingest.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CreateInput {
  name: string;
  template: string;
  language: string;
  csv: string;
  channel: string;
  phoneColumn?: string | undefined;
  params: Record<string, string>;
  defaultCountry?: string | undefined;
}

export interface CreateResult {
  id: string;
  state: string;
  ingest: Omit<IngestSummary, 'invalid_reasons'>;
}

/**
 * `campaign create`: check the template and the file's columns (exit 2 before anything is stored), create
 * the campaign, ingest every row. If ingest fails the campaign is removed: no half-created campaign stays.
 */
export async function createCampaign(db: Db, input: CreateInput, onProgress?: (p: IngestProgress) => void): Promise<CreateResult> {
  const template = await getTemplate(db, input.template, input.language);
  const prepared = await prepareIngest(input.csv, template, input.phoneColumn, input.params);
  const campaign = (await db.q('campaign_insert', [
    input.name, template.id, input.channel, prepared.plan.phoneColumn, JSON.stringify(prepared.plan.paramMap),
    input.defaultCountry ?? null, input.csv,
  ])).rows[0];
  try {
    const summary = await ingestRows(db, campaign.id, prepared, template, {
      defaultCountry: input.defaultCountry, ...(onProgress ? { onProgress } : {}),
    });
    const { invalid_reasons: _, ...ingest } = summary;
    return { id: campaign.id, state: 'draft', ingest };
  } catch (err) {
    await db.q('campaign_delete', [campaign.id]).catch(() => {});
    throw err;
  }
}

export function checkId(id: string): string {
  if (!UUID.test(id)) throw new UsageError(`${id} is not a campaign id (a UUID, as printed by "campaign create" and "campaign list")`);
  return id;
}

async function stateOf(db: Db, id: string): Promise<string> {
  const r = (await db.q<{ state: string }>('campaign_state', [checkId(id)])).rows[0];
  if (!r) throw new UsageError(`unknown campaign ${id}: see "campaign list"`);
  return r.state;
}

/** `campaign start ID [--at ISO]`: now (running) or at a time (scheduled). */
export async function startCampaign(db: Db, id: string, at?: Date): Promise<{ id: string; state: string; start_at: string | null }> {
  const state = await stateOf(db, id);
  const future = at && at.getTime() > Date.now();
  const r = future ? await db.q('campaign_schedule', [id, at]) : await db.q('campaign_start', [id]);
  if (r.rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: only a draft or scheduled campaign can be started`);
  const row = r.rows[0];
  return { id, state: row.state, start_at: row.start_at ? row.start_at.toISOString() : null };
}

export async function pauseCampaign(db: Db, id: string, reason = 'paused by the operator'): Promise<void> {
  const state = await stateOf(db, id);
  if ((await db.q('campaign_pause', [id, reason])).rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: only a running or scheduled campaign can be paused`);
}

export async function resumeCampaign(db: Db, id: string): Promise<void> {
  const state = await stateOf(db, id);
  if ((await db.q('campaign_resume', [id])).rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: only a paused campaign can be resumed`);
}

export async function cancelCampaign(db: Db, id: string): Promise<void> {
  const state = await stateOf(db, id);
  if ((await db.q('campaign_cancel', [id])).rowCount === 0) throw new UsageError(`campaign ${id} is ${state}: it has already ended`);
}
