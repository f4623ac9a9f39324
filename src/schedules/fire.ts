import type pg from 'pg';
import type { Db } from '../db/executor.ts';
import type { Logger } from '../log.ts';
import { createCampaign, type Io } from '../campaigns/service.ts';
import { nextFiring } from './cron.ts';
import { UsageError } from '../errors.ts';

const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR']);

export interface Firing {
  scheduleId: string;
  fireAt: Date;
}

/**
 * The scan (every second, in the maintenance job): claim each due firing of each active schedule and move
 * the schedule on to its next firing, in one guarded statement. After a downtime a schedule fires once
 * for what it missed (at the time it was due) and then from now on: a recurring send is not repeated
 * for every period the workers were away. Returns the firings this process claimed.
 */
export async function claimDueFirings(db: Db, now = new Date()): Promise<Firing[]> {
  const due = (await db.q<{ id: string; cron: string; cron_tz: string; next_run_at: Date }>('schedule_due')).rows;
  const claimed: Firing[] = [];
  for (const s of due) {
    const after = s.next_run_at > now ? s.next_run_at : now;
    const next = nextFiring(s.cron, s.cron_tz, after);
    const r = await db.q('schedule_firing_claim', [s.id, s.next_run_at, next]);
    if (r.rowCount === 1) claimed.push({ scheduleId: s.id, fireAt: s.next_run_at });
  }
  return claimed;
}

export type FireResult = { outcome: 'created'; runId: string } | { outcome: 'skipped' | 'queued' | 'failed'; detail: string } | { outcome: 'decided' };

/**
 * Decide one firing (the schedule-fire job). One firing of a schedule at a time (a session advisory lock
 * on the schedule), so the overlap check and the run it allows cannot interleave with another firing's:
 *
 * - the previous run still going: `skip` records the firing as skipped; `queue` leaves it queued until
 *   that run ends (one waiting firing at most; more are skipped);
 * - otherwise a run is created from the file as it is now — named `NAME @ <firing time>`, parent_id and
 *   fire_at set (unique), started at once; a worker validates it (campaign-ingest) while it sends;
 * - a file that cannot be read, or no longer fits the template, fails the firing with the reason.
 *
 * Re-running it for the same firing (a crash, a retried job) never makes a second run: a run already
 * made for the firing is adopted, and one whose upload was cut off is removed and made again.
 */
export async function fireSchedule(io: Io & { pool: pg.Pool }, firing: Firing, log: Logger): Promise<FireResult> {
  const { db, pool } = io;
  const { scheduleId, fireAt } = firing;
  const lock = await pool.connect();
  try {
    await lock.query(`SELECT pg_advisory_lock(hashtextextended('schedule:' || $1, 0))`, [scheduleId]);
    const f = (await db.q('schedule_firing_get', [scheduleId, fireAt])).rows[0];
    if (!f || (f.outcome !== 'pending' && f.outcome !== 'queued')) return { outcome: 'decided' };
    const s = (await db.q('campaign_get', [scheduleId])).rows[0];
    if (!s || s.state === 'cancelled') return decide(db, firing, 'skipped', null, 'the schedule was removed');

    const made = (await db.q<{ id: string; ingest_state: string; state: string }>('schedule_run_of_firing', [scheduleId, fireAt])).rows[0];
    if (made && made.ingest_state !== 'uploading') {
      if (made.state === 'draft') await db.q('campaign_start', [made.id]);
      return decide(db, firing, 'created', made.id, null);
    }
    if (made) await db.q('campaign_delete', [made.id]);

    const busy = (await db.q<{ id: string; state: string }>('schedule_run_busy', [scheduleId, fireAt])).rows[0];
    if (busy) {
      const detail = `the previous run ${busy.id} is still ${busy.state}`;
      if (s.overlap === 'queue') {
        const waiting = (await db.q('schedule_firing_waiting', [scheduleId, fireAt])).rows[0];
        if (waiting) return decide(db, firing, 'skipped', null, `${detail}, and the firing of ${waiting.fire_at.toISOString()} is already waiting`);
        // Still open: the scan brings it back here until the previous run ends.
        if (f.outcome === 'pending') await db.q('schedule_firing_decide', [scheduleId, fireAt, 'queued', null, detail]);
        return { outcome: 'queued', detail };
      }
      return decide(db, firing, 'skipped', null, detail);
    }

    try {
      const run = await createCampaign(io, {
        name: `${s.name} @ ${fireAt.toISOString()}`, template: s.template_name, language: s.template_language, csv: s.source_file,
        channel: s.channel, phoneColumn: s.phone_column, params: s.param_map ?? {}, defaultCountry: s.default_country ?? undefined,
        paramOptions: s.param_options ?? {},
      }, { wait: false, startNow: true, parent: { id: scheduleId, fireAt } });
      log.info({ schedule: scheduleId, fire_at: fireAt.toISOString(), run: run.id }, 'recurring campaign fired');
      return decide(db, firing, 'created', run.id, null);
    } catch (err) {
      // The file is gone, empty, or no longer fits: this firing fails with the reason, the schedule goes on.
      // A database error is not the file's fault: let the job retry.
      if (!(err instanceof UsageError) && !FILE_ERRORS.has((err as { code?: string }).code ?? '')) throw err;
      log.warn({ schedule: scheduleId, err }, 'recurring campaign could not fire');
      return decide(db, firing, 'failed', null, (err as Error).message);
    }
  } finally {
    await lock.query(`SELECT pg_advisory_unlock(hashtextextended('schedule:' || $1, 0))`, [scheduleId]).catch(() => {});
    lock.release();
  }
}

async function decide(db: Db, f: Firing, outcome: 'created' | 'skipped' | 'failed', runId: string | null, detail: string | null): Promise<FireResult> {
  await db.q('schedule_firing_decide', [f.scheduleId, f.fireAt, outcome, runId, detail]);
  return outcome === 'created' ? { outcome, runId: runId! } : { outcome, detail: detail ?? '' };
}
