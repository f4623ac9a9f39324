/**
 * `campaign template sync`: fetch the templates of a `cloud` or `360dialog` channel, convert every
 * APPROVED one into the definition `campaign template add` would create, and register it.
 *
 * Three parts, so each can be tested on its own:
 *  - `fetchProviderTemplates`: the HTTP side (GET with a timeout, paging, errors without the token);
 *  - `convertTemplate`: pure, one provider template → a `template add` input, or the reason it is skipped;
 *  - `registerTemplates`: compares with what is registered and writes only what changed.
 *
 * Endpoints:
 *  - cloud: `GET {WA_BASE_URL}/{WA_WABA_ID}/message_templates` with `Authorization: Bearer …`, answering
 *    `{ data: [...], paging: { cursors: { after }, next } }` (Meta's OpenAPI file); the next page is asked
 *    for with `after=<cursor>` while the answer has a `paging.next`.
 *  - 360dialog (Cloud API hosting): `GET {WA_BASE_URL}/v1/configs/templates` with `D360-API-KEY`,
 *    answering `{ waba_templates: [...same objects as Meta's...], count, total }`, paged with
 *    `offset`/`limit`.
 */
import http from 'node:http';
import https from 'node:https';
import type { Channel } from '../config.ts';
import type { Db } from '../db/executor.ts';
import { UsageError } from '../errors.ts';
import { DEFAULT_TIMEOUT_MS, describe, readAnswer } from '../providers/http.ts';
import { parseTemplate } from './placeholders.ts';
import { addTemplate, listTemplates, type TemplateInput } from './store.ts';
import type { HeaderFormat, TemplateCategory, TemplateDef } from './types.ts';

/** The providers whose template list this module can read. */
export const SYNC_PROVIDERS = ['cloud', '360dialog'] as const;
export type SyncProvider = (typeof SYNC_PROVIDERS)[number];

/** Templates asked for per page. */
export const PAGE_SIZE = 100;
/** A provider that keeps answering "there is more" must not keep us looping: 100 pages of 100 is plenty. */
const MAX_PAGES = 100;
/** One page of templates with all their components; far more than any real page. */
const MAX_RESPONSE_BYTES = 16 << 20;

/** A template as Meta (and 360dialog) list it. Only the fields the conversion reads; all optional. */
export interface ProviderTemplate {
  name?: unknown;
  language?: unknown;
  status?: unknown;
  category?: unknown;
  parameter_format?: unknown;
  components?: unknown;
}

export interface SyncTarget {
  provider: SyncProvider;
  baseUrl: string;
  accessToken: string;
  /** cloud only. */
  wabaId?: string | undefined;
  timeoutMs?: number | undefined;
}

/**
 * The channel as a sync target, or a UsageError (exit 2) saying why it cannot be synced: another
 * provider, or cloud without WA_WABA_ID.
 */
