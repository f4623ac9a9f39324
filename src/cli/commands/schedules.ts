import type { Argv } from 'yargs';
import { checkId } from '../../campaigns/service.ts';
import { listSchedules, pauseSchedule, removeSchedule, resumeSchedule } from '../../schedules/service.ts';
import { withContext, type GlobalFlags } from '../context.ts';
import { printJson, printText } from '../output.ts';

/** `campaign schedule list|pause ID|resume ID|remove ID`: recurring campaigns (create … --cron). */
export function scheduleCommands(y: Argv<GlobalFlags>): Argv<GlobalFlags> {
  return y.command('schedule', 'recurring campaigns: list, pause, resume, remove', (s) => s
    .command('list', 'recurring campaigns with their next firing', (a) => a.option('json', { type: 'boolean', default: false }),
      (argv) => withContext(argv, async ({ db }) => {
        const list = await listSchedules(db);
        if (argv.json) return printJson(list);
        if (list.length === 0) return printText('no recurring campaigns: create one with "campaign create … --cron EXPR"');
        printText(list.map((x) => `${x.id}  ${x.state.padEnd(9)}  "${x.cron}" ${x.tz}  next ${x.next_run_at ?? '-'}  ${x.name}  (${x.runs} runs, ${x.skipped} skipped, ${x.failed} failed; ${x.csv})`).join('\n'));
      }))
    .command('pause <id>', 'no firing until resumed', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => {
        await pauseSchedule(db, checkId(argv.id));
        printText(`schedule ${argv.id} paused: it will not fire until "campaign schedule resume ${argv.id}"`);
      }))
    .command('resume <id>', 'fire again, from the next time the cron gives', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => {
        const next = await resumeSchedule(db, checkId(argv.id));
        printText(`schedule ${argv.id} active, next run ${next}`);
      }))
    .command('remove <id>', 'never fire again (its runs and their reports stay)', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => {
        await removeSchedule(db, checkId(argv.id));
        printText(`schedule ${argv.id} removed; its runs stay in "campaign list"`);
      }))
    .demandCommand(1, 'schedule: give list, pause ID, resume ID or remove ID'));
}
