/**
 * The Cloud API template body: shape per spec/whatsapp.md, and validity against Meta's own OpenAPI file
 * (with the three documented quirks relaxed, and its discriminators made enforceable so the
 * per-parameter schemas are really checked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCloudMessage, buildCloudTemplate } from '../src/templates/payload.ts';
import type { TemplateDef } from '../src/templates/types.ts';
import type { SendRequest } from '../src/providers/types.ts';
import { loadCloudSendValidator, schemaErrors } from './helpers/openapi.ts';
import { cloudMessage } from './helpers/fake-provider.ts';

function def(over: Partial<TemplateDef>): TemplateDef {
  return {
    name: 'order_update',
    language: 'id',
    category: 'utility',
    body: 'Hi {{1}}, order {{2}} is on its way.',
    headerText: null,
    headerFormat: null,
    urlButton: false,
    parameterFormat: 'positional',
    slots: ['body.1', 'body.2'],
    ...over,
  };
}

const validate = loadCloudSendValidator();

function assertValid(body: unknown): void {
  const ok = validate(body);
  assert.ok(ok, schemaErrors(validate));
}

function req(template: TemplateDef, params: Record<string, string>): SendRequest {
  return { to: '+6281234567890', template, params };
}

test('positional body: one text parameter per slot, in order, no parameter_name', () => {
  const t = def({});
  const body = buildCloudMessage(req(t, { 'body.1': 'Budi', 'body.2': 'ORD-17' }));
  assert.deepEqual(body, cloudMessage({
    name: 'order_update',
    language: { code: 'id', policy: 'deterministic' },
    components: [
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'Budi' },
          { type: 'text', text: 'ORD-17' },
        ],
      },
    ],
  }));
  assertValid(body);
});

test('named template: parameter_name on body and text-header parameters', () => {
  const t = def({
    parameterFormat: 'named',
    body: 'Hi {{first_name}}, your code is {{code}}.',
    headerFormat: 'text',
    headerText: 'News for {{city}}',
    slots: ['header.1', 'body.first_name', 'body.code'],
  });
  const tpl = buildCloudTemplate(t, { 'header.1': 'Bandung', 'body.first_name': 'Sari', 'body.code': 'X1' });
  assert.deepEqual(tpl.components, [
    { type: 'header', parameters: [{ type: 'text', text: 'Bandung', parameter_name: 'city' }] },
    {
      type: 'body',
      parameters: [
        { type: 'text', text: 'Sari', parameter_name: 'first_name' },
        { type: 'text', text: 'X1', parameter_name: 'code' },
      ],
    },
  ]);
  assertValid(buildCloudMessage(req(t, { 'header.1': 'Bandung', 'body.first_name': 'Sari', 'body.code': 'X1' })));
});

test('media headers carry the link under their own format key', () => {
  for (const format of ['image', 'video', 'document'] as const) {
    const t = def({ headerFormat: format, slots: ['header.1', 'body.1', 'body.2'] });
    const params = { 'header.1': `https://example.com/a.${format}`, 'body.1': 'Budi', 'body.2': 'ORD-17' };
    const tpl = buildCloudTemplate(t, params);
    assert.deepEqual(tpl.components[0], {
      type: 'header',
      parameters: [{ type: format, [format]: { link: `https://example.com/a.${format}` } }],
    });
    assertValid(buildCloudMessage(req(t, params)));
  }
});

test('url button: sub_type url, index "0", the suffix as a text parameter; order header, body, button', () => {
  const t = def({ headerFormat: 'image', urlButton: true, slots: ['header.1', 'body.1', 'body.2', 'button.0'] });
  const params = { 'header.1': 'https://example.com/a.jpg', 'body.1': 'Budi', 'body.2': 'ORD-17', 'button.0': 'ORD-17' };
  const body = buildCloudMessage(req(t, params));
  assert.deepEqual(
    body.template.components.map((c) => c.type),
    ['header', 'body', 'button'],
  );
  assert.deepEqual(body.template.components[2], {
    type: 'button',
    sub_type: 'url',
    index: '0',
    parameters: [{ type: 'text', text: 'ORD-17' }],
  });
  assertValid(body);
});

test('components without parameters are omitted', () => {
  // A static text header, a body without placeholders and a static URL button need nothing at send time.
  const t = def({ body: 'Our store opens today.', headerFormat: 'text', headerText: 'Hello', urlButton: true, slots: [] });
  const body = buildCloudMessage(req(t, {}));
  assert.deepEqual(body.template.components, []);
  assertValid(body);
});

test('a missing slot value is a loud error, never an empty parameter', () => {
  assert.throws(() => buildCloudTemplate(def({}), { 'body.1': 'Budi' }), /body\.2/);
});

test('the validator bites: broken bodies are rejected', () => {
  const good = buildCloudMessage(req(def({}), { 'body.1': 'Budi', 'body.2': 'ORD-17' }));
  const clone = (): any => structuredClone(good);

  const noName = clone();
  delete noName.template.name;
  assert.equal(validate(noName), false, 'template without a name');

  const noText = clone();
  delete noText.template.components[0].parameters[0].text;
  assert.equal(validate(noText), false, 'text parameter without text');

  const badComponent = clone();
  badComponent.template.components[0].type = 'footer';
  assert.equal(validate(badComponent), false, 'unknown component type');

  const badMedia = buildCloudMessage(
    req(def({ headerFormat: 'image', slots: ['header.1'] }), { 'header.1': 'https://example.com/a.jpg' }),
  ) as any;
  delete badMedia.template.components[0].parameters[0].image.link;
  assert.equal(validate(badMedia), false, 'image parameter without link or id');

  const buttonWithoutIndex = buildCloudMessage(
    req(def({ urlButton: true, slots: ['button.0'] }), { 'button.0': 'x' }),
  ) as any;
  delete buttonWithoutIndex.template.components[0].index;
  assert.equal(validate(buttonWithoutIndex), false, 'button without index');
});