export function syncTarget(channel: Channel): SyncTarget {
  const provider = channel.provider;
  if (provider !== 'cloud' && provider !== '360dialog') {
    throw new UsageError(
      `template sync works for the cloud and 360dialog providers; channel ${channel.name} uses ${provider}: register its templates with "campaign template add"`,
    );
  }
  if (!channel.accessToken) throw new UsageError(`WA_ACCESS_TOKEN is required for template sync with provider ${provider}`);
  if (!channel.baseUrl) throw new UsageError(`WA_BASE_URL is required for template sync with provider ${provider}`);
  if (provider === 'cloud' && !channel.wabaId) {
    throw new UsageError('WA_WABA_ID is required for template sync with provider cloud: the WhatsApp Business Account whose templates to fetch');
  }
  return { provider, baseUrl: channel.baseUrl, accessToken: channel.accessToken, wabaId: channel.wabaId };
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

type GetResult = { ok: true; status: number; body: string } | { ok: false; message: string };

/**
 * GET `url` and read the answer as text. Never rejects. Same shape of behaviour as the send client in
 * providers/http.ts (whole-request deadline, bounded answer, secret-free failure text), which only POSTs.
 */
function getText(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<GetResult> {
  return new Promise<GetResult>((resolve) => {
    let settled = false;
    const finish = (r: GetResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, { method: 'GET', headers: { accept: 'application/json', ...headers } });
    const fail = (err: unknown): void => finish({ ok: false, message: describe(err) });
    req.on('error', fail);
    req.on('response', (res) => readAnswer(req, res, MAX_RESPONSE_BYTES, fail, (body) => finish({ ok: true, status: res.statusCode ?? 0, body })));
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.end();
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The provider's own words for a failed request: Meta's `error.message`, 360dialog's `meta.developer_message`, … */
function errorText(body: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (!isRecord(parsed)) return null;
  const candidates: unknown[] = [];
  if (isRecord(parsed.error)) {
    const code = parsed.error.code;
    const msg = parsed.error.message;
    if (typeof msg === 'string') candidates.push(typeof code === 'number' || typeof code === 'string' ? `${msg} (code ${code})` : msg);
  }
  if (typeof parsed.error === 'string') candidates.push(parsed.error);
  if (isRecord(parsed.meta)) candidates.push(parsed.meta.developer_message, parsed.meta.message);
  candidates.push(parsed.message, parsed.detail);
  const first = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '');
  return first ?? null;
}

/** One line, at most 300 characters, with every occurrence of the token replaced. */
function scrub(text: string, token: string): string {
  let s = text.replace(/\s+/g, ' ').trim();
  if (token.length > 0) s = s.split(token).join('[redacted]');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

async function getPage(target: SyncTarget, url: URL, headers: Record<string, string>): Promise<Record<string, unknown>> {
  // The path says which request failed; the query (cursors, paging) adds nothing a person can act on.
  const where = `GET ${url.origin}${url.pathname}`;
  const r = await getText(url, headers, target.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  if (!r.ok) throw new Error(scrub(`template sync: ${target.provider} could not be reached (${where}): ${r.message}`, target.accessToken));
  if (r.status < 200 || r.status > 299) {
    const why = errorText(r.body);
    const hint = r.status === 401 || r.status === 403 ? ' (check WA_ACCESS_TOKEN)' : '';
    throw new Error(scrub(`template sync: ${target.provider} answered HTTP ${r.status}${hint} to ${where}${why ? `: ${why}` : ''}`, target.accessToken));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body);
  } catch {
    throw new Error(`template sync: ${target.provider} answered HTTP ${r.status} to ${where} with a body that is not JSON`);
  }
  if (!isRecord(parsed)) throw new Error(`template sync: ${target.provider} answered ${where} with JSON that is not an object`);
  return parsed;
}

function endpoint(base: string, path: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}${path}`);
}

async function fetchCloud(target: SyncTarget): Promise<ProviderTemplate[]> {
  const headers = { authorization: `Bearer ${target.accessToken}` };
  const first = endpoint(target.baseUrl, `/${encodeURIComponent(target.wabaId ?? '')}/message_templates`);
  first.searchParams.set('fields', 'name,language,status,category,parameter_format,components');
  first.searchParams.set('limit', String(PAGE_SIZE));
  const all: ProviderTemplate[] = [];
  const seenCursors = new Set<string>();
  let url: URL | null = first;
  for (let page = 0; url !== null; page++) {
    if (page >= MAX_PAGES) throw new Error(`template sync: cloud still had more templates after ${MAX_PAGES} pages; giving up`);
    const body = await getPage(target, url, headers);
    if (!Array.isArray(body.data)) throw new Error('template sync: cloud answered without a "data" array of templates');
    all.push(...(body.data as ProviderTemplate[]));
    // Graph API: `paging.next` is present only while there is a next page; `cursors.after` points at it.
    const paging = isRecord(body.paging) ? body.paging : {};
    const after = isRecord(paging.cursors) && typeof paging.cursors.after === 'string' ? paging.cursors.after : null;
    if (typeof paging.next !== 'string' || paging.next === '' || after === null || body.data.length === 0) {
      url = null;
    } else {
      if (seenCursors.has(after)) throw new Error('template sync: cloud returned the same page cursor twice; giving up');
      seenCursors.add(after);
      url = new URL(first);
      url.searchParams.set('after', after);
    }
  }
  return all;
}

async function fetch360dialog(target: SyncTarget): Promise<ProviderTemplate[]> {
  const headers = { 'D360-API-KEY': target.accessToken };
  const all: ProviderTemplate[] = [];
  let offset = 0;
  for (let page = 0; ; page++) {
    if (page >= MAX_PAGES) throw new Error(`template sync: 360dialog still had more templates after ${MAX_PAGES} pages; giving up`);
    const url = endpoint(target.baseUrl, '/v1/configs/templates');
    url.searchParams.set('limit', String(PAGE_SIZE));
    url.searchParams.set('offset', String(offset));
    const body = await getPage(target, url, headers);
    if (!Array.isArray(body.waba_templates)) throw new Error('template sync: 360dialog answered without a "waba_templates" array');
    const items = body.waba_templates as ProviderTemplate[];
    all.push(...items);
    offset += items.length;
    const total = typeof body.total === 'number' ? body.total : null;
    if (items.length === 0) break;
    if (total !== null ? offset >= total : items.length < PAGE_SIZE) break;
  }
  return all;
}

/** Every template of the account, all pages, in the provider's order. Throws a one-line Error (exit 1). */
export function fetchProviderTemplates(target: SyncTarget): Promise<ProviderTemplate[]> {
  return target.provider === 'cloud' ? fetchCloud(target) : fetch360dialog(target);
}

// ---------------------------------------------------------------------------------------------------------
// Conversion

export type Conversion =
  | { ok: true; input: TemplateInput; def: TemplateDef }
  | { ok: false; name: string; language: string; reason: string };

const CATEGORY: Record<string, TemplateCategory> = { MARKETING: 'marketing', UTILITY: 'utility', AUTHENTICATION: 'authentication' };
const MEDIA_HEADER: Record<string, HeaderFormat> = { IMAGE: 'image', VIDEO: 'video', DOCUMENT: 'document' };
/** Buttons that take no parameter at send time. */
const STATIC_BUTTONS = new Set(['QUICK_REPLY', 'PHONE_NUMBER']);
/**
 * Authentication one-time-password buttons: their code is sent exactly like a URL button's suffix
 * (`{type: button, sub_type: url, index: "0", parameters: [{type: text, text: <code>}]}`).
 */
const OTP_TYPES = new Set(['COPY_CODE', 'ONE_TAP', 'ZERO_TAP']);

function upper(v: unknown): string {
  return typeof v === 'string' ? v.trim().toUpperCase() : '';
}

/**
 * One provider template → the input `template add` takes (and its parsed definition), or why it is
 * skipped: not APPROVED, or something this tool cannot fill at send time (a carousel, a flow or catalog
 * button, a location header, a dynamic URL button that is not the first button, …).
 */
export function convertTemplate(t: ProviderTemplate): Conversion {
  const name = typeof t.name === 'string' ? t.name : '';
  const language = typeof t.language === 'string' ? t.language : '';
  const skip = (reason: string): Conversion => ({ ok: false, name, language, reason });
  if (name === '' || language === '') return skip('the provider listed it without a name or language');

  const status = upper(t.status);
  if (status !== 'APPROVED') return skip(`status ${status || 'unknown'}: only APPROVED templates are registered`);

  const category = CATEGORY[upper(t.category)];
  if (!category) return skip(`unknown category ${upper(t.category) || '(none)'}`);

  const components = Array.isArray(t.components) ? t.components : [];
  let body: string | null = null;
  let headerText: string | null = null;
  let headerFormat: HeaderFormat | null = null;
  let urlButton = false;
  for (const c of components) {
    if (!isRecord(c)) return skip('a component is not an object');
    const type = upper(c.type);
    if (type === 'BODY') {
      if (typeof c.text !== 'string') return skip('its BODY has no text');
      body = c.text;
    } else if (type === 'HEADER') {
      const format = upper(c.format);
      if (format === 'TEXT') {
        if (typeof c.text !== 'string') return skip('its TEXT header has no text');
        headerText = c.text;
        headerFormat = 'text';
      } else if (MEDIA_HEADER[format]) {
        headerFormat = MEDIA_HEADER[format];
      } else {
        return skip(`a ${format || 'header without a format'} header cannot be sent by this tool (text, image, video and document can)`);
      }
    } else if (type === 'FOOTER') {
      // Static text: nothing to send.
    } else if (type === 'BUTTONS') {
      const buttons = Array.isArray(c.buttons) ? c.buttons : [];
      for (const [index, b] of buttons.entries()) {
        if (!isRecord(b)) return skip('a button is not an object');
        const btype = upper(b.type);
        let dynamic: boolean;
        if (btype === 'URL') dynamic = typeof b.url === 'string' && b.url.includes('{{');
        else if (btype === 'OTP' && OTP_TYPES.has(upper(b.otp_type))) dynamic = true;
        else if (STATIC_BUTTONS.has(btype)) dynamic = false;
        else {
          const what = btype === 'OTP' ? `OTP button of type ${upper(b.otp_type) || 'unknown'}` : `${btype || 'untyped'} button`;
          return skip(`a ${what} cannot be sent by this tool`);
        }
        if (!dynamic) continue;
        // The tool has one button slot, sent as index "0": a dynamic button elsewhere would get the wrong index.
        if (index !== 0) return skip(`its button ${index + 1} takes a parameter; only the first button's (button.0) can be filled`);
        urlButton = true;
      }
    } else {
      return skip(`a ${type || 'untyped'} component cannot be sent by this tool`);
    }
  }
  if (body === null) return skip('it has no BODY text');

  const input: TemplateInput = { name, language, category, body, headerText, headerFormat, urlButton };
  let def: TemplateDef;
  try {
    def = parseTemplate(input);
  } catch (err) {
    return skip((err as Error).message);
  }
  const declared = upper(t.parameter_format);
  const hasPlaceholders = def.slots.some((s) => s.startsWith('body.') || (s === 'header.1' && def.headerFormat === 'text'));
  if (hasPlaceholders && declared !== '' && declared !== def.parameterFormat.toUpperCase()) {
    return skip(`parameter_format is ${declared} but its placeholders are ${def.parameterFormat}`);
  }
  return { ok: true, input, def };
}

// ---------------------------------------------------------------------------------------------------------
// Registering

export interface SyncedTemplate {
  name: string;
  language: string;
  category: TemplateCategory;
  slots: string[];
}

export interface SkippedTemplate {
  name: string;
  language: string;
  reason: string;
}

export interface SyncResult {
  /** New name+language pairs. */
  registered: SyncedTemplate[];
  /** Already registered, with a different copy: replaced by the provider's. */
  updated: SyncedTemplate[];
  /** Already registered exactly so: left alone (not rewritten). */
  unchanged: SyncedTemplate[];
  skipped: SkippedTemplate[];
}

function key(name: string, language: string): string {
  return `${name}\u0000${language}`;
}

function sameDef(a: TemplateDef, b: TemplateDef): boolean {
  return a.category === b.category && a.body === b.body && a.headerFormat === b.headerFormat
    && a.headerText === b.headerText && a.urlButton === b.urlButton && a.parameterFormat === b.parameterFormat
    && a.slots.length === b.slots.length && a.slots.every((s, i) => s === b.slots[i]);
}

/**
 * Register the provider's templates. A name+language not yet known is registered; one already known is
 * replaced when its copy differs (the provider is the truth, as with `template add`) and left untouched
 * when identical, so a re-sync writes nothing. Registered templates the provider no longer lists are kept:
 * campaigns refer to them.
 */
export async function registerTemplates(db: Db, templates: ProviderTemplate[]): Promise<SyncResult> {
  const existing = new Map((await listTemplates(db)).map((t) => [key(t.name, t.language), t]));
  const result: SyncResult = { registered: [], updated: [], unchanged: [], skipped: [] };
  const done = new Set<string>();
  for (const t of templates) {
    const c = convertTemplate(t);
    if (!c.ok) {
      result.skipped.push({ name: c.name, language: c.language, reason: c.reason });
      continue;
    }
    const k = key(c.def.name, c.def.language);
    if (done.has(k)) {
      result.skipped.push({ name: c.def.name, language: c.def.language, reason: 'listed twice by the provider; the first one was used' });
      continue;
    }
    done.add(k);
    const summary: SyncedTemplate = { name: c.def.name, language: c.def.language, category: c.def.category, slots: c.def.slots };
    const before = existing.get(k);
    if (before && sameDef(before, c.def)) {
      result.unchanged.push(summary);
      continue;
    }
    await addTemplate(db, c.input);
    (before ? result.updated : result.registered).push(summary);
  }
  return result;
}

/** Fetch and register: the whole of `campaign template sync` but the printing. */
export async function syncTemplates(db: Db, target: SyncTarget): Promise<SyncResult> {
  return registerTemplates(db, await fetchProviderTemplates(target));
}
