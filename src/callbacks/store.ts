import type { Db } from '../db/executor.ts';
import type { ParsedWebhook, StatusEvent } from './types.ts';

/**
 * Store a webhook's events durably: the statuses as one status_inbox row (reconcile moves them into
 * status_events and its queue, src/reconcile/reconcile.ts), the inbound windows in another statement;
 * both in one transaction when there are both, otherwise the one statement on its own (atomic by itself,
 * and one round trip instead of three). The HTTP answer (200) is sent only after this resolves, so a
 * provider that got 200 never loses an event.
 */
export async function storeEvents(db: Db, statuses: StatusEvent[], inbound: ParsedWebhook['inbound'] = []): Promise<void> {
  await storeEncoded(db, encodeStatuses(statuses), inbound);
}

/** Statuses encoded for the inbox: how many, and their rows as JSON text without the enclosing brackets. */
export interface EncodedStatuses {
  count: number;
  /** `{…},{…}`: joined with commas and bracketed, the encodings of several webhooks make one flush. */
  rows: string;
}

export function encodeStatuses(statuses: StatusEvent[]): EncodedStatuses {
  return { count: statuses.length, rows: statuses.length === 0 ? '' : statusesJson(statuses).slice(1, -1) };
}

/** storeEvents for statuses already encoded (one webhook's, or a flush's: joinEncoded). */
export async function storeEncoded(db: Db, statuses: EncodedStatuses, inbound: ParsedWebhook['inbound'] = []): Promise<void> {
  if (statuses.count > 0 && inbound.length > 0) {
    await db.tx(async (tx) => {
      await storeStatuses(tx, statuses);
      await storeInbound(tx, inbound);
    });
  } else if (statuses.count > 0) {
    await storeStatuses(db, statuses);
  } else if (inbound.length > 0) {
    await storeInbound(db, inbound);
  }
}

/** Several encodings as one. */
export function joinEncoded(parts: EncodedStatuses[]): EncodedStatuses {
  const withRows = parts.filter((p) => p.count > 0);
  return { count: withRows.reduce((n, p) => n + p.count, 0), rows: withRows.map((p) => p.rows).join(',') };
}

async function storeStatuses(db: Db, statuses: EncodedStatuses): Promise<void> {
  await db.q('status_inbox_insert', [statuses.count, `[${statuses.rows}]`]);
}

/**
 * The statuses as one JSON array of rows (status_inbox_expand reads it with json_to_recordset): one
 * native JSON.stringify, which node-pg sends as it is. The eight array parameters this replaced cost more:
 * node-pg escaped every element (every quote of every raw status became `\"`) and concatenated the array
 * literals, about a fifth of the worker's time under B5 at ten statuses per POST (CPU profile).
 * Every value is one PostgreSQL accepts (pgText, pgTime), so the expansion cannot fail on a stored row.
 */
export function statusesJson(statuses: StatusEvent[]): string {
  const rows = statuses.map((s) => ({
    p: s.provider, m: s.messageId, s: s.status, t: pgTime(s.occurredAt),
    r: s.recipientId, c: s.errorCode, e: s.errorTitle, raw: s.raw ?? null,
  }));
  const text = JSON.stringify(rows);
  return SUSPECT.test(text) ? JSON.stringify(rows, cleanForPg) : text;
}

/** Where toISOString stops writing four-digit years (it writes `+010000-…` and `-000001-…` outside). */
const YEAR_0 = new Date('0000-01-01T00:00:00Z').getTime();
/** PostgreSQL's earliest timestamptz, 4714-11-24 BC (its latest, in 294276, is past any Date). */
const PG_FIRST = Date.UTC(-4713, 10, 24);
const YEAR_10000 = Date.UTC(10_000, 0, 1);

/**
 * A Date as text PostgreSQL reads as the same instant. Past year 9999 (a 12-digit Unix time, which the
 * parser allows) the sign and padding go: PostgreSQL would read `+010000-01-01` as a zone offset, and
 * reads `10000-01-01T00:00:00.000Z`. Before year 0 the year is counted BC (astronomical -1 is 2 BC).
 * No time (null) for an invalid Date or one before PostgreSQL's first day.
 */
export function pgTime(d: Date | null): string | null {
  if (d === null) return null;
  const ms = d.getTime();
  if (Number.isNaN(ms) || ms < PG_FIRST) return null;
  const iso = d.toISOString();
  if (ms >= YEAR_0 && ms < YEAR_10000) return iso;
  if (ms >= YEAR_10000) return iso.replace(/^\+0*/, '');
  const [, year, rest] = /^-(\d+)(-.*)$/.exec(iso)!;
  return `${String(Number(year) + 1).padStart(4, '0')}${rest} BC`;
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

// In JSON.stringify's output U+0000 is always `\u0000` and a lone surrogate always `\udXXX` (ES2019
// well-formed stringify); paired surrogates are written as they are. So a string without these escapes
// needs no cleaning (a match can also be an escaped backslash followed by "u0000": cleaning is then a no-op).
const SUSPECT = /\\u(?:0000|d[89a-f])/i;

/** A JSON.stringify replacer that cleans every string and object key with pgText. */
function cleanForPg(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return pgText(value);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [pgText(k), v]));
  }
  return value;
}
