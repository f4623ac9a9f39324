import type { Argv } from 'yargs';
import { addTemplate, listTemplates } from '../../templates/store.ts';
import { withContext, type GlobalFlags } from '../context.ts';
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
    .command('sync', 'fetch approved templates from the provider (cloud, 360dialog)', () => {}, () => {
      throw new Error('template sync is not implemented yet (issue #4)');
    })
    .demandCommand(1, 'name a template command: add, list or sync');
}
