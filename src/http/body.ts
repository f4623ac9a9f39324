import type { IncomingMessage } from 'node:http';

/** Providers send small webhooks; anything larger is refused with 413 before it is buffered. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** A client that trickles its body is cut off (slowloris). */
export const BODY_TIMEOUT_MS = 10_000;
/**
 * After a 413 the rest of the body is read and thrown away (up to this much), so that the client, still
 * writing, gets to read the answer: closing a socket with unread bytes in it makes the kernel send a
 * reset, which can discard the 413 before the client has read it. A client that sends more than this (or
 * goes on past the body timeout) is cut off.
 */
export const DRAIN_AFTER_413_BYTES = 4 * MAX_BODY_BYTES;

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * The whole body, at most `limit` bytes, within `timeoutMs`. Rejects with HttpError 413 (too large: the
 * answer can be sent, the rest of the body is drained in the background, then the connection carries on
 * or is cut) or 408 (too slow: the caller answers with `Connection: close`; the socket is destroyed shortly
 * after in any case).
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES, timeoutMs = BODY_TIMEOUT_MS): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const cut = () => req.socket?.destroy();

    /** Too large: answer 413 now, then read and discard the rest (bounded in bytes and time). */
    const tooLarge = () => {
      chunks.length = 0;
      settle(() => reject(new HttpError(413, `body larger than ${limit} bytes`)));
      let drained = 0;
      req.removeListener('data', onData);
      req.on('data', (c: Buffer) => {
        drained += c.length;
        if (drained > DRAIN_AFTER_413_BYTES) cut();
      });
      const left = Math.max(0, timeoutMs - (Date.now() - started));
      const drainTimer = setTimeout(cut, left);
      drainTimer.unref();
      req.once('end', () => clearTimeout(drainTimer));
      req.once('close', () => clearTimeout(drainTimer));
      req.resume();
    };

    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) return tooLarge();
      chunks.push(c);
    };

    const timer = setTimeout(() => {
      settle(() => reject(new HttpError(408, 'body not received in time')));
      req.removeListener('data', onData);
      // The caller answers 408 with Connection: close; whatever happens to that answer, the socket goes.
      setTimeout(cut, 1_000).unref();
    }, timeoutMs);

    req.on('error', (err) => settle(() => reject(err)));
    // The client went away before the end of its body: nobody is left to answer.
    req.on('close', () => settle(() => reject(new HttpError(400, 'connection closed before the end of the body'))));
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return tooLarge();
    req.on('data', onData);
    req.on('end', () => settle(() => resolve(Buffer.concat(chunks, size))));
  });
}
