import type { Argv } from 'yargs';
// The worker and the HTTP server (pg-boss, prom-client, ioredis…) are loaded only by the commands that
// run them: every other command starts ~0.2 s sooner (B2 counts the CLI's start-up).
import { withContext, type GlobalFlags } from '../context.ts';
import { tierOfChannel } from '../../config.ts';
import { printText } from '../output.ts';

/** Resolve on the first SIGTERM or SIGINT; a second one exits at once (forceful shutdown). */
function untilSignal(onForce: () => void): Promise<string> {
  return new Promise((resolve) => {
    let got = false;
    const handler = (sig: string) => {
      if (got) return onForce();
      got = true;
      resolve(sig);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

export function runtimeCommands(y: Argv<GlobalFlags>): Argv<GlobalFlags> {
  return y
    .command('migrate', 'apply pending schema migrations', () => {}, (argv) =>
      withContext(argv, async () => printText('database is up to date')))
    .command(
      'worker',
      'run every job handler and the HTTP server',
      (a) => a.option('http', { type: 'boolean', default: true, describe: 'run the HTTP server (--no-http: without it)' }),
      (argv) => withContext(argv, async ({ config, db, pool, log, databaseUrl }) => {
        const { startWorker } = await import('../../worker.ts');
        const worker = await startWorker({ config, db, pool, databaseUrl, log, http: argv.http, ...(argv.port !== undefined ? { port: argv.port } : {}) });
        const sig = await untilSignal(() => process.exit(1));
        log.info({ signal: sig }, 'signal received');
        await worker.stop();
      }, { poolMax: 20 }),
    )
    .command(
      'serve',
      'the HTTP server alone',
      () => {},
      (argv) => withContext(argv, async ({ config, db, log }) => {
        const { createHttpServer, listen } = await import('../../http/server.ts');
        const server = createHttpServer({ db, log, appSecret: config.appSecret, verifyToken: config.verifyToken, tierOf: (name) => tierOfChannel(config, name) });
        const port = await listen(server, argv.port ?? config.port);
        log.info({ port }, 'HTTP server listening');
        await untilSignal(() => process.exit(1));
        await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      }),
    );
}
