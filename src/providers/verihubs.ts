/**
 * Verihubs WhatsApp V2 adapter: `POST {baseUrl}/v2/whatsapp/message/send` with `App-ID` and `API-Key`.
 *
 * Verihubs has its own body (flat parameter lists instead of Cloud components) and answers with HTTP
 * statuses: 201 with the message id, or 400 validation, 401 auth, 403 quota, 409 blocked msisdn, 429 too
 * many requests. Which field holds the id is unconfirmed (spec/whatsapp.md), so several are read.
 *
 * Error codes are always namespaced `verihubs_…`: the classifier reads a bare number as a Meta error code
 * (Verihubs' `4` or `10` would become Meta's rate limit or permission error), and it recognises the
 * prefix to apply the Verihubs meaning of an HTTP status (409 = blocked msisdn, 403 = quota).
 */
import { createHttpClient } from './http.ts';
import { redact } from './cloud.ts';
import type { TemplateDef, TemplateParams } from '../templates/types.ts';
import type { ProviderClient, SendOutcome, SendRequest } from './types.ts';

export interface VerihubsClientOptions {
  /** e.g. `https://api.verihubs.com`. */
  baseUrl: string;
  appId: string;
  apiKey: string;
  /** PUBLIC_URL: where Verihubs reaches this service; the callback path is appended here. */
  publicUrl: string;
  timeoutMs?: number;
}

export interface VerihubsMessage {
  msisdn: string;
  template_name: string;
  lang_code: string;
  content: {
    body_params: string[];
    header_params: string[];
    button_param?: { url_param: string };
  };
  callback_url: string;
}

export const VERIHUBS_CALLBACK_PATH = '/callbacks/verihubs';
const HEADER_SLOT = 'header.1';
const BUTTON_SLOT = 'button.0';

/** Ingest checked every row against the slots: a missing value is a bug upstream, so fail loudly. */
function value(template: TemplateDef, params: TemplateParams, slot: string): string {
  const v = params[slot];
  if (typeof v !== 'string') throw new Error(`template ${template.name}: no value for parameter slot ${slot}`);
  return v;
}

/** The request body for one template send. `callbackUrl` is the full URL, not PUBLIC_URL. */
export function buildVerihubsMessage(req: SendRequest, callbackUrl: string): VerihubsMessage {
  const { template, params } = req;
  const slotValues = (prefix: string): string[] =>
    template.slots.filter((s) => s.startsWith(prefix)).map((s) => value(template, params, s));
  const content: VerihubsMessage['content'] = {
    // `slots` is in send order (body placeholders by first appearance or number), as Verihubs expects.
    body_params: slotValues('body.'),
    // A text header's placeholder value, or a media header's link.
    header_params: template.slots.includes(HEADER_SLOT) ? [value(template, params, HEADER_SLOT)] : [],
  };
  // Only a URL button with a dynamic suffix has a parameter; a static button needs nothing at send time.
  if (template.urlButton && template.slots.includes(BUTTON_SLOT)) {
    content.button_param = { url_param: value(template, params, BUTTON_SLOT) };
  }
  return {
    msisdn: req.to.replace(/\D/g, ''),
    template_name: template.name,
    lang_code: template.language,
    content,
    callback_url: callbackUrl,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-empty string, or a number as a string (ids and codes may come either way). */
function scalar(v: unknown): string | null {
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function clip(s: string, max = 500): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * The message id from a success body, at the top level or under `data`. `session_id` wins over `id`
 * because the status callbacks identify the message by `session_id`: that is the id they must match.
 */
function messageId(body: unknown): string | null {
  for (const where of [body, isRecord(body) ? body.data : undefined]) {
    if (!isRecord(where)) continue;
    const id = scalar(where.session_id) ?? scalar(where.id);
    if (id) return id;
  }
  return null;
}

/** Map one Verihubs answer to a SendOutcome. */
export function verihubsOutcome(httpStatus: number, bodyText: string): SendOutcome {
  let body: unknown;
  try {
    body = bodyText.length > 0 ? JSON.parse(bodyText) : undefined;
  } catch {
    // Not JSON (a proxy page): the status alone speaks.
  }

  if (httpStatus >= 200 && httpStatus < 300) {
    const id = messageId(body);
    if (id) return { kind: 'accepted', messageId: id, httpStatus };
    // Code null, like the Cloud adapter: the classifier treats a 2xx without an id as ambiguous.
    return {
      kind: 'error',
      httpStatus,
      code: null,
      title: 'unexpected response without a message id',
      details: bodyText.length > 0 ? clip(bodyText) : undefined,
    };
  }

  const err = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const own = isRecord(body) ? (scalar(body.code) ?? scalar(body.error_code) ?? scalar(err?.code)) : null;
  const title = isRecord(body)
    ? (scalar(body.message) ?? scalar(err?.message) ?? (typeof body.error === 'string' ? scalar(body.error) : null))
    : null;
  return {
    kind: 'error',
    httpStatus,
    code: own === null ? `verihubs_http_${httpStatus}` : own.startsWith('verihubs_') ? own : `verihubs_${own}`,
    title,
    details: bodyText.length > 0 ? clip(bodyText) : undefined,
  };
}

export function createVerihubsClient(opts: VerihubsClientOptions): ProviderClient {
  const http = createHttpClient({ timeoutMs: opts.timeoutMs });
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/v2/whatsapp/message/send`;
  const callbackUrl = `${opts.publicUrl.replace(/\/+$/, '')}${VERIHUBS_CALLBACK_PATH}`;
  const headers = { 'App-ID': opts.appId, 'API-Key': opts.apiKey };

  return {
    provider: 'verihubs',
    async send(req: SendRequest, signal?: AbortSignal): Promise<SendOutcome> {
      const result = await http.postJson(url, buildVerihubsMessage(req, callbackUrl), { headers, signal, ...(req.onWritten ? { onWritten: req.onWritten } : {}) });
      // The API key is the secret; the App-ID is an identifier (and scrubbing a short one would garble text).
      if (!result.ok) {
        return redact({ kind: 'network', phase: result.phase, message: result.message }, opts.apiKey);
      }
      return redact(verihubsOutcome(result.status, result.body), opts.apiKey);
    },
    async close() {
      http.close();
    },
  };
}
