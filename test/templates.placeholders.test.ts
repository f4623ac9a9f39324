import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoMapSlots, parseTemplate, slotLabel, slotParameterName, type TemplateInput } from '../src/templates/placeholders.ts';

const base: TemplateInput = { name: 'order_update', language: 'id', category: 'marketing', body: 'Halo', headerText: null, headerFormat: null, urlButton: false };

test('parseTemplate computes format and slots', async (t) => {
  const cases: Array<{ name: string; input: Partial<TemplateInput>; format: 'positional' | 'named'; slots: string[] }> = [
    { name: 'no placeholders', input: { body: 'Promo hari ini!' }, format: 'positional', slots: [] },
    { name: 'positional body', input: { body: 'Halo {{1}}, pesanan {{2}} dikirim' }, format: 'positional', slots: ['body.1', 'body.2'] },
    { name: 'positional repeated', input: { body: '{{1}} {{2}} {{1}}' }, format: 'positional', slots: ['body.1', 'body.2'] },
    { name: 'positional out of textual order is sent in numeric order', input: { body: '{{2}} then {{1}}' }, format: 'positional', slots: ['body.1', 'body.2'] },
    { name: 'named body in order of appearance', input: { body: 'Hi {{first_name}}, order {{order_id}} for {{first_name}}' }, format: 'named', slots: ['body.first_name', 'body.order_id'] },
    { name: 'text header with placeholder', input: { headerText: 'Order {{1}}', headerFormat: 'text', body: 'Hi {{1}}' }, format: 'positional', slots: ['header.1', 'body.1'] },
    { name: 'header text implies text format', input: { headerText: 'Order {{1}}', body: 'Hi' }, format: 'positional', slots: ['header.1'] },
    { name: 'static text header', input: { headerText: 'Big sale', headerFormat: 'text', body: 'Hi {{1}}' }, format: 'positional', slots: ['body.1'] },
    { name: 'named header', input: { headerText: 'Order {{order_id}}', body: 'Hi {{first_name}}' }, format: 'named', slots: ['header.1', 'body.first_name'] },
    { name: 'image header', input: { headerFormat: 'image', body: 'Hi {{1}}' }, format: 'positional', slots: ['header.1', 'body.1'] },
    { name: 'document header and url button', input: { headerFormat: 'document', body: 'Invoice {{1}}', urlButton: true }, format: 'positional', slots: ['header.1', 'body.1', 'button.0'] },
    { name: 'url button only', input: { body: 'Track it', urlButton: true }, format: 'positional', slots: ['button.0'] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const def = parseTemplate({ ...base, ...c.input });
      assert.equal(def.parameterFormat, c.format);
      assert.deepEqual(def.slots, c.slots);
    });
  }
});

test('parseTemplate keeps the template fields', () => {
  const def = parseTemplate({ name: ' promo ', language: 'en', body: 'Hi {{1}}', headerText: null, headerFormat: 'video', urlButton: true });
  assert.deepEqual(def, {
    name: 'promo',
    language: 'en',
    category: 'marketing',
    body: 'Hi {{1}}',
    headerText: null,
    headerFormat: 'video',
    urlButton: true,
    parameterFormat: 'positional',
    slots: ['header.1', 'body.1', 'button.0'],
  });
});

