import type { SendOutcome } from '../providers/types.ts';

/**
 * What the sender does with one request's outcome. Pure: the policy lives here, in one table, so it can
 * be read against spec/whatsapp.md ("Error codes and what to do") and tested code by code.
 */
export type SendAction =
  | { action: 'accepted' }
  /** Send again after at least `minDelayMs`; `slowChannel`: the whole channel is over its throughput. */
  | { action: 'retry'; minDelayMs: number; slowChannel?: boolean }
  /** Only this recipient must wait (pair rate limit); the campaign carries on. */
  | { action: 'delay_recipient'; minDelayMs: number }
  /** The recipient fails for good; `suppress`: also add the number to the opt-out list. */
  | { action: 'fail'; suppress?: boolean }
  /** Stop the campaign: carrying on would fail every message or risk the account. */
  | { action: 'pause'; reason: string }
  /** The request may or may not have gone out; resending could message the person twice. */
  | { action: 'ambiguous' };

/** Floors for the delay before a retry; the caller adds exponential backoff on top (see backoffMs). */
export const TRANSIENT_MIN_DELAY_MS = 1_000;
export const THROUGHPUT_MIN_DELAY_MS = 2_000;
/** App (4) and account (80007) limits are counted over an hour: hammering them only extends the block. */
export const ACCOUNT_LIMIT_MIN_DELAY_MS = 60_000;
/** About one message every 6 s is allowed from a sender to the same person. */
export const PAIR_RATE_MIN_DELAY_MS = 6_000;

type Rule =
  | { action: 'retry'; minDelayMs: number; slowChannel?: boolean }
  | { action: 'delay_recipient'; minDelayMs: number }
  | { action: 'fail'; suppress?: boolean }
  | { action: 'pause' };

const transient: Rule = { action: 'retry', minDelayMs: TRANSIENT_MIN_DELAY_MS };
const throughput: Rule = { action: 'retry', minDelayMs: THROUGHPUT_MIN_DELAY_MS, slowChannel: true };
// Slowing the channel down too: these limits are about request volume, like 130429.
const accountLimit: Rule = { action: 'retry', minDelayMs: ACCOUNT_LIMIT_MIN_DELAY_MS, slowChannel: true };
const fail: Rule = { action: 'fail' };
const pause: Rule = { action: 'pause' };

/** Meta error codes (`error.code`), which take precedence over the HTTP status. */
const BY_CODE = new Map<number, Rule>([
  // Timed out / transient.
  [408, transient],
  [1, transient],
  [2, transient],
  [131000, transient],
  [131016, transient],
  [133004, transient],
  // Throughput and rate limits.
  [130429, throughput],
  [4, accountLimit],
  [80007, accountLimit],
  [131056, { action: 'delay_recipient', minDelayMs: PAIR_RATE_MIN_DELAY_MS }],
  // The recipient cannot receive it.
  [131026, fail],
  [131050, { action: 'fail', suppress: true }],
  [470, fail],
  [131047, fail],
  // Held back by Meta; a retry makes sense only after 24 hours, which is not this campaign's business.
  [131049, fail],
  // Template or parameter problems specific to this message.
  [132000, fail],
  [132005, fail],
  [132007, fail],
  [132012, fail],
  [132018, fail],
  // Request validation: invalid parameter, required parameter missing, parameter value invalid,
  // recipient is the sender, unsupported message type, media download error.
  [100, fail],
  [131008, fail],
  [131009, fail],
  [131021, fail],
  [131051, fail],
  [131053, fail],
  // Problems every further message would hit: spam limit, template missing/paused/disabled, auth,
  // permission, policy, payment, unregistered number.
  [131048, pause],
  [132001, pause],
  [132015, pause],
  [132016, pause],
  [0, pause],
  [190, pause],
  [10, pause],
  [368, pause],
  [131005, pause],
  [131031, pause],
  [131037, pause],
  [131042, pause],
  [131045, pause],
  [133010, pause],
]);

