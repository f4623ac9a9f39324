import type { Db } from '../db/executor.ts';
import type { SendOutcome } from '../providers/types.ts';
import { backoffMs, type SendAction } from './classify.ts';

/** Retries a cause allows, counting the first request: 408s and 5xx get four more tries. */
export const MAX_ATTEMPTS = 5;
export const RETRY_BASE_MS = 1_000;
export const RETRY_CAP_MS = 60_000;

export interface AttemptRef {
  campaignId: string;
  line: number;
  attempt: number;
  to: string;
}

export interface RecordResult {
  /** The campaign was paused by this answer (auth, policy, payment, template problems). */
  paused?: string;
}

function errorFields(o: SendOutcome): { http: number | null; code: string | null; title: string | null } {
  if (o.kind === 'error') return { http: o.httpStatus, code: o.code ?? (o.httpStatus ? `http_${o.httpStatus}` : null), title: o.title };
  if (o.kind === 'network') return { http: null, code: 'network', title: o.message };
  return { http: o.httpStatus, code: null, title: null };
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
  opts: { settleS: number; random?: () => number },
): Promise<RecordResult> {
  const { campaignId, line, attempt } = ref;
  const e = errorFields(outcome);
  switch (action.action) {
    case 'accepted': {
      if (outcome.kind !== 'accepted') throw new Error('accepted action without a message id');
      await db.q('attempt_finish_accepted', [campaignId, line, attempt, outcome.messageId, outcome.httpStatus]);
      return {};
    }
    case 'retry':
    case 'delay_recipient': {
      if (attempt >= MAX_ATTEMPTS) {
        await db.q('attempt_finish_failed', [campaignId, line, attempt, e.http, e.code, e.title]);
        return {};
      }
      const jitter = backoffMs(attempt - 1, RETRY_BASE_MS, RETRY_CAP_MS, opts.random ?? Math.random);
      const waitMs = Math.max(jitter, action.minDelayMs);
      const result = action.action === 'retry' ? 'retry' : 'delay';
      await db.q('attempt_finish_wait', [campaignId, line, attempt, result, e.http, e.code, e.title, waitMs / 1000]);
      return {};
    }
    case 'ambiguous': {
      await db.q('attempt_finish_wait', [campaignId, line, attempt, 'ambiguous', e.http, e.code, e.title, opts.settleS]);
      return {};
    }
    case 'fail': {
      await db.tx(async (tx) => {
        await tx.q('attempt_finish_failed', [campaignId, line, attempt, e.http, e.code, e.title]);
        if (action.suppress) await tx.q('suppression_add_many', [[ref.to], `provider error ${e.code}`, `campaign ${campaignId}`]);
      });
      return {};
    }
    case 'pause': {
      await db.tx(async (tx) => {
        await tx.q('attempt_finish_requeue', [campaignId, line, attempt, e.http, e.code, e.title]);
        await tx.q('campaign_pause', [campaignId, action.reason]);
      });
      return { paused: action.reason };
    }
  }
}
