import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../db/executor.ts';
import type { Logger } from '../log.ts';
import { verifySignature } from '../callbacks/signature.ts';
import { parseWhatsAppWebhook, parseVerihubsCallback, WebhookShapeError } from '../callbacks/parse.ts';
import { Inbox } from '../callbacks/inbox.ts';
import { buildReport } from '../report/report.ts';
import { renderReportHtml } from '../report/html.ts';
import { buildTimeline, isLive } from '../report/timeline.ts';
import { metrics as processMetrics, tallyCallbacks, type CallbackTally, type Metrics } from '../metrics.ts';
import { BODY_TIMEOUT_MS, HttpError, MAX_BODY_BYTES, readBody } from './body.ts';
import { isUuid } from '../ids.ts';

export interface HttpContext {
  db: Db;
  log: Logger;
  appSecret?: string | undefined;
  verifyToken?: string | undefined;
  /** Called once events are stored, to get them reconciled soon. */
  onEventsStored?: () => void;
  /** Group commit of webhook events; created from `db` when not given. */
  inbox?: Inbox;
  /** How long a client may take to send its body (default BODY_TIMEOUT_MS); tests shorten it. */
  bodyTimeoutMs?: number;
  /** Where callbacks are counted and what GET /metrics serves; this process's metrics when not given. */
  metrics?: Metrics;
  /** The messaging tier of a channel (from the config), so reports show its budget. */
  tierOf?: (channel: string) => number | null;
}


/** The answer to every stored webhook. */
const OK = JSON.stringify({ ok: true });

function send(res: ServerResponse, status: number, body: string | object, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readRequestBody(ctx: HttpContext, req: IncomingMessage): Promise<Buffer> {
  return readBody(req, MAX_BODY_BYTES, ctx.bodyTimeoutMs ?? BODY_TIMEOUT_MS);
}

async function whatsappWebhook(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const accepted = acceptWebhook(ctx, req, await readRequestBody(ctx, req));
  if ('refused' in accepted) return send(res, accepted.refused, { error: accepted.error });
  await accepted.stored;
  ctx.metrics!.callbacksReceived(accepted.tally);
  if (accepted.tally.length > 0) ctx.onEventsStored?.();
  send(res, 200, OK);
}

/**
 * Check, parse and hand a webhook to the inbox. Synchronous on purpose: the body, its parse and the
 * events are garbage as soon as this returns, while the request waits for its flush holding only the
 * inbox's encoded copy and the tally (an async function keeps its locals until it ends).
 */
function acceptWebhook(ctx: HttpContext, req: IncomingMessage, raw: Buffer):
  { refused: 400 | 401; error: string } | { stored: Promise<void>; tally: CallbackTally } {
  if (ctx.appSecret && !verifySignature(raw, req.headers['x-hub-signature-256'] as string | undefined, ctx.appSecret)) {
    return { refused: 401, error: 'bad or missing X-Hub-Signature-256' };
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return { refused: 400, error: 'body is not JSON' };
  }
  const parsed = parseWhatsAppWebhook(body);
  if (parsed.errors.length > 0) {
    // System errors (value.errors[]) concern the account or the app, not one message: nothing to store,
    // but an operator should see them. Only scalars are logged: the objects are whatever was posted.
    const first = parsed.errors[0] as { code?: unknown; title?: unknown } | null;
    const scalar = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v).slice(0, 200) : null);
    ctx.log.warn({ count: parsed.errors.length, code: scalar(first?.code), title: scalar(first?.title) }, 'webhook carried system errors');
  }
  return { stored: ctx.inbox!.store(parsed.statuses, parsed.inbound), tally: tallyCallbacks(parsed.statuses) };
}

/** Key-value pairs of a JSON object (string or number values) or of a form body; nothing for anything else. */
function bodyParams(text: string): Array<[string, string]> {
  if (text === '') return [];
  if (text.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return [];
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [];
    return Object.entries(obj).flatMap(([k, v]): Array<[string, string]> =>
      typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? [[k, String(v)]] : []);
  }
  return [...new URLSearchParams(text)];
}

function handshake(ctx: HttpContext, url: URL, res: ServerResponse): void {
  const mode = url.searchParams.get('hub.mode');
  const token = url.searchParams.get('hub.verify_token');
  const challenge = url.searchParams.get('hub.challenge') ?? '';
  if (mode === 'subscribe' && ctx.verifyToken && token === ctx.verifyToken) return send(res, 200, challenge, 'text/plain');
  send(res, 403, { error: 'verify token mismatch' });
}

/**
 * Verihubs' callback carries `session_id` and `status` in the query string of the callback URL. How it
 * posts is not documented, so a POST may also carry them in a JSON or form body: the query string wins,
 * the body fills in what it lacks.
 */
async function verihubsCallback(ctx: HttpContext, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  const params = new URLSearchParams(url.searchParams);
  if (req.method === 'POST') {
    const text = (await readRequestBody(ctx, req)).toString('utf8').trim();
    for (const [k, v] of bodyParams(text)) if (!params.has(k)) params.set(k, v);
  }
  const { event } = parseVerihubsCallback(params);
  if (event) {
    await ctx.inbox!.store([event]);
    ctx.metrics!.callbacksReceived(tallyCallbacks([event]));
    ctx.onEventsStored?.();
  }
  send(res, 200, OK);
}

async function route(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/healthz') {
    try {
      await ctx.db.raw('SELECT 1');
      return send(res, 200, { ok: true });
    } catch {
      return send(res, 503, { ok: false });
    }
  }
  if (path === '/metrics' && req.method === 'GET') {
    const text = await ctx.metrics!.render(ctx.db);
    return send(res, 200, text, ctx.metrics!.contentType);
  }
  if (path === '/webhooks/whatsapp') {
    if (req.method === 'GET') return handshake(ctx, url, res);
    if (req.method === 'POST') return whatsappWebhook(ctx, req, res);
    return send(res, 405, { error: 'method not allowed' });
  }
  if (path === '/callbacks/verihubs' && (req.method === 'GET' || req.method === 'POST')) return verihubsCallback(ctx, req, url, res);
  const api = /^\/api\/campaigns\/([^/]+)\/report$/.exec(path);
  const page = /^\/campaigns\/([^/]+)$/.exec(path);
  const id = api?.[1] ?? page?.[1];
  if (id !== undefined && req.method === 'GET') {
    const report = isUuid(id) ? await buildReport(ctx.db, id, ctx.tierOf ? { tierOf: ctx.tierOf } : {}) : null;
    if (!report) return send(res, 404, { error: 'no such campaign' });
    if (api) return send(res, 200, report);
    const timeline = await buildTimeline(ctx.db, report.id, isLive(report.state));
    return send(res, 200, renderReportHtml(report, timeline), 'text/html; charset=utf-8');
  }
  send(res, 404, { error: 'not found' });
}

/** The HTTP server of `worker` and `serve`: node:http, nothing more is needed for these few routes. */
export function createHttpServer(context: HttpContext): Server {
  const ctx = { ...context, inbox: context.inbox ?? new Inbox(context.db), metrics: context.metrics ?? processMetrics };
  const server = createServer((req, res) => {
    route(ctx, req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof WebhookShapeError) return send(res, 400, { error: err.message });
      if (err instanceof HttpError) {
        // A client too slow to send its body does not get to keep the connection.
        if (err.status === 408) res.setHeader('connection', 'close');
        return send(res, err.status, { error: err.message });
      }
      ctx.log.error({ err, path: req.url }, 'request failed');
      send(res, 500, { error: 'internal error' });
    });
  });
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  return server;
}

export async function listen(server: Server, port: number, host = '0.0.0.0'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
