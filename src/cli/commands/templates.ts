import type { Argv } from 'yargs';
import { addTemplate, listTemplates } from '../../templates/store.ts';
import { fetchProviderTemplates, registerTemplates, syncTarget, type SyncResult, type SyncedTemplate } from '../../templates/sync.ts';
import { pickChannel } from '../../config.ts';
import { baseContext, withContext, type GlobalFlags } from '../context.ts';
import { printJson, printText } from '../output.ts';

export function templateCommands(y: Argv<GlobalFlags>): Argv<GlobalFlags> {
  return y
    .command(
      'add',
      'register a template as approved in WhatsApp Manager',
      (a) => a
        .option('name', { type: 'string', demandOption: true })
        .option('language', { type: 'string', demandOption: true })
        .option('body', { type: 'string', demandOption: true })
        .option('header-text', { type: 'string' })
        .option('header-format', { choices: ['image', 'video', 'document'] as const })
        .option('url-button', { type: 'boolean', default: false })
        .option('category', { choices: ['marketing', 'utility', 'authentication'] as const, default: 'marketing' as const })
        .option('json', { type: 'boolean', default: false })
        .conflicts('header-text', 'header-format'),
      (argv) => withContext(argv, async ({ db }) => {
        const t = await addTemplate(db, {
          name: argv.name, language: argv.language, category: argv.category, body: argv.body,
          headerText: argv.headerText ?? null,
          headerFormat: argv.headerText !== undefined ? 'text' : (argv.headerFormat ?? null),
          urlButton: argv.urlButton,
        });
        if (argv.json) printJson(t);
        else printText(`template ${t.name} (${t.language}) registered; slots: ${t.slots.join(', ') || '(none)'}`);
      }),
    )
    .command(
      'list',
      'the registered templates with their parameter slots',
      (a) => a.option('json', { type: 'boolean', default: false }),
      (argv) => withContext(argv, async ({ db }) => {
        const list = await listTemplates(db);
        if (argv.json) return printJson(list);
        if (list.length === 0) return printText('no templates: add one with "campaign template add"');
        printText(list.map((t) => `${t.name}\t${t.language}\t${t.category}\t${t.slots.join(', ') || '-'}`).join('\n'));
      }),
    )
    .command(
      'sync',
      'fetch the approved templates from the provider (cloud, 360dialog) and register them',
      (a) => a
        .option('channel', { type: 'string', describe: 'the channel whose templates to fetch (default: the first)' })
        .option('json', { type: 'boolean', default: false }),
      async (argv) => {
        // Settle what is the user's to fix (exit 2) and fetch (exit 1 on failure) before opening a database.
        const { config } = baseContext(argv);
        const channel = pickChannel(config, argv.channel);
        const target = syncTarget(channel);
        const fetched = await fetchProviderTemplates(target);
        await withContext(argv, async ({ db }) => {
          const r = await registerTemplates(db, fetched);
          if (argv.json) return printJson(r);
          printText(syncSummary(channel.provider, channel.name, fetched.length, r));
        });
      },
    )
    .demandCommand(1, 'name a template command: add, list or sync');
}

function syncSummary(provider: string, channel: string, fetched: number, r: SyncResult): string {
  const names = (list: SyncedTemplate[]): string => list.map((t) => `${t.name} (${t.language})`).join(', ');
  const lines = [
    `template sync (${provider}, channel ${channel}): ${fetched} template${fetched === 1 ? '' : 's'} fetched; `
      + `registered ${r.registered.length}, updated ${r.updated.length}, unchanged ${r.unchanged.length}, skipped ${r.skipped.length}`,
  ];
  if (r.registered.length > 0) lines.push(`registered: ${names(r.registered)}`);
  if (r.updated.length > 0) lines.push(`updated: ${names(r.updated)}`);
  if (r.skipped.length > 0) {
    lines.push('skipped:');
    for (const s of r.skipped) lines.push(`  ${s.name || '(no name)'} (${s.language || '?'}): ${s.reason}`);
  }
  return lines.join('\n');
}
