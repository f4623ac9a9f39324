import type { HeaderFormat, TemplateCategory, TemplateDef } from './types.ts';

/**
 * Turns a template as approved in WhatsApp Manager into its parameter slots, so that every CSV row can be
 * checked before anything is sent. Pure: the CLI (`template add`, `template sync`) feeds it and stores the
 * result.
 */

export interface TemplateInput {
  name: string;
  language: string;
  /** Defaults to 'marketing', the category bulk campaigns almost always use. */
  category?: TemplateCategory | undefined;
  body: string;
  headerText?: string | null | undefined;
  headerFormat?: HeaderFormat | null | undefined;
  urlButton?: boolean | undefined;
}

const CATEGORIES: readonly string[] = ['marketing', 'utility', 'authentication'];
const HEADER_FORMATS: readonly string[] = ['text', 'image', 'video', 'document'];

// Anything between double braces is looked at, so that a typo such as `{{First Name}}` is reported instead
// of being sent to the person as literal text.
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const POSITIONAL = /^[1-9][0-9]*$/;
// Meta's rule for named parameters: lowercase letters, digits and underscores.
const NAMED = /^[a-z_][a-z0-9_]*$/;

interface Found {
  kind: 'positional' | 'named';
  name: string;
}

/** The placeholders of one text, in order of first appearance, each once. */
function scan(text: string, where: string): Found[] {
  const found: Found[] = [];
  const seen = new Set<string>();
  for (const m of text.matchAll(PLACEHOLDER)) {
    const name = m[1] ?? '';
    let kind: Found['kind'];
    if (POSITIONAL.test(name)) kind = 'positional';
    else if (NAMED.test(name)) kind = 'named';
    else {
      throw new Error(
        `${where} has the placeholder {{${name}}}: write it as a number {{1}}, {{2}}… or as a lowercase name such as {{first_name}} (letters, digits, underscores, no spaces)`,
      );
    }
    if (seen.has(name)) continue;
    seen.add(name);
    found.push({ kind, name });
  }
  return found;
}

/** Parses and checks a template; throws an Error saying what to fix when Meta would not accept it. */
export function parseTemplate(input: TemplateInput): TemplateDef {
  const name = input.name.trim();
  const language = input.language.trim();
  if (name === '') throw new Error('the template needs a name');
  if (language === '') throw new Error('the template needs a language code, e.g. en or id');
  const category = input.category ?? 'marketing';
  if (!CATEGORIES.includes(category)) {
    throw new Error(`unknown category "${category}": use marketing, utility or authentication`);
  }
  if (input.body.trim() === '') throw new Error('the template body is empty');

  const headerText = input.headerText ?? null;
  // A header text given alone means a text header, as `--header-text` implies.
  const headerFormat: HeaderFormat | null = input.headerFormat ?? (headerText !== null ? 'text' : null);
  if (headerFormat !== null && !HEADER_FORMATS.includes(headerFormat)) {
    throw new Error(`unknown header format "${headerFormat}": use text, image, video or document`);
  }
  if (headerFormat === 'text' && (headerText === null || headerText.trim() === '')) {
    throw new Error('a text header needs its text (--header-text)');
  }
  if (headerFormat !== null && headerFormat !== 'text' && headerText !== null) {
    throw new Error(`a ${headerFormat} header has no text: give either --header-text or --header-format ${headerFormat}`);
  }

  const bodyFound = scan(input.body, 'the body');
  const headerFound = headerFormat === 'text' && headerText !== null ? scan(headerText, 'the header') : [];
  if (headerFound.length > 1) {
    throw new Error(
      `the header has ${headerFound.length} placeholders (${headerFound.map((f) => `{{${f.name}}}`).join(', ')}): WhatsApp allows at most one`,
    );
  }

  const all = [...headerFound, ...bodyFound];
  const kinds = new Set(all.map((f) => f.kind));
  if (kinds.size > 1) {
    throw new Error(
      'the template mixes numbered placeholders ({{1}}) and named ones ({{first_name}}): use one kind throughout',
    );
  }
  const parameterFormat: TemplateDef['parameterFormat'] = kinds.has('named') ? 'named' : 'positional';

  let bodySlots: string[];
  if (parameterFormat === 'positional') {
    // Header and body number their placeholders separately; each must be exactly 1..n.
    checkContiguous(headerFound, 'the header');
    const numbers = checkContiguous(bodyFound, 'the body');
    // Positional parameters are sent by position, so send order is numeric order even if the text
    // happens to mention {{2}} before {{1}}.
    bodySlots = numbers.map((n) => `body.${n}`);
  } else {
    bodySlots = bodyFound.map((f) => `body.${f.name}`);
  }

  const slots: string[] = [];
  const mediaHeader = headerFormat !== null && headerFormat !== 'text';
  if (headerFound.length === 1 || mediaHeader) slots.push('header.1');
  slots.push(...bodySlots);
  const urlButton = input.urlButton === true;
  if (urlButton) slots.push('button.0');

  return {
    name,
    language,
    category,
    body: input.body,
    headerText: headerFormat === 'text' ? headerText : null,
    headerFormat,
    urlButton,
    parameterFormat,
    slots,
  };
}

