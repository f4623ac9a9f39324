/**
 * A fake provider on 127.0.0.1 for the adapter tests: it records every request it receives and answers
 * through a handler each test sets. Also the shared "connection refused" and "no answer" checks, and the
 * request and Cloud body most adapter tests start from.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ProviderClient, SendOutcome, SendRequest } from '../../src/providers/types.ts';
import type { TemplateDef, TemplateParams } from '../../src/templates/types.ts';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  raw: Buffer;
}

export type Handler = (seen: Seen, res: http.ServerResponse) => void;

export interface RecordingServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  /** Every request received, in order of arrival (once its body has been read). */
  requests: Seen[];
  /** Answer the following requests with `handler`. */
  answer(handler: Handler): void;
  close(): Promise<void>;
}

/** Start a recording server; until told otherwise it answers every request with an empty 200. */
export async function startRecordingServer(handler: Handler = (_s, res) => res.end()): Promise<RecordingServer> {
  const requests: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: raw.toString(), raw };
      requests.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    answer: (next) => {
      handler = next;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A handler that reads the body and never answers. */
export const neverAnswer: Handler = () => {
  /* never answer */
};

export function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** `http://127.0.0.1:<port>` for a port that was just free (bound, read, closed): connecting is refused. */
export async function closedPortUrl(): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

type NetworkOutcome = Extract<SendOutcome, { kind: 'network' }>;

/** Send once through `client` (pointed at a closed port), close it, and expect a before_write failure. */
export async function sendRefused(client: ProviderClient, request: SendRequest): Promise<NetworkOutcome> {
  const outcome = await client.send(request);
  await client.close?.();
  assert.ok(outcome.kind === 'network', JSON.stringify(outcome));
  assert.equal(outcome.phase, 'before_write');
  return outcome;
}

/** Make `fake` go silent, send once through `client` (with a short timeout), and expect after_write. */
export async function sendUnanswered(fake: RecordingServer, client: ProviderClient, request: SendRequest): Promise<NetworkOutcome> {
  fake.answer(neverAnswer);
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'network', JSON.stringify(outcome));
  assert.equal(outcome.phase, 'after_write');
  return outcome;
}

/** A send of a positional one-slot utility template to +6281234567890; `template` overrides the defaults. */
export function templateRequest(template: Partial<TemplateDef>, params: TemplateParams, to = '+6281234567890'): SendRequest {
  return {
    to,
    template: {
      name: 'order_update',
      language: 'id',
      category: 'utility',
      body: 'Hi {{1}}',
      headerText: null,
      headerFormat: null,
      urlButton: false,
      parameterFormat: 'positional',
      slots: ['body.1'],
      ...template,
    },
    params,
  };
}

/** The Cloud API message body expected around `template`, sent to +6281234567890. */
export function cloudMessage(template: unknown): unknown {
  return { messaging_product: 'whatsapp', recipient_type: 'individual', to: '6281234567890', type: 'template', template };
}
