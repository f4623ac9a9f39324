import type { Db } from '../db/executor.ts';

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
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const ratio = (n: number, d: number): number => (d > 0 ? Math.round((n / d) * 1000) / 1000 : 0);

export function emptyStatus(): StatusCounts {
  return { queued: 0, sending: 0, accepted: 0, sent: 0, delivered: 0, read: 0, failed: 0 };
}

/** Build the report of one campaign, or null when there is no such campaign. */
export async function buildReport(db: Db, campaignId: string): Promise<Report | null> {
  const c = (await db.q('campaign_get', [campaignId])).rows[0];
  if (!c) return null;
  const [counts, failures, attempts, ambiguous] = await Promise.all([
    db.q<{ status: keyof StatusCounts; n: number }>('report_status_counts', [campaignId]),
    db.q<{ code: string; title: string; count: number }>('report_failures', [campaignId]),
    db.q<{ requests: number; retries: number }>('report_attempts', [campaignId]),
    db.q<{ n: number }>('report_ambiguous_count', [campaignId]),
  ]);
  const status = emptyStatus();
  for (const r of counts.rows) status[r.status] = r.n;
  const ing = c.ingest_state === 'done'
    ? { rows: c.ingest_rows, accepted: c.ingest_accepted, invalid: c.ingest_invalid, duplicate: c.ingest_duplicate, suppressed: c.ingest_suppressed, invalid_reasons: c.invalid_reasons }
    : (await db.q('recipient_outcome_counts', [campaignId])).rows[0];
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
    failures: failures.rows,
    attempts: attempts.rows[0] ?? { requests: 0, retries: 0 },
    ambiguous: ambiguous.rows[0]?.n ?? 0,
    pause_reason: c.pause_reason,
    rates: {
      delivered: ratio(status.delivered + status.read, accepted),
      read: ratio(status.read, accepted),
      failed: ratio(status.failed, accepted),
    },
  };
}
