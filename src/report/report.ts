import type { Db } from '../db/executor.ts';
import { tierStatus, type TierStatus } from '../send/tier.ts';

export const STATUSES = ['queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed'] as const;
export type StatusCounts = Record<(typeof STATUSES)[number], number>;

/** The report, field for field as interface.md "The report" defines it. */
export interface Report {
  id: string;
  name: string;
  state: string;
  template: { name: string; language: string };
  channel: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  ingest: {
    rows: number; accepted: number; invalid: number; duplicate: number; suppressed: number;
    invalid_reasons: { invalid_phone: number; missing_param: number; invalid_param: number; malformed_row: number };
  };
  status: StatusCounts;
  failures: Array<{ code: string; title: string; count: number }>;
  attempts: { requests: number; retries: number };
  ambiguous: number;
  pause_reason: string | null;
  rates: { delivered: number; read: number; failed: number };
  /** Added to the contract: the channel's messaging-tier budget, when it has one (WA_MESSAGING_TIER). */
  tier?: TierStatus;
}

export interface ReportOptions {
  /** The messaging tier of a channel (from the process's config); no `tier` field without it. */
  tierOf?: (channel: string) => number | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const ratio = (n: number, d: number): number => (d > 0 ? Math.round((n / d) * 1000) / 1000 : 0);
const FAILURES_LISTED = 20;

export function emptyStatus(): StatusCounts {
  return { queued: 0, sending: 0, accepted: 0, sent: 0, delivered: 0, read: 0, failed: 0 };
}

const isStatus = (b: string): b is keyof StatusCounts => (STATUSES as readonly string[]).includes(b);

/** The counted part of the report, whichever way it was counted. */
interface Counted {
  status: StatusCounts;
  failures: Report['failures'];
  attempts: Report['attempts'];
  ambiguous: number;
  /** Outcome counts of the rows stored so far: the ingest figures while the file is being validated. */
  ingest: () => Promise<{ rows: number; accepted: number; invalid: number; duplicate: number; suppressed: number; invalid_reasons: Record<string, number> }>;
}

interface CountRow { bucket: string; detail: string; title: string; n: number; rank: number | null }

/**
 * From the maintained counters (0007_report_counters): one statement reads the campaign's folded counts
 * and its pending deltas, a few dozen rows whatever the campaign's size.
 */
async function countFromCounters(db: Db, campaignId: string): Promise<Counted> {
  const rows = (await db.q<CountRow>('report_counts', [campaignId])).rows;
  const status = emptyStatus();
  const attempts = { requests: 0, retries: 0 };
  const outcomes = { invalid: 0, duplicate: 0, suppressed: 0 };
  const reasons: Record<string, number> = { invalid_phone: 0, missing_param: 0, invalid_param: 0, malformed_row: 0 };
  let ambiguous = 0;
  const failed: CountRow[] = [];
  for (const r of rows) {
    if (isStatus(r.bucket)) status[r.bucket] += r.n;
    else if (r.bucket === 'requests' || r.bucket === 'retries') attempts[r.bucket] += r.n;
    else if (r.bucket === 'invalid' || r.bucket === 'duplicate' || r.bucket === 'suppressed') outcomes[r.bucket] += r.n;
    if (r.bucket === 'invalid') reasons[r.detail] = (reasons[r.detail] ?? 0) + r.n;
    if ((r.bucket === 'sending' || r.bucket === 'failed') && r.detail === 'ambiguous') ambiguous += r.n;
    if (r.bucket === 'failed' && r.rank !== null && r.rank <= FAILURES_LISTED) failed.push(r);
  }
  failed.sort((a, b) => a.rank! - b.rank!);
  const accepted = STATUSES.reduce((s, k) => s + status[k], 0);
  return {
    status,
    failures: failed.map((r) => ({ code: r.detail, title: r.title, count: r.n })),
    attempts,
    ambiguous,
    ingest: async () => ({ rows: accepted + outcomes.invalid + outcomes.duplicate + outcomes.suppressed, accepted, ...outcomes, invalid_reasons: reasons }),
  };
}

/** From the rows themselves, linear in the campaign: the reference the counters must equal (tests, B6). */
async function countByScan(db: Db, campaignId: string): Promise<Counted> {
  const [counts, failures, attempts, ambiguous] = await Promise.all([
    db.q<{ status: keyof StatusCounts; n: number }>('report_scan_status_counts', [campaignId]),
    db.q<{ code: string; title: string; count: number }>('report_scan_failures', [campaignId]),
    db.q<{ requests: number; retries: number }>('report_scan_attempts', [campaignId]),
    db.q<{ n: number }>('report_scan_ambiguous_count', [campaignId]),
  ]);
  const status = emptyStatus();
  for (const r of counts.rows) status[r.status] = r.n;
  return {
    status,
    failures: failures.rows,
    attempts: attempts.rows[0] ?? { requests: 0, retries: 0 },
    ambiguous: ambiguous.rows[0]?.n ?? 0,
    ingest: async () => (await db.q('recipient_outcome_counts', [campaignId])).rows[0],
  };
}

async function build(db: Db, campaignId: string, count: (db: Db, id: string) => Promise<Counted>): Promise<Report | null> {
  const c = (await db.q('campaign_get', [campaignId])).rows[0];
  if (!c) return null;
  const counted = await count(db, campaignId);
  const { status } = counted;
  const ing = c.ingest_state === 'done'
    ? { rows: c.ingest_rows, accepted: c.ingest_accepted, invalid: c.ingest_invalid, duplicate: c.ingest_duplicate, suppressed: c.ingest_suppressed, invalid_reasons: c.invalid_reasons }
    : await counted.ingest();
  const accepted = ing.accepted as number;
  const reasons = ing.invalid_reasons ?? {};
  return {
    id: c.id,
    name: c.name,
    state: c.state,
    template: { name: c.template_name, language: c.template_language },
    channel: c.channel,
    created_at: iso(c.created_at)!,
    started_at: iso(c.started_at),
    completed_at: iso(c.completed_at),
    ingest: {
      rows: ing.rows, accepted, invalid: ing.invalid, duplicate: ing.duplicate, suppressed: ing.suppressed,
      invalid_reasons: {
        invalid_phone: reasons.invalid_phone ?? 0, missing_param: reasons.missing_param ?? 0,
        invalid_param: reasons.invalid_param ?? 0, malformed_row: reasons.malformed_row ?? 0,
      },
    },
    status,
    failures: counted.failures,
    attempts: counted.attempts,
    ambiguous: counted.ambiguous,
    pause_reason: c.pause_reason,
    rates: {
      delivered: ratio(status.delivered + status.read, accepted),
      read: ratio(status.read, accepted),
      failed: ratio(status.failed, accepted),
    },
  };
}

/**
 * Build the report of one campaign, or null when there is no such campaign. Two indexed reads (the
 * campaign, its counters), whatever the campaign's size: B6 holds it to 50 ms for 1,000,000 recipients.
 */
export async function buildReport(db: Db, campaignId: string, opts: ReportOptions = {}): Promise<Report | null> {
  const report = await build(db, campaignId, countFromCounters);
  const limit = report && opts.tierOf ? opts.tierOf(report.channel) : null;
  if (report && limit !== null) report.tier = await tierStatus(db, report.channel, limit);
  return report;
}

/**
 * The same report counted from the rows (GROUP BY over recipients and send_attempts), as it was before
 * 0007: linear in the campaign. The reference for the counters in the tests, and B6's baseline.
 */
export function buildReportByScan(db: Db, campaignId: string): Promise<Report | null> {
  return build(db, campaignId, countByScan);
}
