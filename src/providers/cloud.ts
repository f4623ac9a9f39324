/**
 * Meta's WhatsApp Cloud API adapter: `POST {baseUrl}/{phoneNumberId}/messages` with a bearer token.
 *
 * `cloudOutcome` (the answer → SendOutcome mapping) is exported on its own because 360dialog (Cloud API
 * hosting), Cloud-compatible BSPs and the sandbox answer in the same format.
 */
import { buildCloudMessage } from '../templates/payload.ts';
import { createHttpClient } from './http.ts';
import type { ProviderClient, SendOutcome, SendRequest } from './types.ts';

export interface CloudClientOptions {
  /** e.g. `https://graph.facebook.com/v23.0` (the version is part of the base URL). */
  baseUrl: string;
  phoneNumberId: string;
  accessToken: string;
  timeoutMs?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** Cut a provider-supplied text down to something that fits a log line or a report cell. */
function clip(s: string, max = 500): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * Map one HTTP answer in the Cloud API format to a SendOutcome. Meta asks clients to decide on
 * `error.code`, not on the HTTP status, so the status only stands in when there is no usable error body
 * (e.g. a bare 408 or a proxy's HTML 502): then `code` is null and the classifier falls back to it.
 */
export function cloudOutcome(httpStatus: number, bodyText: string): SendOutcome {
  let body: unknown = undefined;
  try {
    body = bodyText.length > 0 ? JSON.parse(bodyText) : undefined;
  } catch {
    // Not JSON: handled below as an unexpected answer.
  }

  if (isRecord(body) && isRecord(body.error)) {
    const err = body.error;
    const rawCode = err.code;
    const code = typeof rawCode === 'number' || (typeof rawCode === 'string' && rawCode !== '') ? String(rawCode) : null;
    const data = isRecord(err.error_data) ? err.error_data : undefined;
    const details = data && typeof data.details === 'string' ? data.details : undefined;
    return {
      kind: 'error',
      httpStatus,
      code,
      title: stringOrNull(err.message) ?? stringOrNull(err.error_user_title) ?? stringOrNull(err.title),
      details,
    };
  }

  if (httpStatus >= 200 && httpStatus < 300 && isRecord(body) && Array.isArray(body.messages)) {
    const first: unknown = body.messages[0];
    const id = isRecord(first) ? stringOrNull(first.id) : null;
    if (id) return { kind: 'accepted', messageId: id, httpStatus };
  }

  return {
    kind: 'error',
    httpStatus,
    code: null,
    title: httpStatus >= 200 && httpStatus < 300 ? 'unexpected response without a message id' : null,
    details: bodyText.length > 0 ? clip(bodyText) : undefined,
  };
}

/** Remove every occurrence of `secret` (a provider could echo it back in an error message). */
export function redact(outcome: SendOutcome, secret: string): SendOutcome {
  if (secret.length === 0) return outcome;
  const scrub = (s: string): string => s.split(secret).join('[redacted]');
  if (outcome.kind === 'error') {
    return {
      ...outcome,
      title: outcome.title === null ? null : scrub(outcome.title),
      details: outcome.details === undefined ? undefined : scrub(outcome.details),
    };
  }
  if (outcome.kind === 'network') return { ...outcome, message: scrub(outcome.message) };
  return outcome;
}

/**
 * A client for any endpoint that takes the Cloud API body and answers like the Cloud API (Meta, 360dialog,
 * Cloud-compatible BSPs): only the provider name, the URL and the auth headers differ. Every secret is
 * scrubbed from every outcome, longest first (if one secret contained another, scrubbing the shorter first
 * would leave the rest of the longer one in the text).
 */
export function createCloudShapedClient(opts: {
  provider: string;
  url: string;
  headers: Record<string, string>;
  secrets: string[];
  timeoutMs?: number | undefined;
}): ProviderClient {
  const http = createHttpClient({ timeoutMs: opts.timeoutMs });
  const secrets = [...new Set(opts.secrets)].sort((a, b) => b.length - a.length);
  const scrub = (o: SendOutcome): SendOutcome => secrets.reduce(redact, o);
  return {
    provider: opts.provider,
    async send(req: SendRequest, signal?: AbortSignal): Promise<SendOutcome> {
      const result = await http.postJson(opts.url, buildCloudMessage(req), { headers: opts.headers, signal, ...(req.onWritten ? { onWritten: req.onWritten } : {}) });
      if (!result.ok) return scrub({ kind: 'network', phase: result.phase, message: result.message });
      return scrub(cloudOutcome(result.status, result.body));
    },
    async close() {
      http.close();
    },
  };
}

export function createCloudClient(opts: CloudClientOptions): ProviderClient {
  return createCloudShapedClient({
    provider: 'cloud',
    url: `${opts.baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(opts.phoneNumberId)}/messages`,
    headers: { authorization: `Bearer ${opts.accessToken}` },
    secrets: [opts.accessToken],
    timeoutMs: opts.timeoutMs,
  });
}
