/**
 * The built-in `sandbox` provider: a local stand-in for Meta's Cloud API, used by `campaign demo` and by
 * dry runs. It speaks the Cloud API wire format, so the worker talks to it through the ordinary `cloud`
 * adapter (baseUrl = `sandbox.url`), and it answers the way Meta does:
 *
 *  - `POST /[v23.0/]{phoneNumberId}/messages` with any bearer token (a missing one: 401, code 190);
 *  - a malformed body: 400 with code 100 (structure) or 132000 / 132018 (template parameters);
 *  - now and then (`rate408`) HTTP 408 with a Cloud error body, and no message is recorded;
 *  - otherwise `{"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid.…"}]}`, followed by
 *    signed status webhooks after small random delays: sent → delivered → (read, with `readRatio`), or
 *    with `rateFailed` sent → failed (131026 "Message undeliverable").
 *
 * Nothing is sent to WhatsApp. Randomness is injectable so tests are deterministic.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createWebhookDispatcher } from './webhooks.ts';
import type { SandboxLogger, SandboxStatus, StatusWebhookInput, WebhookRetry } from './webhooks.ts';

export type { SandboxLogger, SandboxStatus, WebhookRetry } from './webhooks.ts';
export { signWebhook } from './webhooks.ts';

export interface SandboxOptions {
  /** Where status webhooks go; null: none are posted (set it later with `setWebhookUrl`). */
  webhookUrl: string | null;
  /** Webhooks are signed with it (`X-Hub-Signature-256`), as Meta signs with the app secret. */
  appSecret: string;
  host?: '127.0.0.1';
  /** 0 (the default): a free port. */
  port?: number;
  /** Share of send requests answered with HTTP 408. Default 0.02. */
  rate408?: number;
  /** Share of accepted messages that end `failed` (131026). Default 0.03. */
  rateFailed?: number;
  /** Share of delivered messages that are also read. Default 0.4. */
  readRatio?: number;
  /** [min, max] ms between one status webhook and the next. Default [20, 300]. */
  delayMs?: [number, number];
  /** Webhook retries on a non-2xx answer. Default 5 tries, 250 ms doubling. */
  webhookRetry?: WebhookRetry;
  /** Uniform [0, 1); inject a seeded one for deterministic tests. Default Math.random. */
  random?: () => number;
  logger?: SandboxLogger;
}

export interface SandboxMessage {
  messageId: string;
  /** Digits, as sent in `to`. */
  to: string;
  /** The last status the sandbox decided to report for it. */
  finalStatus: 'delivered' | 'read' | 'failed';
}

