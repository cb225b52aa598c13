import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Provider } from '../../shared/domain/pipeline.ts';
import { respondToWebhook, type WebhookDeps } from '../../shared/services/ingest-webhook.ts';
import { signBody } from '../../shared/git/signatures.ts';
import { gitWebhooks } from '../../shared/git/protocol.ts';
import {
  eventHeaderValue, fixture, MemorySecrets, pipelineRecord, signedHeaders,
} from '../fixtures/webhooks/support.ts';
import { MemoryDeliveryStore, MemoryEventQueue, MemoryPipelineStore } from '../support/memory-stores.ts';

const SECRETS = { 'slipway/web/webhook': 'gh-secret', 'slipway/api/webhook': 'gl-token', 'slipway/billing/webhook': 'bb-secret' };
const SECRET_OF: Record<Provider, string> = { github: 'gh-secret', gitlab: 'gl-token', bitbucket: 'bb-secret' };

function deps(): WebhookDeps & { queue: MemoryEventQueue; deliveries: MemoryDeliveryStore } {
  return {
    protocol: gitWebhooks,
    pipelines: new MemoryPipelineStore().seed(...[pipelineRecord('web'), pipelineRecord('api', { provider: 'gitlab' }), pipelineRecord('billing', { provider: 'bitbucket' })]),
    deliveries: new MemoryDeliveryStore(),
    queue: new MemoryEventQueue(),
    secrets: new MemorySecrets(SECRETS),
  };
}

const FIXTURES: Array<[Provider, string]> = [
  ['github', 'push'], ['github', 'pull_request-opened'], ['github', 'ping'], ['github', 'push-tag'],
  ['gitlab', 'push'], ['gitlab', 'merge_request-update'], ['gitlab', 'tag_push'],
  ['bitbucket', 'repo-push'], ['bitbucket', 'pullrequest-created'],
];

const provider = fc.constantFrom<Provider>('github', 'gitlab', 'bitbucket');
const headerName = fc.constantFrom(
  'X-Hub-Signature-256', 'x-hub-signature', 'X-Gitlab-Token', 'X-GitHub-Event', 'X-GitHub-Delivery', 'X-Gitlab-Event',
  'X-Gitlab-Event-UUID', 'X-Event-Key', 'X-Request-UUID', 'Content-Type',
);
const headerValue = fc.oneof(
  fc.string(),
  fc.constantFrom('push', 'pull_request', 'ping', 'Push Hook', 'Merge Request Hook', 'repo:push', 'pullrequest:created', 'gh-secret', 'gl-token'),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => `sha256=${Buffer.from(a).toString('hex')}`),
);
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 8 });

/** JSON-ish bodies: random JSON, fixture bodies, fixture bodies with one field replaced, raw bytes. */
const body = fc.oneof(
  fc.json().map((j) => Buffer.from(j)),
  fc.constantFrom(...FIXTURES).map(([p, n]) => fixture(p, n)),
  fc.tuple(fc.constantFrom(...FIXTURES), fc.string({ maxLength: 20 }), fc.jsonValue()).map(([[p, n], key, value]) => {
    const obj = JSON.parse(fixture(p, n).toString());
    const keys = Object.keys(obj);
    obj[keys[key.length % keys.length]] = value;
    return Buffer.from(JSON.stringify(obj));
  }),
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
);

test('random bodies and headers: never a 5xx, never a run without a valid signature', async () => {
  await fc.assert(
    fc.asyncProperty(provider, headers, body, fc.boolean(), async (p, h, b, base64) => {
      const d = deps();
      const res = await respondToWebhook(d, {
        pathParameters: { provider: p }, headers: h, isBase64Encoded: base64, body: base64 ? b.toString('base64') : b.toString('utf8'),
      }, 'r');
      assert.ok(res.statusCode < 500, `status ${res.statusCode}: ${res.body}`);
      // GitLab tokens are guessable by this generator (it knows 'gl-token'); signatures are not.
      if (h['X-Gitlab-Token'] !== 'gl-token') {
        assert.equal(d.queue.sent.length, 0);
        assert.equal(d.deliveries.claims, 0);
      }
      JSON.parse(res.body);
    }),
    { numRuns: 400 },
  );
});

test('correctly signed but malformed payloads: never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...FIXTURES), fc.jsonValue(), fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }), async ([p, name], value, path) => {
      const obj = JSON.parse(fixture(p, name).toString());
      // Replace something at a random depth, keeping the repository so the signature check is reached.
      let cur = obj;
      for (const seg of path) {
        const keys = Object.keys(cur).filter((k) => k !== 'repository' && k !== 'project');
        if (keys.length === 0) break;
        const k = keys[seg.length % keys.length];
        if (typeof cur[k] !== 'object' || cur[k] === null) { cur[k] = value; break; }
        cur = cur[k];
      }
      const b = Buffer.from(JSON.stringify(obj));
      const d = deps();
      const res = await respondToWebhook(d, {
        pathParameters: { provider: p }, headers: signedHeaders(p, { event: eventHeaderValue(p, name), secret: SECRET_OF[p], body: b }), body: b.toString('utf8'),
      }, 'r');
      assert.ok(res.statusCode < 500, `status ${res.statusCode}: ${res.body}`);
    }),
    { numRuns: 300 },
  );
});

test('any single-byte change to a signed body is refused and starts nothing', async () => {
  const hmacFixtures = FIXTURES.filter(([p]) => p !== 'gitlab');
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...hmacFixtures), fc.nat(), fc.integer({ min: 1, max: 255 }), async ([p, name], pos, delta) => {
      const original = fixture(p, name);
      const sig = signBody(SECRET_OF[p], original);
      const tampered = Buffer.from(original);
      const i = pos % tampered.length;
      tampered[i] = (tampered[i] + delta) % 256;
      const d = deps();
      const h = { ...signedHeaders(p, { event: eventHeaderValue(p, name), secret: SECRET_OF[p], body: original }) };
      h[p === 'github' ? 'X-Hub-Signature-256' : 'X-Hub-Signature'] = sig;
      const res = await respondToWebhook(d, { pathParameters: { provider: p }, headers: h, isBase64Encoded: true, body: tampered.toString('base64') }, 'r');
      assert.ok(res.statusCode === 401 || res.statusCode === 400, `status ${res.statusCode}: ${res.body}`);
      assert.equal(d.queue.sent.length, 0);
      assert.equal(d.deliveries.claims, 0);
    }),
    { numRuns: 300 },
  );
});
