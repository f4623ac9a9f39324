import type { Argv } from 'yargs';
import { pickChannel } from '../../config.ts';
import { UsageError } from '../../errors.ts';
import { parseParamFlags } from '../../ingest/columns.ts';
import { buildReport } from '../../report/report.ts';
import { renderReportTable } from '../../report/table.ts';
import { cancelCampaign, checkId, createCampaign, pauseCampaign, resumeCampaign, startCampaign } from '../../campaigns/service.ts';
import { withContext, type GlobalFlags } from '../context.ts';
import { printJson, printText, progressLine } from '../output.ts';

export function parseAt(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined || value === 'now') return undefined;
  // A timezone-aware ISO 8601 time: a bare local time would mean different moments on different hosts.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    throw new UsageError(`${flag} ${value}: expected an ISO 8601 time with a zone, e.g. 2026-12-01T09:00:00+07:00`);
  }
  return new Date(value);
}

export function campaignCommands(y: Argv<GlobalFlags>): Argv<GlobalFlags> {
  return y
    .command(
      'create',
      'create a campaign from a contact CSV',
      (a) => a
        .option('name', { type: 'string', demandOption: true })
        .option('template', { type: 'string', demandOption: true })
        .option('language', { type: 'string', demandOption: true })
        .option('csv', { type: 'string', demandOption: true })
        .option('phone-column', { type: 'string' })
        .option('param', { type: 'string', array: true, describe: 'SLOT=COLUMN, e.g. body.1=first_name' })
        .option('default-country', { type: 'string', describe: 'ISO country for national numbers, e.g. ID' })
        .option('channel', { type: 'string' })
        .option('start-at', { type: 'string', describe: 'ISO 8601 time, or "now"' })
        .option('cron', { type: 'string' })
        .option('tz', { type: 'string' })
        .option('wait', { type: 'boolean', default: true, describe: 'wait for validation (--no-wait: return once the file is stored)' })
        .option('json', { type: 'boolean', default: false }),
      (argv) => withContext(argv, async ({ db, config }) => {
        if (argv.cron) throw new UsageError('--cron: recurring campaigns are not implemented yet (issue #7)');
        const country = argv.defaultCountry?.toUpperCase();
        if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw new UsageError(`--default-country ${argv.defaultCountry}: expected a two-letter ISO country code, e.g. ID`);
        const startAt = argv.startAt;
        const at = parseAt(startAt, '--start-at');
        const channel = pickChannel(config, argv.channel);
        const progress = progressLine(!argv.json && process.stderr.isTTY === true);
        const t0 = Date.now();
        const created = await createCampaign(db, {
          name: argv.name, template: argv.template, language: argv.language, csv: argv.csv, channel: channel.name,
          phoneColumn: argv.phoneColumn, params: parseParamFlags(argv.param), defaultCountry: country,
        }, (p) => {
          const rate = Math.round(p.rows / Math.max(0.001, (Date.now() - t0) / 1000));
          progress.update(`ingesting: ${p.rows} rows (${rate}/s)  accepted ${p.accepted}  invalid ${p.invalid}  duplicate ${p.duplicate}  suppressed ${p.suppressed}`);
        });
        progress.done();
        let state = created.state;
        if (startAt !== undefined) state = (await startCampaign(db, created.id, at)).state;
        const out = { ...created, state };
        if (argv.json) return printJson(out);
        const i = out.ingest;
        printText(`campaign ${out.id} ${state}: ${i.rows} rows, ${i.accepted} accepted, ${i.invalid} invalid, ${i.duplicate} duplicate, ${i.suppressed} suppressed`);
        for (const e of i.errors_sample) printText(`  line ${e.line}: ${e.reason}${e.detail ? ` (${e.detail})` : ''}`);
      }),
    )
    .command(
      'start <id>',
      'start sending now, or at a time',
      (a) => a.positional('id', { type: 'string', demandOption: true }).option('at', { type: 'string' }).option('json', { type: 'boolean', default: false }),
      (argv) => withContext(argv, async ({ db }) => {
        const r = await startCampaign(db, argv.id, parseAt(argv.at, '--at'));
        if (argv.json) printJson(r);
        else printText(r.state === 'scheduled' ? `campaign ${r.id} scheduled for ${r.start_at}` : `campaign ${r.id} running: a worker sends it ("campaign worker")`);
      }),
    )
    .command('pause <id>', 'stop claiming new sends', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => { await pauseCampaign(db, argv.id); printText(`campaign ${argv.id} paused`); }))
    .command('resume <id>', 'carry on sending', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => { await resumeCampaign(db, argv.id); printText(`campaign ${argv.id} running`); }))
    .command('cancel <id>', 'stop for good', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => { await cancelCampaign(db, argv.id); printText(`campaign ${argv.id} cancelled`); }))
    .command(
      'report <id>',
      'the campaign report',
      (a) => a.positional('id', { type: 'string', demandOption: true })
        .option('json', { type: 'boolean', default: false })
        .option('format', { choices: ['table', 'json'] as const }),
      (argv) => withContext(argv, async ({ db }) => {
        const report = await buildReport(db, checkId(argv.id));
        if (!report) throw new UsageError(`unknown campaign ${argv.id}: see "campaign list"`);
        if (argv.json || argv.format === 'json') printJson(report);
        else printText(renderReportTable(report));
      }),
    );
}
