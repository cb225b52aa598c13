/**
 * Webhook handler time per delivery of a ~25 KB GitHub push (signature check,
 * normalisation, matching, claim, enqueue), median and p99:
 *  (a) with in-memory ports: the handler's own cost;
 *  (b) with the emulator round trips: pipeline lookup and delivery claim on
 *      DynamoDB Local, SendMessageBatch on fauxqs (a FIFO queue). The webhook
 *      secret comes from memory in both: in Lambda it is cached for a minute.
 * Every delivery has a new delivery id, so each one claims and enqueues.
 *
 * Alone: `node --import tsx bench/webhook.ts` (starts the emulators unless
 * SLIPWAY_DYNAMODB_ENDPOINT and SLIPWAY_AWS_ENDPOINT point at them).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { awsConfigFromEnv, createDocumentClient, createSqsClient } from '../shared/aws/clients.ts';
import { DynamoDeliveryStore } from '../shared/aws/delivery-store.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { DynamoPipelineStore } from '../shared/aws/pipeline-store.ts';
import { ensureTable } from '../shared/aws/table.ts';
import type { PipelineSpec, Provider } from '../shared/domain/pipeline.ts';
import { respondToWebhook, type HttpRequestV2, type WebhookDeps } from '../shared/services/ingest-webhook.ts';
import { signBody } from '../shared/git/signatures.ts';
import type { EngineMessage } from '../shared/ports/messages.ts';
import type { DeliveryStore, EventQueue, PipelineRecord } from '../shared/ports/index.ts';
import { gitWebhooks } from '../shared/git/protocol.ts';

const SECRET = 'bench-webhook-secret';
const SECRET_NAME = 'slipway/web/webhook';
const TARGET_BYTES = 25 * 1024;

/** The fixture push, grown with realistic commits to about 25 KB. */
export function githubPush25k(): Buffer {
  const payload = JSON.parse(readFileSync(new URL('../test/fixtures/webhooks/github/push.json', import.meta.url), 'utf8'));
  const template = payload.commits[0];
  for (let i = 0; JSON.stringify(payload, null, 2).length < TARGET_BYTES; i++) {
    const sha = (i.toString(16).padStart(8, '0') + template.id).slice(0, 40);
    payload.commits.splice(payload.commits.length - 1, 0, {
      ...template,
      id: sha,
      url: `https://github.com/acme/web/commit/${sha}`,
      message: `Refactor checkout step ${i}\n\nSplit the payment form into smaller components and add tests.`,
      added: [`src/checkout/steps/step-${i}.tsx`, `src/checkout/steps/step-${i}.test.tsx`],
      modified: ['src/checkout/index.ts', `src/checkout/styles/step-${i % 7}.css`],
      removed: i % 5 === 0 ? [`src/legacy/step-${i}.js`] : [],
    });
  }
  return Buffer.from(JSON.stringify(payload, null, 2));
}

function spec(): PipelineSpec {
  return {
    name: 'web',
    source: {
      provider: 'github',
      repository: 'acme/web',
      triggers: { events: ['push', 'pull_request'], branches: ['main', 'release/*'], tags: [], paths: { include: ['src/**', 'package.json'], exclude: ['**/*.md'] } },
    },
    concurrency: 'superseded',
    jobs: {},
    notifications: [],
  };
}

function request(body: Buffer, deliveryId: string, signature: string): HttpRequestV2 {
  return {
    rawPath: '/webhooks/github',
    pathParameters: { provider: 'github' },
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': signature,
    },
    body: body.toString('utf8'),
    isBase64Encoded: false,
  };
}

interface Stats { median: number; p99: number; n: number }

async function measure(deps: WebhookDeps, body: Buffer, warmup: number, n: number, label: string): Promise<Stats> {
  const times: number[] = [];
  const text = body.toString('utf8');
  for (let i = 0; i < warmup + n; i++) {
    // Each push is a different body (as real pushes are): the same body again would be a replay.
    const nonce = `${label}-${i}-${Math.random().toString(36).slice(2)}`;
    const unique = Buffer.from(text.replace('{', `{"bench_nonce":"${nonce}",`));
    const req = request(unique, nonce, signBody(SECRET, unique));
    const t0 = process.hrtime.bigint();
    const res = await respondToWebhook(deps, req, 'bench');
    const t1 = process.hrtime.bigint();
    if (res.statusCode !== 202 || !res.body.includes('"runs":[{')) throw new Error(`unexpected answer ${res.statusCode} ${res.body}`);
    if (i >= warmup) times.push(Number(t1 - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], p99: times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)], n };
}

