import type { Db } from '../db/executor.ts';

/**
 * The messaging-tier budget of a channel: unique people per rolling 24 hours (WA_MESSAGING_TIER). The
 * sender reserves one unit before each message to a person not already counted (tier_reserve, migration
 * 0009); when none is left the campaign's rows wait in the queue until the oldest person leaves the
 * window, and sending carries on by itself.
 */
export interface TierStatus {
  limit: number | null;
  used: number;
  remaining: number | null;
  /** When the next unit frees up (the oldest opening + 24 h), while the budget is used up. */
  frees_at: string | null;
}

export async function tierStatus(db: Db, channel: string, limit: number | null): Promise<TierStatus> {
  if (limit === null) return { limit: null, used: 0, remaining: null, frees_at: null };
  const r = (await db.q<{ used: number; frees_at: Date | null }>('tier_usage', [channel])).rows[0]!;
  const remaining = Math.max(0, limit - r.used);
  return { limit, used: r.used, remaining, frees_at: remaining === 0 && r.frees_at ? r.frees_at.toISOString() : null };
}

/** Reserve one unit for a message to `phone`: null when it may go, else when the budget frees up. */
export async function reserveTier(db: Db, channel: string, phone: string, limit: number): Promise<Date | null> {
  return (await db.q<{ blocked_until: Date | null }>('tier_reserve', [channel, phone, limit])).rows[0]!.blocked_until;
}

/**
 * Before a campaign starts: a warning when its recipients still to send (who are not already counted in
 * the window) exceed what is left of the budget. Sending then stops at the budget and carries on as it
 * frees up; the warning says so, it does not refuse.
 */
export async function tierWarning(db: Db, campaignId: string, channel: string, limit: number | null): Promise<string | null> {
  if (limit === null) return null;
  const status = await tierStatus(db, channel, limit);
  const need = (await db.q<{ need: number }>('tier_campaign_need', [campaignId, channel])).rows[0]!.need;
  if (need <= status.remaining!) return null;
  return `channel ${channel}: this campaign needs ${need} more people in the rolling 24 h but the messaging tier (${limit}) has ${status.remaining} left; sending stops at the budget and carries on as it frees up`;
}
