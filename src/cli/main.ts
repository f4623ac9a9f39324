import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isUsageError } from '../errors.ts';
import type { GlobalFlags } from './context.ts';
import { templateCommands } from './commands/templates.ts';
import { campaignCommands } from './commands/campaigns.ts';
import { listCommands } from './commands/lists.ts';
import { scheduleCommands } from './commands/schedules.ts';
import { runtimeCommands } from './commands/runtime.ts';
import { demoCommand } from './commands/demo.ts';

/** One line on stderr that says what to fix; exit 2 for the user's mistakes, 1 for anything else. */
function fail(err: unknown): never {
  const usage = isUsageError(err);
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`campaign: ${msg.split('\n')[0]}\n`);
  if (!usage && process.env.LOG_LEVEL === 'debug' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(usage ? 2 : 1);
}

export function buildCli(argv: string[]): Argv<GlobalFlags> {
  let y = yargs(argv)
    .scriptName('campaign')
    .usage('$0 <command> [options]\n\nBulk WhatsApp template campaigns: ingest a CSV, send at the rate limit, reconcile callbacks, report.')
    .option('database-url', { type: 'string', describe: 'PostgreSQL URL (default: DATABASE_URL, else the embedded server)' })
    .option('port', { type: 'number', describe: 'HTTP port (default: PORT or 8080)' })
    .command('template', 'register and list message templates', (t) => templateCommands(t as Argv<GlobalFlags>))
    .strict()
    .demandCommand(1, 'name a command; see --help')
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) fail(err);
      process.stderr.write(`campaign: ${msg}\n`);
      process.exit(2);
    }) as unknown as Argv<GlobalFlags>;
  y = campaignCommands(y);
  y = listCommands(y);
  y = scheduleCommands(y);
  y = runtimeCommands(y);
  y = demoCommand(y);
  return y;
}

export async function main(argv = hideBin(process.argv)): Promise<void> {
  try {
    await buildCli(argv).parseAsync();
  } catch (err) {
    fail(err);
  }
}
