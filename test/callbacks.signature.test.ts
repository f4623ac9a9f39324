import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signBody, verifySignature } from '../src/callbacks/signature.ts';

const SECRET = 'TEST_APP_SECRET';
const VECTOR = 'sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221';

test("signBody matches Meta's test vector", () => {
  assert.equal(signBody('test', SECRET), VECTOR);
  assert.equal(signBody(Buffer.from('test'), SECRET), VECTOR);
});

test('verifySignature', async (t) => {
  const body = Buffer.from('test');
  const cases: Array<[name: string, raw: Buffer, header: string | undefined, secret: string, want: boolean]> = [
    ['the test vector', body, VECTOR, SECRET, true],
    ['upper-case hex and prefix', body, VECTOR.toUpperCase(), SECRET, true],
    ['surrounding spaces', body, ` ${VECTOR} `, SECRET, true],
    ['another body', Buffer.from('test '), VECTOR, SECRET, false],
    ['another secret', body, VECTOR, 'OTHER', false],
    ['missing header', body, undefined, SECRET, false],
    ['empty header', body, '', SECRET, false],
    ['no prefix', body, VECTOR.slice('sha256='.length), SECRET, false],
    ['sha1 prefix', body, 'sha1=' + VECTOR.slice('sha256='.length), SECRET, false],
    ['too short', body, VECTOR.slice(0, -2), SECRET, false],
    ['too long', body, VECTOR + '00', SECRET, false],
    ['not hex', body, 'sha256=' + 'z'.repeat(64), SECRET, false],
    ['odd characters', body, 'sha256=' + '€'.repeat(64), SECRET, false],
    ['only the prefix', body, 'sha256=', SECRET, false],
  ];
  for (const [name, raw, header, secret, want] of cases) {
    await t.test(name, () => assert.equal(verifySignature(raw, header, secret), want));
  }
});

test('the signature covers the raw bytes, not re-serialised JSON', () => {
  const raw = Buffer.from('{"a": 1,  "b":"\\u00e9"}');
  const header = signBody(raw, SECRET);
  assert.equal(verifySignature(raw, header, SECRET), true);
  assert.equal(verifySignature(Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), header, SECRET), false);
});
