import type { Db } from '../db/executor.ts';
import type { SendOutcome } from '../providers/types.ts';
import { backoffMs, type SendAction } from './classify.ts';
import { storedError } from './retryable.ts';

/**
 * Retries a cause allows, counting the first request: 408s and 5xx get four more tries. Counted since the
 * row was last put back in the queue by `campaign retry` (recipients.attempt_base), which gives it a
 * fresh budget while send_attempts keeps numbering its requests on.
 */
export const MAX_ATTEMPTS = 5;
export const RETRY_BASE_MS = 1_000;
export const RETRY_CAP_MS = 60_000;

export interface AttemptRef {
  campaignId: string;
  line: number;
  attempt: number;
  to: string;
  /** When the request left, as the rate limit counted it (epoch ms, sub-ms; null if it never left). */
  writtenAt: number | null;
}

export interface RecordResult {
  /** The campaign was paused by this answer (auth, policy, payment, template problems). */
  paused?: string;
}

/**
 * Requests made since the row's budget last started. Attempt 1 is a recipient's first request ever, so
 * nothing was requeued before it: the common first retry costs no query.
 */
async function attemptsUsed(db: Db, ref: AttemptRef): Promise<number> {
  if (ref.attempt <= 1) return ref.attempt;
  const base = (await db.q<{ attempt_base: number }>('recipient_attempt_base', [ref.campaignId, ref.line])).rows[0]?.attempt_base ?? 0;
  return ref.attempt - base;
}

/**
 * Record what one request's answer means, in one guarded statement (plus the opt-out list or the pause
 * where the cause asks for it). `settleS` is the window an ambiguous request waits for a status webhook.
 */
export async function recordOutcome(
  db: Db,
  ref: AttemptRef,
  outcome: SendOutcome,
  action: SendAction,
  opts: {
    settleS: number;
    random?: () => number;
    channelDown?: boolean;
    /** Where accepted answers go instead of one statement each (the sender's group commit). */
    recordAccepted?: (ref: AttemptRef, messageId: string, httpStatus: number) => Promise<void>;
  },
): Promise<RecordResult> {
  const { campaignId, line, attempt, writtenAt } = ref;
  const e = storedError(outcome);
  switch (action.action) {
    case 'accepted': {
      if (outcome.kind !== 'accepted') throw new Error('accepted action without a message id');
      if (opts.recordAccepted) await opts.recordAccepted(ref, outcome.messageId, outcome.httpStatus);
      else await db.q('attempt_finish_accepted_many', [campaignId, [line], [attempt], [outcome.messageId], [outcome.httpStatus], [writtenAt]]);
      return {};
    }
    case 'retry':
    case 'delay_recipient': {
      const used = await attemptsUsed(db, ref);
      // While the channel's breaker is open a transient failure is the provider's outage: it does not
      // count against the recipient (nothing fails for good while the channel is down).
      const free = action.action === 'retry' && opts.channelDown === true;
      if (used >= MAX_ATTEMPTS && !free) {
        await db.q('attempt_finish_failed', [campaignId, line, attempt, e.http, e.code, e.title, writtenAt]);
        return {};
      }
      const jitter = backoffMs(Math.min(used, MAX_ATTEMPTS) - 1, RETRY_BASE_MS, RETRY_CAP_MS, opts.random ?? Math.random);
      const waitMs = Math.max(jitter, action.minDelayMs);
      const result = action.action === 'retry' ? 'retry' : 'delay';
      await db.q('attempt_finish_wait', [campaignId, line, attempt, result, e.http, e.code, e.title, waitMs / 1000, free, writtenAt]);
      return {};
    }
    case 'ambiguous': {
      await db.q('attempt_finish_wait', [campaignId, line, attempt, 'ambiguous', e.http, e.code, e.title, opts.settleS, false, writtenAt]);
      return {};
    }
    case 'fail': {
      await db.tx(async (tx) => {
        await tx.q('attempt_finish_failed', [campaignId, line, attempt, e.http, e.code, e.title, writtenAt]);
        if (action.suppress) await tx.q('suppression_add_many', [[ref.to], `provider error ${e.code}`, `campaign ${campaignId}`]);
      });
      return {};
    }
    case 'pause': {
      await db.tx(async (tx) => {
        await tx.q('attempt_finish_requeue', [campaignId, line, attempt, e.http, e.code, e.title, writtenAt]);
        await tx.q('campaign_pause', [campaignId, action.reason]);
      });
      return { paused: action.reason };
    }
  }
}
