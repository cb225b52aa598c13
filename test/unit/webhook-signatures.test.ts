import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCredential, signBody, verifyWebhook, header } from '../../shared/git/signatures.ts';
import { rawBody, MAX_WEBHOOK_BYTES } from '../../shared/services/ingest-webhook.ts';
import { PayloadTooLargeError } from '../../shared/domain/errors.ts';

// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
const VECTOR_SECRET = "It's a Secret to Everybody";
const VECTOR_BODY = Buffer.from('Hello, World!');
const VECTOR_SIGNATURE = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

test("GitHub's published test vector verifies", () => {
  assert.equal(signBody(VECTOR_SECRET, VECTOR_BODY), VECTOR_SIGNATURE);
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': VECTOR_SIGNATURE }, VECTOR_BODY, VECTOR_SECRET), true);
});

test('header names are case-insensitive', () => {
  assert.equal(verifyWebhook('github', { 'X-Hub-Signature-256': VECTOR_SIGNATURE }, VECTOR_BODY, VECTOR_SECRET), true);
  assert.equal(header({ 'X-GITHUB-DELIVERY': 'abc' }, 'x-github-delivery'), 'abc');
});

test('an upper-case hex digest is the same digest', () => {
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': `sha256=${VECTOR_SIGNATURE.slice(7).toUpperCase()}` }, VECTOR_BODY, VECTOR_SECRET), true);
});

test('a wrong secret does not verify', () => {
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': VECTOR_SIGNATURE }, VECTOR_BODY, "It's a Secret to Nobody"), false);
});

test('an empty secret never verifies, even a signature made with it', () => {
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': signBody('', VECTOR_BODY) }, VECTOR_BODY, ''), false);
  assert.equal(verifyWebhook('gitlab', { 'x-gitlab-token': 'x' }, VECTOR_BODY, ''), false);
});

test('a missing signature header does not verify', () => {
  assert.equal(readCredential('github', {}), undefined);
  assert.equal(verifyWebhook('github', {}, VECTOR_BODY, VECTOR_SECRET), false);
  assert.equal(verifyWebhook('bitbucket', {}, VECTOR_BODY, VECTOR_SECRET), false);
  assert.equal(verifyWebhook('gitlab', {}, VECTOR_BODY, VECTOR_SECRET), false);
});

test("GitHub's legacy SHA-1 X-Hub-Signature alone is not accepted", () => {
  assert.equal(readCredential('github', { 'x-hub-signature': 'sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59' }), undefined);
});

test('malformed signatures are rejected without throwing', () => {
  for (const v of ['', 'sha256=', 'sha256=abc', `sha1=${'a'.repeat(64)}`, `sha256=${'g'.repeat(64)}`, `sha256=${'a'.repeat(66)}`, VECTOR_SIGNATURE.slice(7)]) {
    assert.equal(verifyWebhook('github', { 'x-hub-signature-256': v }, VECTOR_BODY, VECTOR_SECRET), false, v);
  }
});

test('a tampered body does not verify', () => {
  const tampered = Buffer.from('Hello, World?');
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': VECTOR_SIGNATURE }, tampered, VECTOR_SECRET), false);
  // One trailing newline is enough.
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': VECTOR_SIGNATURE }, Buffer.from('Hello, World!\n'), VECTOR_SECRET), false);
});

test('Bitbucket Cloud signs with sha256= in X-Hub-Signature', () => {
  const body = Buffer.from('{"push":{}}');
  const sig = signBody('bb-secret', body);
  assert.equal(verifyWebhook('bitbucket', { 'X-Hub-Signature': sig }, body, 'bb-secret'), true);
  assert.equal(verifyWebhook('bitbucket', { 'X-Hub-Signature': sig }, body, 'other'), false);
  // The GitHub header name does not count for Bitbucket.
  assert.equal(verifyWebhook('bitbucket', { 'X-Hub-Signature-256': sig }, body, 'bb-secret'), false);
});

test('GitLab compares the shared token, whatever its length', () => {
  const body = Buffer.from('{}');
  assert.equal(verifyWebhook('gitlab', { 'X-Gitlab-Token': 'gl-token-123' }, body, 'gl-token-123'), true);
  assert.equal(verifyWebhook('gitlab', { 'X-Gitlab-Token': 'gl-token-12' }, body, 'gl-token-123'), false);
  assert.equal(verifyWebhook('gitlab', { 'X-Gitlab-Token': 'gl-token-1234' }, body, 'gl-token-123'), false);
  assert.equal(verifyWebhook('gitlab', { 'X-Gitlab-Token': '' }, body, 'gl-token-123'), false);
});

test('a base64-encoded body verifies against the decoded bytes', () => {
  const decoded = rawBody({ body: VECTOR_BODY.toString('base64'), isBase64Encoded: true });
  assert.deepEqual(decoded, VECTOR_BODY);
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': VECTOR_SIGNATURE }, decoded, VECTOR_SECRET), true);
});

test('non-UTF-8 bytes survive base64 decoding exactly (signing the re-encoded text would not verify)', () => {
  const bytes = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0xff, 0x22, 0x7d]); // {"a":"\xe9\xff"}
  const sig = signBody('s', bytes);
  const decoded = rawBody({ body: bytes.toString('base64'), isBase64Encoded: true });
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': sig }, decoded, 's'), true);
  const lossy = Buffer.from(bytes.toString('utf8'), 'utf8');
  assert.equal(verifyWebhook('github', { 'x-hub-signature-256': sig }, lossy, 's'), false);
});

test('a body over 1 MiB is refused before it is decoded', () => {
  const big = 'x'.repeat(MAX_WEBHOOK_BYTES + 1);
  assert.throws(() => rawBody({ body: big }), PayloadTooLargeError);
  assert.throws(() => rawBody({ body: Buffer.from(big).toString('base64'), isBase64Encoded: true }), PayloadTooLargeError);
  // Multi-byte characters count as bytes, not characters.
  assert.throws(() => rawBody({ body: 'é'.repeat(MAX_WEBHOOK_BYTES / 2 + 1) }), PayloadTooLargeError);
  assert.equal(rawBody({ body: 'x'.repeat(MAX_WEBHOOK_BYTES) }).length, MAX_WEBHOOK_BYTES);
});
