import type { Db } from '../db/executor.ts';
import type { ParsedWebhook, StatusEvent } from './types.ts';

/**
 * Store a webhook's events durably in one statement (status_events + the reconcile queue), plus the
 * inbound windows. The HTTP answer (200) is sent only after this resolves, so a provider that got 200
 * never loses an event.
 */
export async function storeEvents(db: Db, statuses: StatusEvent[], inbound: ParsedWebhook['inbound'] = []): Promise<void> {
  if (statuses.length > 0) {
    await db.q('status_events_insert', [
      statuses.map((s) => s.provider),
      statuses.map((s) => s.messageId),
      statuses.map((s) => s.status),
      statuses.map((s) => s.occurredAt),
      statuses.map((s) => s.recipientId),
      statuses.map((s) => s.errorCode),
      statuses.map((s) => s.errorTitle),
      statuses.map((s) => JSON.stringify(s.raw ?? null)),
    ]);
  }
  if (inbound.length > 0) {
    // One row per number: ON CONFLICT cannot touch the same row twice in one statement.
    const latest = new Map<string, Date>();
    for (const m of inbound) {
      const at = m.occurredAt ?? new Date();
      const prev = latest.get(m.from);
      if (!prev || at > prev) latest.set(m.from, at);
    }
    await db.q('inbound_windows_touch', [[...latest.keys()], [...latest.values()]]);
  }
}
