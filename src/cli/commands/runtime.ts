import type { Argv } from 'yargs';
import { startWorker } from '../../worker.ts';
import { createHttpServer, listen } from '../../http/server.ts';
import { withContext, type GlobalFlags } from '../context.ts';
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
        const server = createHttpServer({ db, log, appSecret: config.appSecret, verifyToken: config.verifyToken });
        const port = await listen(server, argv.port ?? config.port);
        log.info({ port }, 'HTTP server listening');
        await untilSignal(() => process.exit(1));
        await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      }),
    );
}
