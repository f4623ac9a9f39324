import type { CallbackStatus, InboundEvent, ParsedWebhook, StatusEvent } from './types.ts';

/**
 * Webhook bodies → events. Pure and defensive: whatever arrives, the only thing that escapes is a
 * WebhookShapeError, which the HTTP layer answers with 400 and stores nothing. Anything that is a real
 * WhatsApp webhook but not about our messages (template reviews, account updates, `deleted` or `warning`
 * statuses) is accepted and yields no events, because a 400 makes the provider retry it for a day.
 */

export class WebhookShapeError extends Error {
  override name = 'WebhookShapeError';
}

type Obj = Record<string, unknown>;

/** How deep a webhook body may nest (objects and arrays). */
export const MAX_DEPTH = 64;

/** Whether objects and arrays nest deeper than `max` levels; iterative, so any depth is safe to check. */
function deeperThan(root: unknown, max: number): boolean {
  const stack: Array<[object, number]> = [[root as object, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(message: string): never {
  throw new WebhookShapeError(message);
}

const STATUSES: ReadonlySet<string> = new Set<CallbackStatus>(['accepted', 'sent', 'delivered', 'read', 'failed']);
// Real WhatsApp statuses that do not change delivery state: `deleted` (On-Premise: the person deleted
// the message) and `warning` (Cloud: catalog item issues).
const IGNORED_STATUSES: ReadonlySet<string> = new Set(['deleted', 'warning']);

/**
 * Parses the Cloud API envelope (cloud, 360dialog, BSPs: `{object, entry[].changes[].value}`) and the
 * legacy On-Premise flat shape (`{statuses, messages, errors}` at the top level). `provider` labels the
 * events; by default 'cloud' for the envelope and '360dialog-onprem' for the flat shape.
 */
export function parseWhatsAppWebhook(body: unknown, provider?: string): ParsedWebhook {
  if (!isObj(body)) fail('the body is not a JSON object');
  // Real webhooks nest about ten levels deep. Much deeper JSON cannot be stored as it is (JSON.stringify
  // runs out of stack, PostgreSQL's jsonb refuses it): it is no webhook, refused before anything is read.
  if (deeperThan(body, MAX_DEPTH)) fail(`nested deeper than ${MAX_DEPTH} levels`);
  const out: ParsedWebhook = { statuses: [], inbound: [], errors: [] };

  if ('entry' in body) {
    const entries = body.entry;
    if (!Array.isArray(entries)) fail('`entry` is not an array');
    if (body.object !== undefined && body.object !== 'whatsapp_business_account') {
      fail(`not a WhatsApp webhook (object: ${describe(body.object)})`);
    }
    const label = provider ?? 'cloud';
    entries.forEach((entry, e) => {
      if (!isObj(entry)) fail(`entry[${e}] is not an object`);
      const changes = entry.changes;
      if (!Array.isArray(changes)) fail(`entry[${e}].changes is not an array`);
      changes.forEach((change, c) => {
        const where = `entry[${e}].changes[${c}]`;
        if (!isObj(change)) fail(`${where} is not an object`);
        // Other fields (message_template_status_update, account_update…) are valid but not ours.
        if (change.field !== undefined && change.field !== 'messages') return;
        if (!isObj(change.value)) fail(`${where}.value is not an object`);
        readValue(change.value, `${where}.value`, label, out);
      });
    });
    return out;
  }

  // On-Premise also posts system errors on their own (`{errors: [...]}`); an empty list alone is not a
  // webhook of any kind.
  const errorsOnly = Array.isArray(body.errors) && body.errors.length > 0;
  if ('statuses' in body || 'messages' in body || errorsOnly) {
    readValue(body, 'body', provider ?? '360dialog-onprem', out);
    return out;
  }

  fail('no entry, statuses or messages');
}

/** One `value` object (or the On-Premise body): its statuses, inbound messages and system errors. */
function readValue(value: Obj, where: string, provider: string, out: ParsedWebhook): void {
  for (const [i, s] of arrayField(value, 'statuses', where).entries()) {
    const event = readStatus(s, `${where}.statuses[${i}]`, provider);
    if (event) out.statuses.push(event);
  }
  for (const [i, m] of arrayField(value, 'messages', where).entries()) {
    out.inbound.push(readInbound(m, `${where}.messages[${i}]`));
  }
  for (const err of arrayField(value, 'errors', where)) out.errors.push(err);
}

function arrayField(o: Obj, key: string, where: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(`${where}.${key} is not an array`);
  return v;
}

function readStatus(s: unknown, where: string, provider: string): StatusEvent | null {
  if (!isObj(s)) fail(`${where} is not an object`);
  const id = s.id;
  if (typeof id !== 'string' || id === '') fail(`${where} has no message id`);
  if (typeof s.status !== 'string') fail(`${where} has no status`);
  const status = s.status.toLowerCase();
  if (IGNORED_STATUSES.has(status)) return null;
  if (!STATUSES.has(status)) fail(`${where} has an unknown status ${describe(s.status)}`);

  let errorCode: string | null = null;
  let errorTitle: string | null = null;
  if (Array.isArray(s.errors) && isObj(s.errors[0])) {
    const first = s.errors[0];
    errorCode = scalar(first.code);
    errorTitle = scalar(first.title) ?? scalar(first.message);
  }

  return {
    provider,
    messageId: id,
    status: status as CallbackStatus,
    occurredAt: unixSeconds(s.timestamp),
    recipientId: scalar(s.recipient_id),
    errorCode,
    errorTitle,
    raw: s,
  };
}

function readInbound(m: unknown, where: string): InboundEvent {
  if (!isObj(m)) fail(`${where} is not an object`);
  const from = scalar(m.from);
  const id = scalar(m.id);
  if (from === null || from === '') fail(`${where} has no sender (from)`);
  if (id === null || id === '') fail(`${where} has no message id`);
  return { from, messageId: id, occurredAt: unixSeconds(m.timestamp), raw: m };
}

/** A string or finite number as a string; anything else is null. */
function scalar(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** Unix seconds (string or number) → Date; null when absent or not a plausible time. */
function unixSeconds(v: unknown): Date | null {
  const text = scalar(v);
  if (text === null || !/^\d{1,12}$/.test(text.trim())) return null;
  return new Date(Number(text.trim()) * 1000);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  if (v === null) return 'null';
  return typeof v;
}

// ─── Verihubs ────────────────────────────────────────────────────────────────────────────────────────

/**
 * What a Verihubs callback asks for. `apply`: store `event` as a status. `suppress`: store it (failed)
 * and add the number to the opt-out list. `retry`: the message never reached WhatsApp, send again
 * (after backoff for 8). `pause`: the account hit its tier limit. `ignore`: 5 (OTP unverified) says
 * nothing about delivery; the recipient keeps its furthest state, and `event` is null. Retry, suppress and
 * pause are stored as a failed status with the code `verihubs_N`: durable like any status, and reconcile
 * carries out what the code asks for (src/reconcile/follow-up.ts) in the transaction that applies it.
 */
export interface VerihubsCallback {
  event: StatusEvent | null;
  action: 'apply' | 'ignore' | 'retry' | 'suppress' | 'pause';
  /** The session_id: Verihubs' message id. */
  messageId: string;
  /** The numeric status and Verihubs' name for it, for logs and pause reasons. */
  code: number;
  name: string;
}

const VERIHUBS: ReadonlyArray<{ name: string; status: CallbackStatus | null; action: VerihubsCallback['action'] }> = [
  { name: 'Requested', status: 'accepted', action: 'apply' },
  { name: 'Sent', status: 'sent', action: 'apply' },
  { name: 'Delivered', status: 'delivered', action: 'apply' },
  { name: 'Read', status: 'read', action: 'apply' },
  { name: 'Verified', status: 'read', action: 'apply' },
  { name: 'Unverified', status: null, action: 'ignore' },
  { name: 'Failed', status: 'failed', action: 'apply' },
  { name: 'Request Error', status: 'failed', action: 'retry' },
  { name: 'Rejected', status: 'failed', action: 'retry' },
  { name: 'Blocked by Verihubs', status: 'failed', action: 'suppress' },
  { name: 'Tier Limit Exceeded', status: 'failed', action: 'pause' },
  { name: 'Invalid Data', status: 'failed', action: 'apply' },
];

/** `?session_id=<id>&status=<0..11>`, from the query string or a form body. */
export function parseVerihubsCallback(query: URLSearchParams | Record<string, string>): VerihubsCallback {
  const get = (k: string): unknown => (query instanceof URLSearchParams ? query.get(k) : isObj(query) ? query[k] : undefined);
  const sessionId = get('session_id');
  const statusText = get('status');
  if (typeof sessionId !== 'string' || sessionId.trim() === '') fail('missing session_id');
  if (typeof statusText !== 'string' || !/^\d{1,2}$/.test(statusText.trim())) fail('missing or non-numeric status');
  const code = Number(statusText.trim());
  const row = VERIHUBS[code];
  if (!row) fail(`unknown Verihubs status ${code}`);

  const messageId = sessionId.trim();
  const failed = row.status === 'failed';
  const msisdn = get('msisdn');
  const event: StatusEvent | null =
    row.status === null
      ? null
      : {
          provider: 'verihubs',
          messageId,
          status: row.status,
          occurredAt: null,
          recipientId: typeof msisdn === 'string' && msisdn !== '' ? msisdn : null,
          // Prefixed so a Verihubs status number is never read as a Meta error code in reports.
          errorCode: failed ? `verihubs_${code}` : null,
          errorTitle: failed ? row.name : null,
          raw: query instanceof URLSearchParams ? Object.fromEntries(query) : { ...query },
        };
  return { event, action: row.action, messageId, code, name: row.name };
}
