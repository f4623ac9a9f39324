import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Secrets never reach a log line, wherever they sit in a logged object: tokens, keys, the app secret,
 * Authorization headers and database URLs (which may hold a password).
 */
export const REDACT_PATHS = [
  'accessToken', '*.accessToken', '*.*.accessToken',
  'apiKey', '*.apiKey', '*.*.apiKey',
  'bspKey', '*.bspKey', '*.*.bspKey',
  'appSecret', '*.appSecret', 'verifyToken', '*.verifyToken',
  'databaseUrl', '*.databaseUrl', 'password', '*.password',
  'headers.authorization', '*.headers.authorization', 'headers["d360-api-key"]', 'headers["api-key"]',
];

/**
 * The root logger: JSON lines on stderr (stdout is kept for `--json` output), pretty-printed when stderr
 * is a terminal. pino-pretty runs in this thread (not as a transport worker) so nothing is lost when a
 * command exits right after logging.
 */
export function createLogger(level: string, opts: { pretty?: boolean } = {}): Logger {
  const base = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  const usePretty = opts.pretty ?? process.stderr.isTTY;
  if (usePretty) {
    return pino(base, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname' }));
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