function print(label: string, s: Stats): void {
  console.log(`  ${label.padEnd(44)} median ${s.median.toFixed(3)} ms   p99 ${s.p99.toFixed(3)} ms   (n=${s.n})`);
}

const record = (): PipelineRecord => ({ id: 'web', version: 1, spec: spec(), definitionSource: { kind: 'registered' }, webhookSecretName: SECRET_NAME, createdAt: new Date().toISOString() });
const memorySecrets = { get: async (name: string) => { if (name !== SECRET_NAME) throw new Error('unknown secret'); return SECRET; } };

export async function benchWebhook(): Promise<void> {
  const body = githubPush25k();
  console.log(`webhook: GitHub push of ${(body.length / 1024).toFixed(1)} KB, ${JSON.parse(body.toString()).commits.length} commits, signed, matched against one pipeline with path filters`);

  // (a) in-memory ports
  const claimed = new Set<string>();
  const sent: EngineMessage[] = [];
  const deliveries: DeliveryStore = {
    claim: async (p: Provider, id: string) => (claimed.has(`${p}#${id}`) ? false : (claimed.add(`${p}#${id}`), true)),
    release: async (p: Provider, id: string) => { claimed.delete(`${p}#${id}`); },
  };
  const queue: EventQueue = { send: async (m) => { sent.push(...m); } };
  const memory: WebhookDeps = { pipelines: { findByRepository: async () => [record()] }, deliveries, queue, secrets: memorySecrets, protocol: gitWebhooks };
  print('(a) in-memory ports', await measure(memory, body, 200, 2000, 'mem'));

  // (b) DynamoDB Local + fauxqs
  const cfg = awsConfigFromEnv();
  if (!cfg.dynamoEndpoint || !cfg.awsEndpoint) {
    console.log('  (b) emulator round trips: skipped (set SLIPWAY_DYNAMODB_ENDPOINT and SLIPWAY_AWS_ENDPOINT)');
    return;
  }
  const documents = createDocumentClient(cfg);
  const sqs = createSqsClient(cfg);
  const table = `bench-webhook-${process.pid}`;
  await ensureTable(documents, table);
  const q = await sqs.send(new CreateQueueCommand({ QueueName: `bench-webhook-${process.pid}.fifo`, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } }));
  try {
    const pipelines = new DynamoPipelineStore(documents, table);
    const { version: _v, createdAt: _c, ...input } = record();
    await pipelines.put(input);
    const emulated: WebhookDeps = {
      pipelines,
      deliveries: new DynamoDeliveryStore(documents, table),
      queue: new SqsEventQueue(sqs, q.QueueUrl!),
      secrets: memorySecrets,
      protocol: gitWebhooks,
    };
    print('(b) DynamoDB Local + fauxqs (3 round trips)', await measure(emulated, body, 30, 300, 'emu'));
  } finally {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: q.QueueUrl })).catch(() => {});
    await documents.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  type Emulators = { dynamoEndpoint: string; awsEndpoint: string; stop: () => Promise<void> };
  let emulators: Emulators | undefined;
  if (!process.env.SLIPWAY_DYNAMODB_ENDPOINT || !process.env.SLIPWAY_AWS_ENDPOINT) {
    const mod = (await import(new URL('../cli/dev/emulators.mjs', import.meta.url).href)) as { startEmulators: () => Promise<Emulators> };
    emulators = await mod.startEmulators();
    process.env.SLIPWAY_DYNAMODB_ENDPOINT = emulators.dynamoEndpoint;
    process.env.SLIPWAY_AWS_ENDPOINT = emulators.awsEndpoint;
  }
  try {
    await benchWebhook();
  } finally {
    await emulators?.stop();
  }
}