export interface Sandbox {
  /** Base URL for the Cloud adapter, e.g. `http://127.0.0.1:41234/v23.0`. */
  readonly url: string;
  readonly phoneNumberId: string;
  /** `to` digits → number of accepted sends. */
  readonly accepted: Map<string, number>;
  /** Every send request received, whatever the answer. */
  readonly requests: number;
  sentMessages(): SandboxMessage[];
  pendingWebhooks(): number;
  /** Webhooks given up on after all retries (the receiver never answered 2xx). */
  failedWebhooks(): number;
  /** Resolves once no webhook is waiting, in flight or in retry. */
  idle(): Promise<void>;
  setWebhookUrl(url: string | null): void;
  /** Stop listening and stop all timers; pending webhooks are dropped. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const SEND_PATH = /^\/(?:[^/]+\/)*([^/]+)\/messages\/?$/;
/** Meta's rule for parameter text (error 132018). */
const BAD_PARAM_TEXT = /[\n\t]| {5,}/;

interface CloudError {
  status: number;
  code: number;
  message: string;
  details?: string;
  type?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: CloudError): void {
  sendJson(res, e.status, {
    error: {
      message: e.message,
      type: e.type ?? 'OAuthException',
      code: e.code,
      error_data: { messaging_product: 'whatsapp', details: e.details ?? e.message },
      fbtrace_id: `sandbox${randomBytes(8).toString('hex')}`,
    },
  });
}

const invalid = (details: string): CloudError => ({ status: 400, code: 100, message: '(#100) Invalid parameter', details });

/** The minimal checks Meta would fail a template send on; null when the body is acceptable. */
export function validateSendBody(body: unknown): CloudError | null {
  if (!isRecord(body)) return invalid('The request body must be a JSON object.');
  if (body.messaging_product !== 'whatsapp') return invalid("messaging_product must be 'whatsapp'.");
  if (typeof body.to !== 'string' || !/^\d{6,15}$/.test(body.to)) {
    return invalid('to must be the phone number in digits, without + (6 to 15 digits).');
  }
  if (body.type !== 'template') return invalid("The sandbox only sends type 'template'.");
  const t = body.template;
  if (!isRecord(t) || typeof t.name !== 'string' || t.name === '') return invalid('template.name is required.');
  if (!isRecord(t.language) || typeof t.language.code !== 'string') return invalid('template.language.code is required.');
  if (t.components === undefined) return null;
  const mismatch = (details: string): CloudError => ({
    status: 400,
    code: 132000,
    message: '(#132000) Number of parameters does not match the expected number of params',
    details,
  });
  if (!Array.isArray(t.components)) return mismatch('template.components must be an array.');
  for (const c of t.components) {
    if (!isRecord(c) || !Array.isArray(c.parameters)) return mismatch('Each component needs a parameters array.');
    for (const p of c.parameters) {
      if (!isRecord(p) || typeof p.type !== 'string') return mismatch('Each parameter needs a type.');
      if (p.type !== 'text') continue;
      if (typeof p.text !== 'string' || p.text === '') return mismatch('A text parameter needs a non-empty text.');
      if (BAD_PARAM_TEXT.test(p.text)) {
        return {
          status: 400,
          code: 132018,
          message: '(#132018) There was an issue with the parameters in your template.',
          details: 'Param text cannot have new-line/tab characters or more than 4 consecutive spaces',
        };
      }
    }
  }
  return null;
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  const random = opts.random ?? Math.random;
  const rate408 = opts.rate408 ?? 0.02;
  const rateFailed = opts.rateFailed ?? 0.03;
  const readRatio = opts.readRatio ?? 0.4;
  const [minDelay, maxDelay] = opts.delayMs ?? [20, 300];
  const phoneNumberId = 'sandbox';
  // A per-instance prefix keeps wamids unique across sandboxes sharing one database (demo re-runs).
  const idPrefix = randomBytes(6).toString('hex');
  let seq = 0;
  let requests = 0;
  const accepted = new Map<string, number>();
  const messages: SandboxMessage[] = [];
  const webhooks = createWebhookDispatcher({
    appSecret: opts.appSecret,
    webhookUrl: opts.webhookUrl,
    retry: opts.webhookRetry ?? { attempts: 5, baseDelayMs: 250 },
    logger: opts.logger,
  });

  const delay = (): number => Math.round(minDelay + random() * (maxDelay - minDelay));

  /** Decide the message's fate now and schedule its status webhooks, each after the previous one. */
  function scheduleStatuses(messageId: string, to: string, pathPhoneId: string): void {
    const failed = random() < rateFailed;
    const read = random() < readRatio;
    const sequence: SandboxStatus[] = failed ? ['sent', 'failed'] : read ? ['sent', 'delivered', 'read'] : ['sent', 'delivered'];
    messages.push({ messageId, to, finalStatus: failed ? 'failed' : read ? 'read' : 'delivered' });
    let at = 0;
    for (const status of sequence) {
      at += delay();
      const input: StatusWebhookInput = { messageId, recipientId: to, phoneNumberId: pathPhoneId, status };
      webhooks.schedule(input, at);
    }
  }

  async function handleSend(req: http.IncomingMessage, res: http.ServerResponse, pathPhoneId: string): Promise<void> {
    requests += 1;
    const auth = req.headers.authorization ?? '';
    const raw = await readBody(req);
    if (!/^Bearer\s+\S+/i.test(auth)) {
      sendError(res, {
        status: 401,
        code: 190,
        message: 'Invalid OAuth access token - Cannot parse access token',
        details: 'Send an Authorization: Bearer <token> header (any token works in the sandbox).',
      });
      return;
    }
    if (raw === null) return sendError(res, { ...invalid(`Request body larger than ${MAX_BODY_BYTES} bytes.`), status: 413 });
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return sendError(res, invalid('The request body is not valid JSON.'));
    }
    const problem = validateSendBody(body);
    if (problem) return sendError(res, problem);

    // The simulated timeout comes after validation: Meta times out on requests it would have accepted.
    if (random() < rate408) {
      return sendError(res, {
        status: 408,
        code: 131000,
        message: '(#131000) Something went wrong',
        details: 'Request timed out (sandbox: simulated HTTP 408). The message was not sent.',
      });
    }

    const to = (body as { to: string }).to;
    seq += 1;
    const messageId = `wamid.${Buffer.from(`sandbox.${idPrefix}.${seq}`).toString('base64url')}`;
    accepted.set(to, (accepted.get(to) ?? 0) + 1);
    sendJson(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: to, wa_id: to }],
      messages: [{ id: messageId, message_status: 'accepted' }],
    });
    scheduleStatuses(messageId, to, pathPhoneId);
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = SEND_PATH.exec(path);
    if (req.method === 'POST' && match) {
      handleSend(req, res, decodeURIComponent(match[1] ?? phoneNumberId)).catch((err: unknown) => {
        opts.logger?.error({ err }, 'sandbox: request failed');
        if (!res.headersSent) sendError(res, { status: 500, code: 1, message: 'An unknown error occurred' });
        else res.destroy();
      });
      return;
    }
    req.resume();
    sendError(res, {
      status: 404,
      code: 100,
      type: 'GraphMethodException',
      message: 'Unsupported request - method type or path not supported by the sandbox',
      details: 'The sandbox answers POST /{version}/{phone-number-id}/messages only.',
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/v23.0`;
  opts.logger?.info({ url, webhookUrl: opts.webhookUrl }, 'sandbox provider listening');

  return {
    url,
    phoneNumberId,
    accepted,
    get requests() {
      return requests;
    },
    sentMessages: () => messages.map((m) => ({ ...m })),
    pendingWebhooks: () => webhooks.pending(),
    failedWebhooks: () => webhooks.failed(),
    idle: () => webhooks.idle(),
    setWebhookUrl: (u) => webhooks.setWebhookUrl(u),
    close() {
      webhooks.close();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
