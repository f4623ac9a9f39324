import type { Argv } from 'yargs';
import { UsageError } from '../../errors.ts';
import { normalizePhone } from '../../ingest/phone.ts';
import { emptyStatus } from '../../report/report.ts';
import { withContext, type GlobalFlags } from '../context.ts';
import { importSuppressions } from '../../ingest/suppressions.ts';
import { printJson, printText } from '../output.ts';

function e164s(phones: string[], country?: string): string[] {
  return phones.map((p) => {
    const r = normalizePhone(p, country);
    if (!r.ok) throw new UsageError(`${p}: not a valid phone number (${r.detail}); give it with its country code, e.g. +6281234567890`);
    return r.e164;
  });
}

export function listCommands(y: Argv<GlobalFlags>): Argv<GlobalFlags> {
  return y
    .command(
      'list',
      'campaigns, newest first',
      (a) => a.option('json', { type: 'boolean', default: false }).option('limit', { type: 'number', default: 100 }),
      (argv) => withContext(argv, async ({ db }) => {
        const rows = (await db.q('campaign_list', [argv.limit])).rows;
        const out = [];
        for (const c of rows) {
          const status = emptyStatus();
          for (const s of (await db.q('report_status_counts', [c.id])).rows) status[s.status as keyof typeof status] = s.n;
          out.push({
            id: c.id, name: c.name, state: c.state, parent_id: c.parent_id ?? null, cron: c.cron ?? null,
            next_run_at: c.cron && c.state === 'scheduled' && c.next_run_at ? c.next_run_at.toISOString() : null,
            tz: c.cron_tz ?? null, created_at: c.created_at.toISOString(), pause_reason: c.pause_reason, status,
          });
        }
        if (argv.json) return printJson(out);
        if (out.length === 0) return printText('no campaigns yet: create one with "campaign create"');
        printText(out.map((c) => {
          const s = c.status;
          if (c.cron) return `${c.id}  ${c.state.padEnd(9)}  ${c.created_at}  ${c.name}  recurring "${c.cron}" ${c.tz}, next run ${c.next_run_at ?? '-'}`;
          return `${c.id}  ${c.state.padEnd(9)}  ${c.created_at}  ${c.name}  (queued ${s.queued}, sending ${s.sending}, accepted ${s.accepted}, sent ${s.sent}, delivered ${s.delivered}, read ${s.read}, failed ${s.failed})${c.pause_reason ? `  paused: ${c.pause_reason}` : ''}`;
        }).join('\n'));
      }),
    )
    .command('suppress', 'the opt-out list', (s) => s
      .command('add [phones..]', 'add numbers, or every number of a CSV (--csv)', (a) => a
        .positional('phones', { type: 'string', array: true })
        .option('csv', { type: 'string', describe: 'a CSV of numbers to add (phone column as for create)' })
        .option('phone-column', { type: 'string' })
        .option('default-country', { type: 'string' })
        .option('json', { type: 'boolean', default: false }),
        (argv) => withContext(argv, async ({ db }) => {
          const country = argv.defaultCountry?.toUpperCase();
          if (argv.csv) {
            const r = await importSuppressions(db, argv.csv, argv.phoneColumn, country);
            if (argv.json) return printJson(r);
            printText(`${r.added} number(s) added to the opt-out list from ${r.rows} rows (${r.invalid} not valid numbers)`);
            for (const e of r.errors_sample) printText(`  line ${e.line}: ${e.detail}`);
            return;
          }
          const list = e164s(argv.phones ?? [], country);
          if (list.length === 0) throw new UsageError('suppress add: give one or more phone numbers, or --csv FILE');
          const added = (await db.q('suppression_add_many', [list, 'operator', 'cli'])).rowCount ?? 0;
          if (argv.json) return printJson({ added, rows: list.length, invalid: 0, errors_sample: [] });
          printText(`${added} number(s) added to the opt-out list`);
        }))
      .command('remove <phones..>', 'remove numbers', (a) => a.positional('phones', { type: 'string', array: true, demandOption: true }).option('default-country', { type: 'string' }),
        (argv) => withContext(argv, async ({ db }) => {
          const removed = (await db.q('suppression_remove_many', [e164s(argv.phones, argv.defaultCountry?.toUpperCase())])).rowCount;
          printText(`${removed} number(s) removed from the opt-out list`);
        }))
      .command('list', 'list numbers', (a) => a.option('json', { type: 'boolean', default: false }),
        (argv) => withContext(argv, async ({ db }) => {
          const rows = (await db.q('suppression_list')).rows;
          if (argv.json) return printJson(rows.map((r) => ({ ...r, created_at: r.created_at.toISOString() })));
          printText(rows.map((r) => `${r.phone_e164}\t${r.reason}\t${r.created_at.toISOString()}`).join('\n') || 'the opt-out list is empty');
        }))
      .demandCommand(1, 'name a suppress command: add, remove or list'));
}