/** Returns the sorted placeholder numbers after checking they are exactly 1..n. */
function checkContiguous(found: Found[], where: string): number[] {
  const numbers = found.map((f) => Number(f.name)).sort((a, b) => a - b);
  numbers.forEach((n, i) => {
    if (n !== i + 1) {
      const expected = numbers.map((_, j) => `{{${j + 1}}}`).join(', ');
      throw new Error(
        `${where} uses ${numbers.map((k) => `{{${k}}}`).join(', ')}: numbered placeholders must be ${expected} with none skipped`,
      );
    }
  });
  return numbers;
}

/**
 * The placeholder name Meta knows a slot by: `first_name` for `body.first_name`, the header's own name
 * for `header.1` in a named template. Null for positional slots, media links and the button, which
 * carry no `parameter_name` on the wire.
 */
export function slotParameterName(template: TemplateDef, slot: string): string | null {
  if (template.parameterFormat !== 'named') return null;
  if (slot.startsWith('body.')) return slot.slice('body.'.length);
  if (slot === 'header.1' && template.headerFormat === 'text' && template.headerText !== null) {
    return scan(template.headerText, 'the header')[0]?.name ?? null;
  }
  return null;
}

/** A readable label for messages: `body.2` → `body {{2}}`, `button.0` → `URL button suffix`. */
export function slotLabel(slot: string): string {
  if (slot === 'button.0') return 'URL button suffix';
  const dot = slot.indexOf('.');
  if (dot < 0) return slot;
  const part = slot.slice(0, dot);
  return `${part} {{${slot.slice(dot + 1)}}}`;
}

/**
 * The spec's default mapping: "a column whose header equals a placeholder's name (`1`, `first_name`)
 * fills it". Returns slot → the column's header as written in the file, for the slots it could fill.
 *
 * A column may also be named after the slot itself (`body.1`, `header.1`, `button.0`), which is the only
 * way to reach the header and the button by name: a column `1` is the body's `{{1}}`, never the
 * header's, because both are numbered from 1. `headerName` is the named header placeholder (see
 * `slotParameterName`), which can be matched by its bare name since names are unambiguous.
 *
 * Headers are compared after trimming; named ones case-insensitively, as spreadsheets capitalise. The
 * first matching column wins. Slots with no matching column are left out: the caller reports them.
 */
export function autoMapSlots(
  slots: readonly string[],
  columns: readonly string[],
  headerName?: string | null,
): Record<string, string> {
  const normalised = columns.map((c) => c.trim().toLowerCase());
  const find = (wanted: string): number => normalised.indexOf(wanted.toLowerCase());
  const mapped: Record<string, string> = {};
  for (const slot of slots) {
    let index = find(slot);
    if (index < 0) {
      const bare = bareName(slot, headerName);
      if (bare !== null) index = find(bare);
    }
    const column = columns[index];
    if (index >= 0 && column !== undefined) mapped[slot] = column;
  }
  return mapped;
}

function bareName(slot: string, headerName: string | null | undefined): string | null {
  if (slot.startsWith('body.')) return slot.slice('body.'.length);
  if (slot === 'header.1' && headerName) return headerName;
  return null;
}
