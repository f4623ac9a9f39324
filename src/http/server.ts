import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../db/executor.ts';
import type { Logger } from '../log.ts';
import { verifySignature } from '../callbacks/signature.ts';
import { parseWhatsAppWebhook, parseVerihubsCallback, WebhookShapeError } from '../callbacks/parse.ts';
import { Inbox } from '../callbacks/inbox.ts';
import { buildReport } from '../report/report.ts';
import { renderReportHtml } from '../report/html.ts';
import { HttpError, readBody } from './body.ts';

export interface HttpContext {
  db: Db;
  log: Logger;
  appSecret?: string | undefined;
  verifyToken?: string | undefined;
  /** Called once events are stored, to get them reconciled soon. */
  onEventsStored?: () => void;
  /** Group commit of webhook events; created from `db` when not given. */
  inbox?: Inbox;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function send(res: ServerResponse, status: number, body: string | object, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function whatsappWebhook(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  if (ctx.appSecret && !verifySignature(raw, req.headers['x-hub-signature-256'] as string | undefined, ctx.appSecret)) {
    return send(res, 401, { error: 'bad or missing X-Hub-Signature-256' });
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return send(res, 400, { error: 'body is not JSON' });
  }
  const parsed = parseWhatsAppWebhook(body);
  await ctx.inbox!.store(parsed.statuses, parsed.inbound);
  if (parsed.statuses.length > 0) ctx.onEventsStored?.();
  send(res, 200, { ok: true });
}

function handshake(ctx: HttpContext, url: URL, res: ServerResponse): void {
  const mode = url.searchParams.get('hub.mode');
  const token = url.searchParams.get('hub.verify_token');
  const challenge = url.searchParams.get('hub.challenge') ?? '';
  if (mode === 'subscribe' && ctx.verifyToken && token === ctx.verifyToken) return send(res, 200, challenge, 'text/plain');
  send(res, 403, { error: 'verify token mismatch' });
}

async function verihubsCallback(ctx: HttpContext, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  if (req.method === 'POST') await readBody(req);
  const { event } = parseVerihubsCallback(url.searchParams);
  if (event) await ctx.inbox!.store([event]);
  if (event) ctx.onEventsStored?.();
  send(res, 200, { ok: true });
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
    const report = UUID.test(id) ? await buildReport(ctx.db, id) : null;
    if (!report) return send(res, 404, { error: 'no such campaign' });
    return api ? send(res, 200, report) : send(res, 200, renderReportHtml(report), 'text/html; charset=utf-8');
  }
  send(res, 404, { error: 'not found' });
}

/** The HTTP server of `worker` and `serve`: node:http, nothing more is needed for these few routes. */
export function createHttpServer(context: HttpContext): Server {
  const ctx = { ...context, inbox: context.inbox ?? new Inbox(context.db) };
  const server = createServer((req, res) => {
    route(ctx, req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof WebhookShapeError) return send(res, 400, { error: err.message });
      if (err instanceof HttpError) return send(res, err.status, { error: err.message });
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
