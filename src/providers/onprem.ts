/**
 * 360dialog's legacy On-Premise API adapter: `POST {baseUrl}/messages` with `D360-API-KEY`.
 *
 * The On-Premise template message predates the Cloud API: no `messaging_product` nor `recipient_type`,
 * and the template names its `namespace` (the WABA's template namespace). The components are the same,
 * so they come from buildCloudTemplate: one place knows how slots become parameters.
 *
 * Answers: success `{"messages":[{"id":"gBEG…"}]}` (the shape cloudOutcome reads), errors
 * `{"errors":[{"code":1006,"title":"Resource not found","details":"…"}]}`. An answer without `errors`
 * goes to cloudOutcome, which reads the success and turns anything else into a code-null error.
 */
import { buildCloudTemplate, type CloudComponent } from '../templates/payload.ts';
import { cloudOutcome, redact } from './cloud.ts';
import { createHttpClient } from './http.ts';
import type { ProviderClient, SendOutcome, SendRequest } from './types.ts';

export interface OnPremClientOptions {
  /** e.g. `https://waba.360dialog.io/v1`. */
  baseUrl: string;
  /** Sent as `D360-API-KEY` (configured as WA_ACCESS_TOKEN). */
  accessToken: string;
  /** WA_TEMPLATE_NAMESPACE. */
  namespace: string;
  timeoutMs?: number;
}

export interface OnPremMessage {
  to: string;
  type: 'template';
  template: {
    namespace: string;
    name: string;
    language: { policy: 'deterministic'; code: string };
    components: CloudComponent[];
  };
}

/** The On-Premise body for one template send; `to` is the E.164 number without '+'. */
export function buildOnPremMessage(req: SendRequest, namespace: string): OnPremMessage {
  const cloud = buildCloudTemplate(req.template, req.params);
  return {
    to: req.to.replace(/\D/g, ''),
    type: 'template',
    template: {
      namespace,
      name: cloud.name,
      // On-Premise requires the policy; 'deterministic' is the only value it has.
      language: { policy: 'deterministic', code: cloud.language.code },
      components: cloud.components,
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Map one On-Premise answer to a SendOutcome. */
export function onPremOutcome(httpStatus: number, bodyText: string): SendOutcome {
  let body: unknown;
  try {
    body = bodyText.length > 0 ? JSON.parse(bodyText) : undefined;
  } catch {
    // Not JSON: cloudOutcome reports it as an unexpected answer.
  }
  const first: unknown = isRecord(body) && Array.isArray(body.errors) ? body.errors[0] : undefined;
  if (isRecord(first)) {
    const raw = first.code;
    const code = typeof raw === 'number' || (typeof raw === 'string' && raw !== '') ? String(raw) : null;
    return { kind: 'error', httpStatus, code, title: text(first.title) ?? null, details: text(first.details) };
  }
  return cloudOutcome(httpStatus, bodyText);
}

export function createOnPremClient(opts: OnPremClientOptions): ProviderClient {
  const http = createHttpClient({ timeoutMs: opts.timeoutMs });
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/messages`;
  const headers = { 'D360-API-KEY': opts.accessToken };

  return {
    provider: '360dialog-onprem',
    async send(req: SendRequest, signal?: AbortSignal): Promise<SendOutcome> {
      const result = await http.postJson(url, buildOnPremMessage(req, opts.namespace), { headers, signal, ...(req.onWritten ? { onWritten: req.onWritten } : {}) });
      if (!result.ok) {
        return redact({ kind: 'network', phase: result.phase, message: result.message }, opts.accessToken);
      }
      return redact(onPremOutcome(result.status, result.body), opts.accessToken);
    },
    async close() {
      http.close();
    },
  };
}