test('parseTemplate refuses what Meta would not approve, saying what to fix', async (t) => {
  const cases: Array<{ name: string; input: Partial<TemplateInput>; message: RegExp }> = [
    { name: 'mixed kinds', input: { body: 'Hi {{1}} {{name}}' }, message: /mixes numbered .* and named/ },
    { name: 'mixed across header and body', input: { headerText: 'Order {{order}}', body: 'Hi {{1}}' }, message: /mixes/ },
    { name: 'gap', input: { body: '{{1}} {{3}}' }, message: /must be \{\{1\}\}, \{\{2\}\} with none skipped/ },
    { name: 'does not start at 1', input: { body: '{{2}}' }, message: /must be \{\{1\}\}/ },
    { name: 'zero', input: { body: '{{0}}' }, message: /placeholder \{\{0\}\}/ },
    { name: 'leading zero', input: { body: '{{01}}' }, message: /placeholder \{\{01\}\}/ },
    { name: 'capitals and spaces', input: { body: 'Hi {{First Name}}' }, message: /\{\{First Name\}\}.*lowercase/ },
    { name: 'two header placeholders', input: { headerText: '{{1}} {{2}}', body: 'x' }, message: /header has 2 placeholders.*at most one/ },
    { name: 'header gap', input: { headerText: 'Order {{2}}', body: 'x' }, message: /the header uses \{\{2\}\}/ },
    { name: 'empty body', input: { body: '  ' }, message: /body is empty/ },
    { name: 'text header without text', input: { headerFormat: 'text' }, message: /needs its text/ },
    { name: 'media header with text', input: { headerFormat: 'image', headerText: 'x' }, message: /image header has no text/ },
    { name: 'unknown header format', input: { headerFormat: 'gif' as never }, message: /unknown header format "gif"/ },
    { name: 'unknown category', input: { category: 'promo' as never }, message: /unknown category "promo"/ },
    { name: 'no name', input: { name: ' ' }, message: /needs a name/ },
    { name: 'no language', input: { language: '' }, message: /language code/ },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.throws(() => parseTemplate({ ...base, ...c.input }), c.message);
    });
  }
});

test('slotParameterName gives Meta names only for named templates', () => {
  const named = parseTemplate({ ...base, headerText: 'Order {{order_id}}', body: 'Hi {{first_name}}', urlButton: true });
  assert.equal(slotParameterName(named, 'header.1'), 'order_id');
  assert.equal(slotParameterName(named, 'body.first_name'), 'first_name');
  assert.equal(slotParameterName(named, 'button.0'), null);
  const positional = parseTemplate({ ...base, body: 'Hi {{1}}' });
  assert.equal(slotParameterName(positional, 'body.1'), null);
});

test('slotLabel', () => {
  assert.equal(slotLabel('body.2'), 'body {{2}}');
  assert.equal(slotLabel('body.first_name'), 'body {{first_name}}');
  assert.equal(slotLabel('button.0'), 'URL button suffix');
});

test('autoMapSlots: a column named like the placeholder fills it', async (t) => {
  const cases: Array<{ name: string; slots: string[]; columns: string[]; headerName?: string; want: Record<string, string> }> = [
    { name: 'positional', slots: ['body.1', 'body.2'], columns: ['phone', '1', '2'], want: { 'body.1': '1', 'body.2': '2' } },
    { name: 'trimmed', slots: ['body.1'], columns: ['phone', ' 1 '], want: { 'body.1': ' 1 ' } },
    { name: 'named, case-insensitive', slots: ['body.first_name'], columns: ['Phone', 'First_Name'], want: { 'body.first_name': 'First_Name' } },
    { name: 'only the slots found', slots: ['body.1', 'body.2'], columns: ['phone', '2'], want: { 'body.2': '2' } },
    { name: 'full slot names', slots: ['header.1', 'body.1', 'button.0'], columns: ['phone', 'header.1', '1', 'Button.0'], want: { 'header.1': 'header.1', 'body.1': '1', 'button.0': 'Button.0' } },
    { name: 'a bare 1 is the body, not the header', slots: ['header.1', 'body.1'], columns: ['phone', '1'], want: { 'body.1': '1' } },
    { name: 'named header by its name', slots: ['header.1', 'body.name'], columns: ['order_id', 'name'], headerName: 'order_id', want: { 'header.1': 'order_id', 'body.name': 'name' } },
    { name: 'first matching column wins', slots: ['body.1'], columns: ['1', '1'], want: { 'body.1': '1' } },
    { name: 'no match', slots: ['body.1'], columns: ['phone', 'name'], want: {} },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.deepEqual(autoMapSlots(c.slots, c.columns, c.headerName), c.want);
    });
  }
});
