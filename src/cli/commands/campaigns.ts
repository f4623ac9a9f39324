import type { Argv } from 'yargs';
import { pickChannel } from '../../config.ts';
import { UsageError } from '../../errors.ts';
import { parseParamFlags } from '../../ingest/columns.ts';
import { isKnownCountry } from '../../ingest/phone.ts';
import { buildReport } from '../../report/report.ts';
import { renderReportTable } from '../../report/table.ts';
import { renderReportCsv } from '../../report/csv.ts';
import { checkOutPath, exportCampaign } from '../../report/export.ts';
import { cancelCampaign, checkId, createCampaign, pauseCampaign, resumeCampaign, retryCampaign, startCampaign, type RetryResult } from '../../campaigns/service.ts';
import { parseRetryCodes } from '../../send/retryable.ts';
import { createRecurring, isRecurring, pauseSchedule, resumeSchedule } from '../../schedules/service.ts';
import { withContext, type GlobalFlags } from '../context.ts';
import { printJson, printText, printWarning, progressLine } from '../output.ts';
import { tierOfChannel, type Config } from '../../config.ts';
import type { Db } from '../../db/executor.ts';
import { tierWarning } from '../../send/tier.ts';

/** The messaging-tier warning for a campaign about to send, if its channel's budget will not cover it. */
async function startWarning(db: Db, config: Config, id: string): Promise<string | null> {
  const c = (await db.q('campaign_get', [id])).rows[0];
  return c ? tierWarning(db, id, c.channel, tierOfChannel(config, c.channel)) : null;
}

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
        .option('cron', { type: 'string', describe: 'recurring: a cron expression, e.g. "0 9 * * MON"; the CSV is re-read at each firing' })
        .option('tz', { type: 'string', describe: 'the time zone of --cron (IANA name, default UTC)' })
        .option('overlap', { choices: ['skip', 'queue'] as const, default: 'skip' as const, describe: 'recurring: a firing while the previous run still sends is skipped (default) or waits for it' })
        .option('wait', { type: 'boolean', default: true, describe: 'wait for validation (--no-wait: return once the file is stored)' })
        .option('trim-params', { type: 'boolean', default: false, describe: 'trim spaces around parameter values (off: values are used exactly as written)' })
        .option('collapse-spaces', { type: 'boolean', default: false, describe: 'turn runs of whitespace inside parameter values into one space' })
        .option('json', { type: 'boolean', default: false }),
      (argv) => withContext(argv, async (io) => {
        const country = argv.defaultCountry?.toUpperCase();
        if (country !== undefined && !isKnownCountry(country)) throw new UsageError(`--default-country ${argv.defaultCountry}: expected a two-letter ISO country code, e.g. ID`);
        if (argv.tz !== undefined && argv.cron === undefined) throw new UsageError('--tz goes with --cron (the time zone of the cron expression); for a one-off time give --start-at with its offset');
        if (argv.cron !== undefined) {
          if (argv.startAt !== undefined) throw new UsageError('--cron and --start-at: pick one (a recurring campaign starts at its first firing)');
          const channel = pickChannel(io.config, argv.channel);
          const s = await createRecurring(io.db, {
            name: argv.name, template: argv.template, language: argv.language, csv: argv.csv, channel: channel.name,
            phoneColumn: argv.phoneColumn, params: parseParamFlags(argv.param), defaultCountry: country,
            paramOptions: { trim: argv.trimParams, collapse_spaces: argv.collapseSpaces }, cron: argv.cron, tz: argv.tz ?? 'UTC', overlap: argv.overlap,
          });
          if (argv.json) return printJson({ id: s.id, state: s.state, cron: s.cron, tz: s.tz, overlap: s.overlap, next_run_at: s.next_run_at, csv: s.csv });
          return printText(`recurring campaign ${s.id}: "${s.cron}" (${s.tz}), next run ${s.next_run_at}; each run reads ${s.csv} as it is then ("campaign schedule list")`);
        }
        const at = parseAt(argv.startAt, '--start-at');
        const startNow = argv.startAt !== undefined && at === undefined;
        const channel = pickChannel(io.config, argv.channel);
        const progress = progressLine(!argv.json && process.stderr.isTTY === true);
        const t0 = Date.now();
        const created = await createCampaign(io, {
          name: argv.name, template: argv.template, language: argv.language, csv: argv.csv, channel: channel.name,
          phoneColumn: argv.phoneColumn, params: parseParamFlags(argv.param), defaultCountry: country,
          paramOptions: { trim: argv.trimParams, collapse_spaces: argv.collapseSpaces },
        }, {
          wait: argv.wait,
          startNow,
          onProgress: (p) => {
            const rate = Math.round(p.rows / Math.max(0.001, (Date.now() - t0) / 1000));
            progress.update(`ingesting: ${p.rows} rows (${rate}/s)  accepted ${p.accepted}  invalid ${p.invalid}  duplicate ${p.duplicate}  suppressed ${p.suppressed}`);
          },
        });
        progress.done();
        let state = created.state;
        if (at) state = (await startCampaign(io.db, created.id, at)).state;
        const warning = at || startNow ? await startWarning(io.db, io.config, created.id) : null;
        if (warning) printWarning(warning);
        const out = { ...created, state, ...(warning ? { tier_warning: warning } : {}) };
        if (argv.json) return printJson(out);
        const i = out.ingest;
        if (!argv.wait) return printText(`campaign ${out.id} ${state}: file stored; a worker validates it ("campaign report ${out.id}" shows progress)`);
        printText(`campaign ${out.id} ${state}: ${i.rows} rows, ${i.accepted} accepted, ${i.invalid} invalid, ${i.duplicate} duplicate, ${i.suppressed} suppressed`);
        for (const e of i.errors_sample) printText(`  line ${e.line}: ${e.reason}${e.detail ? ` (${e.detail})` : ''}`);
      }),
    )
    .command(
      'start <id>',
      'start sending now, or at a time',
      (a) => a.positional('id', { type: 'string', demandOption: true }).option('at', { type: 'string' }).option('json', { type: 'boolean', default: false }),
      (argv) => withContext(argv, async ({ db, config }) => {
        const r = await startCampaign(db, argv.id, parseAt(argv.at, '--at'));
        const warning = await startWarning(db, config, argv.id);
        if (warning) printWarning(warning);
        if (argv.json) printJson({ ...r, tier_warning: warning });
        else printText(r.state === 'scheduled' ? `campaign ${r.id} scheduled for ${r.start_at}` : `campaign ${r.id} running: a worker sends it ("campaign worker")`);
      }),
    )
    .command('pause <id>', 'stop claiming new sends', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => {
        if (await isRecurring(db, checkId(argv.id))) await pauseSchedule(db, argv.id);
        else await pauseCampaign(db, argv.id);
        printText(`campaign ${argv.id} paused`);
      }))
    .command('resume <id>', 'carry on sending', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => {
        if (await isRecurring(db, checkId(argv.id))) return printText(`recurring campaign ${argv.id} active again, next run ${await resumeSchedule(db, argv.id)}`);
        const state = await resumeCampaign(db, argv.id);
        printText(`campaign ${argv.id} ${state}`);
      }))
    .command('cancel <id>', 'stop for good', (a) => a.positional('id', { type: 'string', demandOption: true }),
      (argv) => withContext(argv, async ({ db }) => { await cancelCampaign(db, argv.id); printText(`campaign ${argv.id} cancelled`); }))
    .command(
      'retry <id>',
      'put failed recipients back in the queue: retryable causes, or the codes given',
      (a) => a.positional('id', { type: 'string', demandOption: true })
        .option('codes', { type: 'string', describe: 'exactly these error codes, as the report lists them, e.g. 131000,http_503' })
        .option('ambiguous', { type: 'boolean', default: false, describe: 'also resend recipients whose last request may or may not have reached WhatsApp' })
        .option('json', { type: 'boolean', default: false }),
      (argv) => {
        // Checked before the database is opened: a bad flag exits 2 at once.
        const codes = parseRetryCodes(argv.codes, argv.ambiguous);
        return withContext(argv, async ({ db }) => {
          const r = await retryCampaign(db, argv.id, { codes, ambiguous: argv.ambiguous });
          if (argv.json) printJson({ id: r.id, requeued: r.requeued, state: r.state });
          else printText(retrySummary(r));
        });
      },
    )
    .command(
      'report <id>',
      'the campaign report',
      (a) => a.positional('id', { type: 'string', demandOption: true })
        .option('json', { type: 'boolean', default: false, describe: 'the report JSON (same as --format json)' })
        .option('format', { choices: ['table', 'json', 'csv'] as const, describe: 'csv: section,key,value,detail rows, one per field' })
        .option('bom', { type: 'boolean', default: false, describe: 'csv: start with a UTF-8 byte order mark (for Excel)' }),
      (argv) => {
        // Checked before the database is opened: a contradiction exits 2 at once.
        if (argv.json && argv.format !== undefined && argv.format !== 'json') throw new UsageError(`--json and --format ${argv.format}: pick one`);
        if (argv.bom && argv.format !== 'csv') throw new UsageError('--bom goes with --format csv');
        return withContext(argv, async ({ db, config }) => {
          const report = await buildReport(db, checkId(argv.id), { tierOf: (name) => tierOfChannel(config, name) });
          if (!report) throw new UsageError(`unknown campaign ${argv.id}: see "campaign list"`);
          if (argv.json || argv.format === 'json') printJson(report);
          else if (argv.format === 'csv') process.stdout.write(renderReportCsv(report, { bom: argv.bom }));
          else printText(renderReportTable(report));
        });
      },
    )
    .command(
      'export <id>',
      'one CSV row for every data row of the input, with its outcome, in input order',
      (a) => a.positional('id', { type: 'string', demandOption: true })
        .option('out', { type: 'string', nargs: 1, demandOption: true, describe: 'the CSV file to write (replaced only once complete), or - for stdout' })
        .option('bom', { type: 'boolean', default: false, describe: 'start with a UTF-8 byte order mark (for Excel)' })
        .option('json', { type: 'boolean', default: false, describe: 'print only { "id", "rows", "out" }' }),
      (argv) => {
        if (argv.json && argv.out === '-') throw new UsageError('--json with --out -: stdout carries the CSV; give --out a file name');
        return withContext(argv, async ({ db, pool }) => {
          const c = (await db.q('campaign_get', [checkId(argv.id)])).rows[0];
          if (!c) throw new UsageError(`unknown campaign ${argv.id}: see "campaign list"`);
          await checkOutPath(argv.out);
          if (c.ingest_state !== 'done') printWarning(`campaign ${argv.id} is still being validated: the export holds the rows checked so far`);
          const progress = progressLine(!argv.json && process.stderr.isTTY === true);
          const t0 = Date.now();
          const r = await exportCampaign(pool, argv.id, {
            out: argv.out,
            bom: argv.bom,
            onRows: (rows) => progress.update(`exporting: ${rows} rows (${Math.round(rows / Math.max(0.001, (Date.now() - t0) / 1000))}/s)`),
          }).finally(() => progress.done());
          if (argv.json) printJson(r);
          else if (argv.out !== '-') printText(`campaign ${r.id}: ${r.rows} rows written to ${r.out}`);
        });
      },
    );
}

const counts = (m: Record<string, number>): string => Object.entries(m).map(([code, n]) => `${code} (${n})`).join(', ');

function retrySummary(r: RetryResult): string {
  const how = r.left.ambiguous ? '--codes, or --ambiguous' : '--codes';
  const left = Object.keys(r.left).length > 0 ? `; still failed: ${counts(r.left)} (${how} resends them)` : '';
  if (r.requeued === 0) return `campaign ${r.id}: no recipient to put back in the queue${left || '; no failure to retry'}`;
  const what = `campaign ${r.id}: ${r.requeued} recipient${r.requeued === 1 ? '' : 's'} back in the queue (codes: ${counts(r.byCode)})`;
  const next = r.state === 'paused'
    ? `; the campaign is paused: "campaign resume ${r.id}" sends them`
    : '; the campaign is running: a worker sends them ("campaign worker")';
  return what + next + left;
}
