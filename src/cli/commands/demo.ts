import type { Argv } from 'yargs';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../../config.ts';
import { addTemplate } from '../../templates/store.ts';
import { createCampaign, startCampaign } from '../../campaigns/service.ts';
import { buildReport } from '../../report/report.ts';
import { renderReportTable } from '../../report/table.ts';
import { reconcile } from '../../reconcile/reconcile.ts';
import { DEMO_TEMPLATE, writeSampleCsv } from '../../demo/sample.ts';
import { withContext, type GlobalFlags } from '../context.ts';
import { printJson, printText, progressLine } from '../output.ts';

export const DEMO_ROWS = 2_000;
const DEMO_TIMEOUT_MS = 300_000;

export function demoCommand(y: Argv<GlobalFlags>): Argv<GlobalFlags> {
  return y.command(
    'demo',
    'the whole job with no setup: embedded PostgreSQL, the sandbox provider, a sample template and CSV',
    (a) => a.option('json', { type: 'boolean', default: false }).option('rows', { type: 'number', default: DEMO_ROWS }),
    (argv) => withContext(argv, async (ctx) => {
      const { db, log } = ctx;
      // The demo always sends through the built-in sandbox, whatever channels the environment defines,
      // and signs its webhooks with a fresh secret so the signature check runs too.
      const rps = ctx.config.channels[0]!.rateLimitRps;
      const config: Config = Object.freeze({
        ...ctx.config,
        appSecret: randomBytes(16).toString('hex'),
        channels: [{ name: 'sandbox', provider: 'sandbox' as const, rateLimitRps: rps }],
      });
      const dir = resolve(config.dataDir, 'demo');
      mkdirSync(dir, { recursive: true });
      const csv = join(dir, `contacts-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
      await writeSampleCsv(csv, argv.rows);
      await addTemplate(db, DEMO_TEMPLATE);
      const progress = progressLine(!argv.json && process.stderr.isTTY === true);
      const created = await createCampaign(ctx, {
        name: `Demo ${new Date().toISOString()}`, template: DEMO_TEMPLATE.name, language: DEMO_TEMPLATE.language,
        csv, channel: 'sandbox', params: { 'body.1': 'name', 'body.2': 'order_id' }, defaultCountry: 'ID',
      }, { onProgress: (p) => progress.update(`ingesting ${p.rows} rows: ${p.accepted} accepted, ${p.invalid} invalid, ${p.duplicate} duplicate`) });
      await startCampaign(db, created.id);
      log.info({ campaign: created.id, csv }, 'demo campaign created and started');

      const { startWorker } = await import('../../worker.ts');
      const worker = await startWorker({ config, db, pool: ctx.pool, databaseUrl: ctx.databaseUrl, log, http: true, port: 0 });
      const deadline = Date.now() + DEMO_TIMEOUT_MS;
      let report = (await buildReport(db, created.id))!;
      try {
        while (Date.now() < deadline) {
          report = (await buildReport(db, created.id))!;
          const s = report.status;
          const done = s.sent + s.delivered + s.read + s.failed + s.accepted;
          progress.update(`sending ${done}/${report.ingest.accepted}  accepted ${s.accepted}  sent ${s.sent}  delivered ${s.delivered}  read ${s.read}  failed ${s.failed}  queued ${s.queued}  sending ${s.sending}`);
          if (report.state === 'completed' && worker.sandbox!.pendingWebhooks() === 0) {
            // Every webhook the sandbox meant to send has been answered 200, so it is stored: apply it all.
            await reconcile(db);
            break;
          }
          if (report.state === 'paused' || report.state === 'cancelled') break;
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        progress.done();
        await worker.stop();
      }
      report = (await buildReport(db, created.id))!;
      if (argv.json) return printJson(report);
      printText(renderReportTable(report));
      printText(`The HTML report: run "npx --no campaign serve" and open http://localhost:${config.port}/campaigns/${report.id}`);
    }, { poolMax: 20 }),
  );
}