function ruleForCode(code: number): Rule | undefined {
  // 200–299: the Graph API's permission errors.
  if (code >= 200 && code <= 299) return pause;
  return BY_CODE.get(code);
}

/** Used when the provider gave no code we know: HTTP status alone (Verihubs answers only with these). */
function ruleForHttp(status: number): Rule | 'ambiguous' {
  if (status === 408) return transient;
  if (status === 429) return throughput;
  if (status === 401 || status === 403) return pause;
  if (status >= 500) return transient;
  if (status >= 400) return fail;
  // A 2xx without a usable message id (the adapter could not read the answer): the message may well
  // have been sent, so resending is not safe.
  if (status >= 200 && status < 300) return 'ambiguous';
  return fail;
}

/**
 * Verihubs answers with HTTP statuses only; its adapter writes them (and any code of its own) as
 * `verihubs_…` codes, which is how its statuses are told apart from other providers' here. A rule only
 * where Verihubs gives a status a meaning of its own (429, 401 and 403 already retry or pause by status;
 * pauseReason words 401 and 403 for Verihubs).
 */
const VERIHUBS_CODE = /^verihubs_/;
function ruleForVerihubs(status: number): Rule | undefined {
  // 409: the msisdn is blocked; sending to it again can never work.
  if (status === 409) return { action: 'fail', suppress: true };
  return undefined;
}

export function classifyOutcome(o: SendOutcome): SendAction {
  if (o.kind === 'accepted') return { action: 'accepted' };
  if (o.kind === 'network') {
    // Before the body was written nothing can have been sent; after, the message may be out there.
    return o.phase === 'before_write' ? { action: 'retry', minDelayMs: TRANSIENT_MIN_DELAY_MS } : { action: 'ambiguous' };
  }

  const code = o.code !== null && /^\d+$/.test(o.code.trim()) ? Number(o.code.trim()) : null;
  const byCode = code !== null ? ruleForCode(code) : undefined;
  const verihubs = o.code !== null && VERIHUBS_CODE.test(o.code);
  const rule = byCode ?? (verihubs ? ruleForVerihubs(o.httpStatus) : undefined) ?? ruleForHttp(o.httpStatus);
  if (rule === 'ambiguous') return { action: 'ambiguous' };
  switch (rule.action) {
    case 'pause':
      return { action: 'pause', reason: pauseReason(o, byCode !== undefined) };
    case 'retry':
    case 'delay_recipient':
    case 'fail':
      return { ...rule };
  }
}

function pauseReason(o: Extract<SendOutcome, { kind: 'error' }>, byCode: boolean): string {
  const title = o.title ? `: ${o.title}` : '';
  if (o.code !== null && VERIHUBS_CODE.test(o.code)) {
    if (o.httpStatus === 403) return `Verihubs quota exhausted (HTTP 403, ${o.code})${title}`;
    if (o.httpStatus === 401) return `Verihubs refused the App-ID/API-Key, check WA_APP_ID and WA_API_KEY (HTTP 401, ${o.code})${title}`;
  }
  if (byCode) return `provider error ${o.code?.trim()}${title} (HTTP ${o.httpStatus})`;
  const code = o.code ? `, error ${o.code}` : '';
  return `provider answered HTTP ${o.httpStatus}${code}${title}`;
}

/**
 * Exponential backoff with full jitter (AWS architecture blog): a uniform random delay in
 * [0, min(capMs, baseMs · 2^attempt)). Spreading retries over the whole window keeps many recipients
 * that failed together from retrying together. `attempt` is the number of retries already made (0 for
 * the first); `random` returns [0, 1) (Math.random in production, a fixed value in tests).
 * Callers take max(minDelayMs, backoffMs(…)).
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2^n overflows to Infinity for large n, which Math.min then caps.
  const ceiling = Math.min(Math.max(0, capMs), Math.max(0, baseMs) * 2 ** n);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * ceiling);
}
