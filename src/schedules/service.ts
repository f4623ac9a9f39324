import { resolve } from 'node:path';
import type { Db } from '../db/executor.ts';
import { UsageError } from '../errors.ts';
import { getTemplate } from '../templates/store.ts';
import { planColumns } from '../ingest/columns.ts';
import { inspectFile } from '../ingest/upload.ts';
import { checkId, type CreateInput } from '../campaigns/service.ts';
import { checkZone, nextFiring } from './cron.ts';

export type Overlap = 'skip' | 'queue';

/** What `create` takes, plus when to fire and what to do when a run is still going. */
export interface RecurringInput extends CreateInput {
  cron: string;
  tz: string;
  overlap: Overlap;
}

export interface Schedule {
  id: string;
  name: string;
  state: string;
  cron: string;
  tz: string;
  overlap: Overlap;
  next_run_at: string | null;
  last_fire_at: string | null;
  runs: number;
  skipped: number;
  failed: number;
  csv: string;
  template: { name: string; language: string };
  pause_reason: string | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/**
 * `campaign create … --cron EXPR [--tz ZONE]`: a recurring campaign. The file is checked now (it must be
 * a CSV whose columns fit the template, exit 2 otherwise) but not stored: each firing reads it as it is
 * then (a nightly CRM export). The path is kept absolute, since workers do not share the CLI's directory.
 */
export async function createRecurring(db: Db, input: RecurringInput, now = new Date()): Promise<Schedule> {
  checkZone(input.tz);
  const next = nextFiring(input.cron, input.tz, now);
  const template = await getTemplate(db, input.template, input.language);
  const csv = resolve(input.csv);
  const file = await inspectFile(csv);
  const plan = planColumns(file.header, template, input.phoneColumn, input.params);
  const row = (await db.q('schedule_insert', [
    input.name, template.id, input.channel, plan.phoneColumn, JSON.stringify(plan.paramMap), input.defaultCountry ?? null, csv,
    file.encoding, file.delimiter, file.header, JSON.stringify(input.paramOptions ?? {}), file.recordDelimiter,
    input.cron.trim(), input.tz, input.overlap, next,
  ])).rows[0];
  return (await listSchedules(db)).find((s) => s.id === row.id)!;
}

export async function listSchedules(db: Db): Promise<Schedule[]> {
  const rows = (await db.q('schedule_list')).rows;
  return rows.map((r) => ({
    id: r.id, name: r.name, state: r.state, cron: r.cron, tz: r.cron_tz, overlap: r.overlap,
    next_run_at: r.state === 'scheduled' ? iso(r.next_run_at) : null, last_fire_at: iso(r.last_fire_at),
    runs: r.runs, skipped: r.skipped, failed: r.failed, csv: r.source_file,
    template: { name: r.template_name, language: r.template_language }, pause_reason: r.pause_reason,
  }));
}

async function recurring(db: Db, id: string): Promise<{ state: string; cron: string; cron_tz: string }> {
  const c = (await db.q('campaign_get', [checkId(id)])).rows[0];
  if (!c) throw new UsageError(`unknown campaign ${id}: see "campaign schedule list"`);
  if (!c.cron) throw new UsageError(`campaign ${id} is not recurring (it has no --cron): use "campaign pause|resume|cancel" for it`);
  return c;
}

export async function pauseSchedule(db: Db, id: string): Promise<void> {
  const c = await recurring(db, id);
  if ((await db.q('schedule_pause', [id])).rowCount === 0) throw new UsageError(`schedule ${id} is ${c.state}: only an active schedule can be paused`);
}

export async function resumeSchedule(db: Db, id: string, now = new Date()): Promise<string> {
  const c = await recurring(db, id);
  const next = nextFiring(c.cron, c.cron_tz, now);
  if ((await db.q('schedule_resume', [id, next])).rowCount === 0) throw new UsageError(`schedule ${id} is ${c.state}: only a paused schedule can be resumed`);
  return next.toISOString();
}

export async function removeSchedule(db: Db, id: string): Promise<void> {
  const c = await recurring(db, id);
  if ((await db.q('schedule_remove', [id])).rowCount === 0) throw new UsageError(`schedule ${id} is ${c.state}: it was already removed`);
}

/** Whether campaign `id` is recurring (pause/resume of such a campaign go to its schedule). */
export async function isRecurring(db: Db, id: string): Promise<boolean> {
  return Boolean((await db.q('campaign_get', [id])).rows[0]?.cron);
}
