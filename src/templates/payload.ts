/**
 * The Cloud API wire format of one template message (see spec/whatsapp.md, "Template send").
 *
 * Pure: no I/O, no clock. The Cloud adapter, the 360dialog and BSP adapters (same body) and the sandbox's
 * tests all build their bodies here, so there is one place that knows how slots become components.
 */
import type { TemplateDef, TemplateParams } from './types.ts';
import type { SendRequest } from '../providers/types.ts';

export interface CloudTextParameter {
  type: 'text';
  text: string;
  /** Only for templates registered with `parameter_format: NAMED`. */
  parameter_name?: string;
}

export interface CloudMediaParameter {
  type: 'image' | 'video' | 'document';
  image?: { link: string };
  video?: { link: string };
  document?: { link: string };
}

export type CloudParameter = CloudTextParameter | CloudMediaParameter;

export type CloudComponent =
  | { type: 'header'; parameters: CloudParameter[] }
  | { type: 'body'; parameters: CloudTextParameter[] }
  | { type: 'button'; sub_type: 'url'; index: string; parameters: CloudTextParameter[] };

export interface CloudTemplate {
  name: string;
  language: { code: string; policy: 'deterministic' };
  components: CloudComponent[];
}

export interface CloudMessage {
  messaging_product: 'whatsapp';
  recipient_type: 'individual';
  to: string;
  type: 'template';
  template: CloudTemplate;
}

const HEADER_SLOT = 'header.1';
const BUTTON_SLOT = 'button.0';
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/;

/**
 * Read one slot's value. Ingest has already checked every row against the template's slots, so a missing
 * value here is a bug upstream: failing loudly beats sending a message with an empty parameter.
 */
function value(template: TemplateDef, params: TemplateParams, slot: string): string {
  const v = params[slot];
  if (typeof v !== 'string') {
    throw new Error(`template ${template.name}: no value for parameter slot ${slot}`);
  }
  return v;
}

function textParameter(template: TemplateDef, text: string, name: string): CloudTextParameter {
  // Meta matches named parameters by name; positional ones by order, and refuses a stray parameter_name.
  return template.parameterFormat === 'named'
    ? { type: 'text', text, parameter_name: name }
    : { type: 'text', text };
}

function headerComponent(template: TemplateDef, params: TemplateParams): CloudComponent | null {
  if (!template.headerFormat || !template.slots.includes(HEADER_SLOT)) return null;
  const v = value(template, params, HEADER_SLOT);
  if (template.headerFormat === 'text') {
    // The slot is always `header.1`; a named template's parameter name is the placeholder in the header text.
    const name = PLACEHOLDER.exec(template.headerText ?? '')?.[1] ?? '1';
    return { type: 'header', parameters: [textParameter(template, v, name)] };
  }
  const format = template.headerFormat;
  const media: CloudMediaParameter = { type: format };
  media[format] = { link: v };
  return { type: 'header', parameters: [media] };
}

function bodyComponent(template: TemplateDef, params: TemplateParams): CloudComponent | null {
  // `slots` is already in order of first appearance in the body, which is the order Meta expects.
  const parameters = template.slots
    .filter((slot) => slot.startsWith('body.'))
    .map((slot) => textParameter(template, value(template, params, slot), slot.slice('body.'.length)));
  return parameters.length > 0 ? { type: 'body', parameters } : null;
}

function buttonComponent(template: TemplateDef, params: TemplateParams): CloudComponent | null {
  if (!template.urlButton || !template.slots.includes(BUTTON_SLOT)) return null;
  // The URL suffix is positional even in named templates: Meta has no parameter_name for buttons.
  return {
    type: 'button',
    sub_type: 'url',
    index: '0',
    parameters: [{ type: 'text', text: value(template, params, BUTTON_SLOT) }],
  };
}

/**
 * The `template` object of a Cloud API send. Components appear in the order header, body, button, and a
 * component without parameters is left out (a static header or body needs nothing at send time).
 */
export function buildCloudTemplate(template: TemplateDef, params: TemplateParams): CloudTemplate {
  const components: CloudComponent[] = [];
  for (const c of [
    headerComponent(template, params),
    bodyComponent(template, params),
    buttonComponent(template, params),
  ]) {
    if (c) components.push(c);
  }
  return {
    name: template.name,
    language: { code: template.language, policy: 'deterministic' },
    components,
  };
}

/** The whole request body of `POST /{phone-number-id}/messages`; `to` is the E.164 number without '+'. */
export function buildCloudMessage(req: SendRequest): CloudMessage {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: req.to.replace(/\D/g, ''),
    type: 'template',
    template: buildCloudTemplate(req.template, req.params),
  };
}
