import { UsageError } from '../errors.ts';
import type { SendOutcome } from '../providers/types.ts';
import { classifyOutcome } from './classify.ts';

/**
 * How a failed request is written down (recipients.error_code, send_attempts.error_code/http_status), and
 * what such a record means when `campaign retry` reads it back. Both directions live here so they cannot
 * drift apart, and the meaning is asked of classifyOutcome itself rather than of a second list of codes:
 * a stored failure is retryable exactly when the classifier would have retried the answer it came from.
 */

/** The error fields of one answer, as record.ts stores them. */
export interface StoredError {
  http: number | null;
  code: string | null;
  title: string | null;
}

/** A request that never left (refused connection, DNS, reset before the body): safe to send again. */
export const NETWORK_CODE = 'network';
/** Written by recipient_settle_ambiguous: the request may or may not have reached WhatsApp. */
export const AMBIGUOUS_CODE = 'ambiguous';
/** An HTTP error without a provider code (a bare 408, a proxy's 502): the status is the code. */
const HTTP_CODE = /^http_(\d{3})$/;

export function storedError(o: SendOutcome): StoredError {
  if (o.kind === 'error') return { http: o.httpStatus, code: o.code ?? (o.httpStatus ? `http_${o.httpStatus}` : null), title: o.title };
  if (o.kind === 'network') return { http: null, code: NETWORK_CODE, title: o.message };
  return { http: o.httpStatus, code: null, title: null };
}

/**
 * The answer a stored failure came from, as far as the classifier looks at it (it never reads the title).
 * `http` is the last request's status. Without it, a code whose meaning depends on the status (an unknown
 * Meta code, a Verihubs code) is judged with status 0, which the classifier fails: in doubt, do not resend.
 */
function outcomeOf(code: string, http: number | null): SendOutcome {
  // Only a network failure before the body left ends `failed` as `network`: one after it is ambiguous,
  // and the settle window rewrites its code to `ambiguous`.
  if (code === NETWORK_CODE) return { kind: 'network', phase: 'before_write', message: '' };
  const m = HTTP_CODE.exec(code);
  if (m) return { kind: 'error', httpStatus: Number(m[1]), code: null, title: null };
  return { kind: 'error', httpStatus: http ?? 0, code, title: null };
}

/**
 * What a failure's cause allows `campaign retry` to do:
 * - `retryable`: the classifier retries this cause (transient, throughput, 5xx, 408, network before the
 *   body), so the recipient failed only because its attempts ran out;
 * - `ambiguous`: the message may have gone out; resent only with `--ambiguous`;
 * - `final`: the cause fails (or pauses) for good; resent only when named with `--codes`.
 */
export type StoredCause = 'retryable' | 'ambiguous' | 'final';

export function storedCause(code: string | null, http: number | null = null): StoredCause {
  if (code === AMBIGUOUS_CODE) return 'ambiguous';
  // No code: a failure nothing was recorded about, nothing to judge it by.
  if (code === null) return 'final';
  const action = classifyOutcome(outcomeOf(code, http)).action;
  if (action === 'retry' || action === 'delay_recipient') return 'retryable';
  if (action === 'ambiguous') return 'ambiguous';
  return 'final';
}

/** One (code, status) pair of the failed recipients of a campaign, as recipient_failed_causes lists them. */
export interface FailedCause {
  code: string | null;
  http: number | null;
  n: number;
}

/** Which failures `retry` puts back in the queue: the given codes, or the retryable causes; plus ambiguous. */
export function pickCauses(causes: FailedCause[], opts: { codes: string[] | null; ambiguous: boolean }): FailedCause[] {
  const named = opts.codes ? new Set(opts.codes) : null;
  return causes.filter((c) => {
    const cause = storedCause(c.code, c.http);
    if (opts.ambiguous && cause === 'ambiguous') return true;
    if (cause === 'ambiguous') return false;
    return named ? c.code !== null && named.has(c.code) : cause === 'retryable';
  });
}

/** The spellings a stored code can have: what `--codes` accepts. */
const CODE_SPELLINGS: Array<[RegExp, string]> = [
  [/^\d{1,9}$/, 'a provider error code (131000)'],
  [/^http_[1-5]\d\d$/, 'an HTTP status without a code (http_503)'],
  [/^network$/, 'network'],
  [/^ambiguous$/, 'ambiguous'],
  [/^verihubs_[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a Verihubs code (verihubs_http_500)'],
];

/**
 * `--codes C1,C2` (the flag may also be repeated): the codes exactly as the report's `failures` lists them.
 * A value that no failure could be stored as is a usage error, so a typo never silently requeues nothing.
 */
export function parseRetryCodes(value: string | string[] | undefined, ambiguous: boolean): string[] | null {
  if (value === undefined) return null;
  const codes = [value].flat().flatMap((v) => v.split(',')).map((c) => c.trim()).filter((c) => c !== '');
  if (codes.length === 0) throw new UsageError('--codes: name at least one error code, as the report lists them, e.g. --codes 131000,http_503');
  for (const c of codes) {
    if (!CODE_SPELLINGS.some(([re]) => re.test(c))) {
      throw new UsageError(`--codes ${c}: not an error code; expected ${CODE_SPELLINGS.map(([, what]) => what).join(', ')}, as the report's failures list them`);
    }
    if (c === AMBIGUOUS_CODE && !ambiguous) {
      throw new UsageError('--codes ambiguous: use --ambiguous instead (it also resends recipients still waiting for their settle window)');
    }
  }
  return [...new Set(codes)];
}
