import type { Db } from '../db/executor.ts';
import { UsageError } from '../errors.ts';
import type { TemplateDef } from './types.ts';
import { parseTemplate } from './placeholders.ts';

export interface TemplateRow {
  id: number;
  name: string;
  language: string;
  category: TemplateDef['category'];
  body: string;
  header_format: TemplateDef['headerFormat'];
  header_text: string | null;
  url_button: boolean;
  parameter_format: TemplateDef['parameterFormat'];
  slots: string[];
}

export function templateFromRow(r: TemplateRow): TemplateDef {
  return {
    name: r.name, language: r.language, category: r.category, body: r.body,
    headerText: r.header_text, headerFormat: r.header_format, urlButton: r.url_button,
    parameterFormat: r.parameter_format, slots: r.slots,
  };
}

export type TemplateInput = Omit<TemplateDef, 'slots' | 'parameterFormat'>;

/** Register (or replace) a template; its placeholders are parsed into slots here, once. */
export async function addTemplate(db: Db, input: TemplateInput): Promise<TemplateDef & { id: number }> {
  let def: TemplateDef;
  try {
    def = parseTemplate(input);
  } catch (err) {
    throw new UsageError(`template ${input.name}: ${(err as Error).message}`);
  }
  const r = (await db.q<TemplateRow>('template_upsert', [
    def.name, def.language, def.category, def.body, def.headerFormat, def.headerText, def.urlButton, def.parameterFormat, def.slots,
  ])).rows[0]!;
  return { ...templateFromRow(r), id: r.id };
}

export async function listTemplates(db: Db): Promise<Array<TemplateDef & { id: number }>> {
  return (await db.q<TemplateRow>('template_list')).rows.map((r) => ({ ...templateFromRow(r), id: r.id }));
}

export async function getTemplate(db: Db, name: string, language: string): Promise<TemplateDef & { id: number }> {
  const r = (await db.q<TemplateRow>('template_get', [name, language])).rows[0];
  if (!r) throw new UsageError(`unknown template ${name} (${language}): register it with "campaign template add --name ${name} --language ${language} --body ..."`);
  return { ...templateFromRow(r), id: r.id };
}

export async function getTemplateById(db: Db, id: number): Promise<TemplateDef> {
  const r = (await db.q<TemplateRow>('template_get_by_id', [id])).rows[0];
  if (!r) throw new Error(`template ${id} is gone`);
  return templateFromRow(r);
}
