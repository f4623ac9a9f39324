/**
 * The one HTTP client the provider adapters (and the sandbox's webhook sender) use: POST a JSON body,
 * read the answer as text, and turn every network failure into data instead of an exception.
 *
 * The point of this module is the classification of network failures. The send APIs have no idempotency
 * key, so the sender must know whether a failed request may have reached the provider:
 *  - 'before_write': the request body was never fully flushed to the socket (connection refused, DNS,
 *    reset or timeout while connecting/writing). The provider cannot have acted on it: safe to retry.
 *  - 'after_write': the body was flushed and no complete answer came (timeout, reset, abort while
 *    waiting). The message may have gone out: the outcome is ambiguous.
 * The boundary is the request's 'finish' event, emitted once the last byte has been handed to the OS.
 */
import http from 'node:http';
import https from 'node:https';

export const DEFAULT_TIMEOUT_MS = 15_000;
/** Provider answers are small; anything bigger is not an answer we can use, and must not exhaust memory. */
const MAX_RESPONSE_BYTES = 1 << 20;

export type NetworkPhase = 'before_write' | 'after_write';

export type HttpResult =
  | { ok: true; status: number; body: string; headers: http.IncomingHttpHeaders }
  | { ok: false; phase: NetworkPhase; message: string };

export interface PostOptions {
  headers?: Record<string, string>;
  /** Whole-request deadline: connect, write, and read the full answer. Defaults to the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called once, when the last byte of the request has been handed to the OS ('finish'). */
  onWritten?: () => void;
}

export interface HttpClient {
  /**
   * POST `body` (serialised with JSON.stringify unless it already is a string, so a caller that signs
   * the raw bytes can pass them as they are). Never rejects.
   */
  postJson(url: string, body: unknown, opts?: PostOptions): Promise<HttpResult>;
  /** Drop the pooled keep-alive sockets. */
  close(): void;
}

export interface HttpClientOptions {
  timeoutMs?: number;
  /** Concurrent sockets per host; the sender's concurrency limit is the real bound. */
  maxSockets?: number;
}

/**
 * Read an answer's body as text, at most `limit` bytes (a bigger one destroys the request: an answer we
 * cannot use must not exhaust memory); `fail` gets a reset, an abort or the overflow.
 */
export function readAnswer(req: http.ClientRequest, res: http.IncomingMessage, limit: number, fail: (err: unknown) => void, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      req.destroy(new Error(`response larger than ${limit} bytes`));
      return;
    }
    chunks.push(chunk);
  });
  res.on('error', fail);
  res.on('aborted', () => fail(new Error('response aborted')));
  res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

/** A short, secret-free description of a failure: the error code and message, never headers or bodies. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Keep-alive matters at 50–1,000 sends/s: a TLS handshake per message would cost more than the send.
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 256 };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  function postJson(url: string, body: unknown, opts: PostOptions = {}): Promise<HttpResult> {
    const timeoutMs = opts.timeoutMs ?? defaultTimeout;
    const payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');

    return new Promise<HttpResult>((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve({ ok: false, phase: 'before_write', message: 'invalid URL' });
        return;
      }
      if (opts.signal?.aborted) {
        resolve({ ok: false, phase: 'before_write', message: 'aborted before the request started' });
        return;
      }

      const secure = target.protocol === 'https:';
      const lib = secure ? https : http;
      let flushed = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;

      const finish = (result: HttpResult): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const fail = (err: unknown): void =>
        finish({ ok: false, phase: flushed ? 'after_write' : 'before_write', message: describe(err) });

      const req = lib.request(target, {
        method: 'POST',
        agent: secure ? httpsAgent : httpAgent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...opts.headers,
          'content-length': String(payload.length),
        },
      });

      function onAbort(): void {
        const reason = opts.signal?.reason;
        req.destroy(reason instanceof Error ? reason : new Error('aborted'));
      }

      req.on('finish', () => {
        flushed = true;
        opts.onWritten?.();
      });
      req.on('error', fail);
      // A reset mid-answer: the provider got the request, so this is after_write (flushed is true).
      req.on('response', (res) =>
        readAnswer(req, res, MAX_RESPONSE_BYTES, fail, (body) => finish({ ok: true, status: res.statusCode ?? 0, body, headers: res.headers })),
      );

      timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      req.end(payload);
    });
  }

  return {
    postJson,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
