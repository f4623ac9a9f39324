import type { Db } from '../db/executor.ts';
import type { ParsedWebhook, StatusEvent } from './types.ts';

/**
 * Store a webhook's events durably: the statuses in one statement (status_events + the reconcile queue),
 * the inbound windows in another; both in one transaction when there are both, otherwise the one
 * statement on its own (atomic by itself, and one round trip instead of three). The HTTP answer (200) is
 * sent only after this resolves, so a provider that got 200 never loses an event.
 */
export async function storeEvents(db: Db, statuses: StatusEvent[], inbound: ParsedWebhook['inbound'] = []): Promise<void> {
  if (statuses.length > 0 && inbound.length > 0) {
    await db.tx(async (tx) => {
      await storeStatuses(tx, statuses);
      await storeInbound(tx, inbound);
    });
  } else if (statuses.length > 0) {
    await storeStatuses(db, statuses);
  } else if (inbound.length > 0) {
    await storeInbound(db, inbound);
  }
}

async function storeStatuses(db: Db, statuses: StatusEvent[]): Promise<void> {
  await db.q('status_events_insert', [
    statuses.map((s) => pgText(s.provider)),
    statuses.map((s) => pgText(s.messageId)),
    statuses.map((s) => s.status),
    statuses.map((s) => pgTime(s.occurredAt)),
    statuses.map((s) => pgTextOrNull(s.recipientId)),
    statuses.map((s) => pgTextOrNull(s.errorCode)),
    statuses.map((s) => pgTextOrNull(s.errorTitle)),
    statuses.map((s) => pgJson(s.raw)),
  ]);
}

/** Year 10000, the first that toISOString writes as `+010000-…` (which PostgreSQL reads as a zone offset). */
const YEAR_10000 = Date.UTC(10_000, 0, 1);

/**
 * ISO text rather than a Date where it can: pg formats each Date in local time, several times slower,
 * and a webhook of ten statuses carries ten. Past year 9999 the Date is left to pg's own format.
 */
function pgTime(d: Date | null): string | Date | null {
  if (d === null) return null;
  const ms = d.getTime();
  return ms >= 0 && ms < YEAR_10000 ? d.toISOString() : d;
}

async function storeInbound(db: Db, inbound: ParsedWebhook['inbound']): Promise<void> {
  // One row per number: ON CONFLICT cannot touch the same row twice in one statement.
  const latest = new Map<string, Date>();
  for (const m of inbound) {
    const at = m.occurredAt ?? new Date();
    const from = pgText(m.from);
    const prev = latest.get(from);
    if (!prev || at > prev) latest.set(from, at);
  }
  await db.q('inbound_windows_touch', [[...latest.keys()], [...latest.values()]]);
}

// PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses a lone UTF-16 surrogate (`"\ud800"`,
// which JSON.parse accepts). Either would fail the whole insert, a 500 that the provider retries for a
// day, for a body that is otherwise a webhook. So both become U+FFFD, the replacement character: what
// was received stays recognisable, and everything else in the webhook is stored.

/** `s` with U+0000 and lone surrogates replaced by U+FFFD (the string itself when it has neither). */
export function pgText(s: string): string {
  if (!s.includes('\u0000') && s.isWellFormed()) return s;
  return s.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

function pgTextOrNull(s: string | null): string | null {
  return s === null ? null : pgText(s);
}

// In JSON.stringify's output U+0000 is always `\u0000` and a lone surrogate always `\udXXX` (ES2019
// well-formed stringify); paired surrogates are written as they are. So a string without these escapes
// needs no cleaning (a match can also be an escaped backslash followed by "u0000": cleaning is then a no-op).
const SUSPECT = /\\u(?:0000|d[89a-f])/i;

/** `raw` as JSON text that jsonb accepts: values and keys cleaned with pgText when needed. */
export function pgJson(raw: unknown): string {
  const text = JSON.stringify(raw ?? null);
  if (!SUSPECT.test(text)) return text;
  return JSON.stringify(raw ?? null, (_key, value: unknown) => {
    if (typeof value === 'string') return pgText(value);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [pgText(k), v]));
    }
    return value;
  });
}
