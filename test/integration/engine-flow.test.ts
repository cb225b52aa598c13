/**
 * The event path end to end, through DynamoDB Local and fauxqs (SQS FIFO, S3)
 * with the real SDK: a run request on the FIFO queue -> engine -> StartBuild ->
 * build state changes -> next jobs -> release -> run succeeded, with the
 * artifacts in S3. CodeBuild has no emulator: a small stateful fake sits behind
 * aws-sdk-client-mock, honours idempotency tokens as CodeBuild does, "runs" each
 * build by uploading the job's declared outputs (as the generated buildspec
 * would) and reports the build's state changes through the build-events logic.
 */
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchGetBuildsCommand, CodeBuildClient, InvalidInputException, StartBuildCommand, StopBuildCommand, type StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { S3ArtifactStore } from '../../shared/aws/artifact-store.ts';
import { createDocumentClient, createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import { CodeBuildRunner, readExportedVariables } from '../../shared/aws/codebuild-runner.ts';
import { SqsEventQueue } from '../../shared/aws/event-queue.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { SqsReleaseQueue } from '../../shared/aws/release-queue.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { decide } from '../../shared/domain/decide.ts';
import { parsePipeline } from '../../shared/domain/definition.ts';
import type { JobSpec, PipelineSpec } from '../../shared/domain/pipeline.ts';
import { TERMINAL_RUN_STATUSES, type RunState } from '../../shared/domain/run.ts';
import { type ReleaseFinished, type ReleaseStarted } from '../../shared/domain/run-events.ts';
import { forwardBuildStateChange, type BuildStateChangeEvent } from '../../shared/services/build-events.ts';
import { handleEngineMessage, processRecords, type EngineDeps } from '../../shared/services/run-engine.ts';
import type { ReleaseMessage, RunRequest } from '../../shared/ports/messages.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDeliveryStore } from '../../shared/aws/delivery-store.ts';
import { SecretsManagerSecretSource } from '../../shared/aws/secrets.ts';
import { respondToWebhook } from '../../shared/services/ingest-webhook.ts';
import { signBody } from '../../shared/git/signatures.ts';
import { gitWebhooks } from '../../shared/git/protocol.ts';
import { RecordingNotifier } from '../support/recorders.ts';

const PIPELINE_YAML = `
name: web
source:
  provider: github
  repository: acme/web
  triggers:
    events: [push]
    branches: [main]
jobs:
  build:
    template: node
    commands: [npm ci, npm run build]
    outputs: ["dist/**"]
  test:
    needs: [build]
    inputs: [build]
    template: node
    commands: [npm test]
    outputs: [reports/junit.xml]
    retries: 1
  lint:
    needs: [build]
    inputs: [build]
    template: node
    commands: [npm run lint]
  image:
    kind: image
    needs: [test, lint]
    inputs: [build]
    docker:
      repository: web
      tags: [latest]
  deploy:
    kind: deploy
    needs: [image]
    deploy:
      target: staging
      strategy: blue-green
      steps: [50, 100]
`;

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

interface FakeBuild {
  id: string;
  token: string;
  input: StartBuildCommandInput;
  env: Record<string, string>;
  exported: Record<string, string>;
  ran: boolean;
}

/**
 * CodeBuild as far as Slipway uses it. A token seen before returns the build it
 * started (a repeat with different parameters is refused, as CodeBuild does).
 */
class FakeCodeBuild {
  readonly client = new CodeBuildClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  readonly builds: FakeBuild[] = [];
  startCalls = 0;
  /** Jobs whose first StartBuild dies before CodeBuild gets it (the process crashed after the save). */
  readonly crashBefore = new Set<string>();
  /** Jobs whose first StartBuild starts the build but whose answer is lost. */
  readonly loseAnswer = new Set<string>();
  /** Which (job, attempt) builds fail. */
  fail: (job: string, attempt: number) => boolean = () => false;
  constructor(private readonly s3: S3Client, private readonly bucket: string, private readonly spec: () => PipelineSpec) {
    const mock = mockClient(this.client);
    mock.on(StartBuildCommand).callsFake((input: StartBuildCommandInput) => this.start(input));
    mock.on(StopBuildCommand).resolves({});
    mock.on(BatchGetBuildsCommand).callsFake(({ ids }: { ids: string[] }) => ({
      builds: this.builds.filter((b) => ids.includes(b.id)).map((b) => ({ id: b.id, exportedEnvironmentVariables: Object.entries(b.exported).map(([name, value]) => ({ name, value })) })),
    }));
  }

  private start(input: StartBuildCommandInput) {
    this.startCalls++;
    const env = Object.fromEntries((input.environmentVariablesOverride ?? []).map((v) => [v.name!, v.value!]));
    const job = env.SLIPWAY_JOB;
    if (this.crashBefore.delete(job)) throw Object.assign(new Error('socket hang up'), { name: 'Error' });
    const known = this.builds.find((b) => b.token === input.idempotencyToken);
    if (known) {
      if (JSON.stringify(known.input) !== JSON.stringify(input)) throw new InvalidInputException({ message: 'idempotency token reused with different parameters', $metadata: {} });
      return { build: { id: known.id } };
    }
    // Real build ids end in a UUID; event ids derive from them, so they must not repeat across tests.
    const build: FakeBuild = { id: `${input.projectName}:${randomUUID()}`, token: input.idempotencyToken!, input, env, exported: {}, ran: false };
    this.builds.push(build);
    if (this.loseAnswer.delete(job)) throw Object.assign(new Error('read ECONNRESET'), { name: 'Error' });
    return { build: { id: build.id } };
  }

  /**
   * Runs the next build not run yet: checks its inputs are in S3 (the buildspec
   * downloads them), uploads its outputs, and reports IN_PROGRESS then its end.
   */
  async runNext(report: (event: BuildStateChangeEvent) => Promise<void>): Promise<boolean> {
    const build = this.builds.find((b) => !b.ran);
    if (!build) return false;
    build.ran = true;
    const { SLIPWAY_RUN_ID: runId, SLIPWAY_JOB: job, SLIPWAY_ATTEMPT: attempt } = build.env;
    const spec: JobSpec = this.spec().jobs[job];
    await report(this.event(build, 'IN_PROGRESS'));
    let failed = this.fail(job, Number(attempt));
    for (const input of spec.inputs) {
      const listed = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `runs/${runId}/${input}/` }));
      if ((listed.KeyCount ?? 0) === 0) failed = true;
    }
    if (!failed) {
      for (const pattern of spec.outputs) {
        const path = pattern.replace('**', 'bundle.js').replace('*', 'file');
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: `runs/${runId}/${job}/${path}`, Body: `${job} attempt ${attempt}: ${path}` }));
      }
      if (spec.kind === 'image') {
        build.exported = { imageUri: `${REGISTRY}/web:${build.env.SLIPWAY_COMMIT}`, imageDigest: `sha256:${'d'.repeat(64)}` };
      }
    }
    await report(this.event(build, failed ? 'FAILED' : 'SUCCEEDED'));
    return true;
  }

  private event(build: FakeBuild, status: string): BuildStateChangeEvent {
    return {
      'detail-type': 'CodeBuild Build State Change',
      source: 'aws.codebuild',
      time: new Date().toISOString(),
      detail: {
        'build-status': status,
        'build-id': `arn:aws:codebuild:us-east-1:123456789012:build/${build.id}`,
        'project-name': build.input.projectName!,
        'additional-information': {
          environment: { 'environment-variables': Object.entries(build.env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })) },
          ...(status === 'FAILED' ? { phases: [{ 'phase-type': 'BUILD', 'phase-status': 'FAILED', 'phase-context': ['COMMAND_EXECUTION_ERROR: exit status 1'] }] } : {}),
        },
      },
    };
  }
}

const cfg = emulatorConfig();
const ddb = createDocumentClient(cfg);
const sqs = createSqsClient(cfg);
const s3 = createS3Client(cfg);
const table = uniqueName('engine-flow');
const bucket = uniqueName('artifacts').toLowerCase();
let engineQueueUrl: string;
let releaseQueueUrl: string;
let pipelineSpec: PipelineSpec;

before(async () => {
  await ensureTable(ddb, table);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  engineQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('engine')}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }))).QueueUrl!;
  releaseQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('releases') }))).QueueUrl!;
  const parsed = parsePipeline(PIPELINE_YAML);
  assert.ok(parsed.ok, parsed.ok ? '' : JSON.stringify(parsed.problems));
  pipelineSpec = parsed.spec;
});

after(() => {
  ddb.destroy();
  sqs.destroy();
  s3.destroy();
});

function world(pipelineId: string) {
  const codebuild = new FakeCodeBuild(s3, bucket, () => pipelineSpec);
  const events = new SqsEventQueue(sqs, engineQueueUrl);
  const runs = new DynamoRunStore(ddb, table);
  const pipelines = new DynamoPipelineStore(ddb, table);
  const releases: ReleaseMessage[] = [];
  const failures: string[] = [];
  const deps: EngineDeps = {
    runs,
    pipelines,
    events,
    releases: new SqsReleaseQueue(sqs, releaseQueueUrl),
    builds: new CodeBuildRunner(codebuild.client, { projects: { small: 'slipway-small', medium: 'slipway-medium', large: 'slipway-large', lambda: 'slipway-lambda' }, artifactBucket: bucket, ecrRegistry: REGISTRY }),
    notifier: new RecordingNotifier(),
    decide,
  };
  const logger = { error: (m: string, x: Record<string, unknown>) => void failures.push(`${m} ${JSON.stringify(x)}`), warn: (m: string, x: Record<string, unknown>) => void failures.push(`${m} ${JSON.stringify(x)}`) };

  /** One receive from the engine queue, handled as the Lambda would: deletes what succeeded, makes failures visible again at once. */
  async function pumpEngine(): Promise<boolean> {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: engineQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['MessageGroupId'] }));
    const messages = got.Messages ?? [];
    if (messages.length === 0) return false;
    const records = messages.map((m) => ({ messageId: m.MessageId!, body: m.Body!, attributes: { MessageGroupId: m.Attributes?.MessageGroupId } }));
    const out = await processRecords(records, (message) => handleEngineMessage(deps, message), logger);
    const failed = new Set(out.batchItemFailures.map((f) => f.itemIdentifier));
    for (const m of messages) {
      if (failed.has(m.MessageId!)) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: engineQueueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
      else await sqs.send(new DeleteMessageCommand({ QueueUrl: engineQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
    return true;
  }

  /** The releaser's part, reduced to its contract: a StartRelease ends in ReleaseStarted and a successful ReleaseFinished. */
  async function pumpReleases(): Promise<boolean> {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: releaseQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    for (const m of got.Messages ?? []) {
      const message = JSON.parse(m.Body!) as ReleaseMessage;
      releases.push(message);
      if (message.type === 'StartRelease') {
        const base = { runId: message.runId, at: new Date().toISOString(), job: message.job, attempt: message.attempt, releaseId: `rel-${message.token}` };
        const started: ReleaseStarted = { type: 'ReleaseStarted', id: `release-started:${message.token}`, ...base };
        const finished: ReleaseFinished = { type: 'ReleaseFinished', id: `release-finished:${message.token}`, ...base, outcome: 'succeeded' };
        await events.send([started, finished]);
      }
      await sqs.send(new DeleteMessageCommand({ QueueUrl: releaseQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
    return (got.Messages ?? []).length > 0;
  }

  const report = async (event: BuildStateChangeEvent) => {
    await forwardBuildStateChange({ queue: events, readOutputs: (id) => readExportedVariables(codebuild.client, id) }, event);
  };

  async function request(runId: string): Promise<void> {
    const message: RunRequest = {
      type: 'RunRequest',
      id: `req:test:${runId}`,
      runId,
      pipelineId,
      trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c'.repeat(40) },
      at: new Date().toISOString(),
    };
    await events.send([message]);
  }

  /** Drives queue, builds and releases until the run ends. */
  async function runToEnd(runId: string): Promise<RunState> {
    for (let i = 0; i < 400; i++) {
      if (await pumpEngine()) continue;
      if (await pumpReleases()) continue;
      if (await codebuild.runNext(report)) continue;
      const run = await runs.get(runId);
      if (TERMINAL_RUN_STATUSES.has(run.status)) return run;
      await new Promise((r) => setTimeout(r, 20));
    }
    const run = await runs.get(runId).catch(() => undefined);
    assert.fail(`run ${runId} did not end: ${JSON.stringify(run?.jobs)}; builds: ${codebuild.builds.map((b) => b.token).join(', ')}; engine log: ${failures.join('\n')}`);
  }

  return { codebuild, runs, pipelines, releases, failures, request, runToEnd };
}

/** Builds per idempotency token: CodeBuild would have started one build for each. */
function buildsPerToken(codebuild: FakeCodeBuild): Map<string, number> {
  const counts = new Map<string, number>();
  for (const b of codebuild.builds) counts.set(b.token, (counts.get(b.token) ?? 0) + 1);
  return counts;
}

test('a run request goes through the queue, CodeBuild and build events to a succeeded run with its artifacts in S3', async () => {
  const pipelineId = uniqueName('web');
  const w = world(pipelineId);
  await w.pipelines.put({ id: pipelineId, spec: pipelineSpec, definitionSource: { kind: 'registered' } });
  const runId = `01JFLOW${Date.now()}`;
  w.codebuild.fail = (job, attempt) => job === 'test' && attempt === 1;

  await w.request(runId);
  const run = await w.runToEnd(runId);

  assert.equal(run.status, 'succeeded', run.reason);
  assert.deepEqual(Object.fromEntries(Object.entries(run.jobs).map(([k, j]) => [k, [j.status, j.attempt]])), {
    build: ['succeeded', 1], test: ['succeeded', 2], lint: ['succeeded', 1], image: ['succeeded', 1], deploy: ['succeeded', 1],
  });
  // Every job attempt ran exactly once, and the retried test got a token of its own.
  assert.deepEqual([...buildsPerToken(w.codebuild).entries()].sort(), [
    [`${runId}:build:1`, 1], [`${runId}:image:1`, 1], [`${runId}:lint:1`, 1], [`${runId}:test:1`, 1], [`${runId}:test:2`, 1],
  ]);
  const image = w.codebuild.builds.find((b) => b.env.SLIPWAY_JOB === 'image')!;
  assert.equal(image.input.privilegedModeOverride, true);
  assert.equal(image.input.sourceVersion, 'c'.repeat(40));
  assert.equal(run.jobs.image.outputs?.imageDigest, `sha256:${'d'.repeat(64)}`);

  const start = w.releases.find((m) => m.type === 'StartRelease');
  assert.ok(start && start.type === 'StartRelease');
  assert.equal(start.image, `${REGISTRY}/web@sha256:${'d'.repeat(64)}`);
  assert.equal(start.target, 'staging');

  const artifacts = new S3ArtifactStore(s3, bucket);
  assert.deepEqual((await artifacts.listArtifacts(runId, 'build')).map((a) => a.path), ['dist/bundle.js']);
  assert.deepEqual((await artifacts.listArtifacts(runId, 'test')).map((a) => a.path), ['reports/junit.xml']);
  const url = await artifacts.presignArtifact(runId, 'build', 'dist/bundle.js');
  assert.match(url, new RegExp(`/${bucket}/runs/${runId}/build/dist/bundle\\.js\\?.*X-Amz-Signature=`));
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'build attempt 1: dist/bundle.js');
  const links = await artifacts.list(runId, 'test');
  assert.equal(links[0].path, 'reports/junit.xml');
  assert.ok(links[0].url.includes('X-Amz-Signature='));
  await assert.rejects(artifacts.presignArtifact(runId, 'build', 'dist/missing.js'), /not found/);
});

test('a crash between the conditional save and StartBuild ends with exactly one build per job attempt', async () => {
  const pipelineId = uniqueName('web');
  const w = world(pipelineId);
  await w.pipelines.put({ id: pipelineId, spec: pipelineSpec, definitionSource: { kind: 'registered' } });
  const runId = `01JCRASH${Date.now()}`;
  // The engine dies after saving "build queued" but before CodeBuild hears of it...
  w.codebuild.crashBefore.add('build');
  // ...and after CodeBuild started lint, before the engine learnt the build id.
  w.codebuild.loseAnswer.add('lint');
  w.codebuild.crashBefore.add('image');

  await w.request(runId);
  const run = await w.runToEnd(runId);

  assert.equal(run.status, 'succeeded', run.reason);
  const perToken = buildsPerToken(w.codebuild);
  assert.deepEqual([...perToken.keys()].sort(), [`${runId}:build:1`, `${runId}:image:1`, `${runId}:lint:1`, `${runId}:test:1`]);
  assert.ok([...perToken.values()].every((n) => n === 1), JSON.stringify([...perToken]));
  // build, lint and image were each asked twice; so was test, started by the same event as lint and repeated with it.
  assert.equal(w.codebuild.startCalls, 8, 'a redelivered event repeats all its StartBuilds, each with its token');
  assert.ok(w.failures.some((f) => f.includes('will be redelivered')), 'the crashes surfaced as redeliveries');
});

test('the Lambda handlers, wired from their environment, carry a run request and a build event through the real queue', async (t) => {
  const pipelineId = uniqueName('web');
  await new DynamoPipelineStore(ddb, table).put({ id: pipelineId, spec: pipelineSpec, definitionSource: { kind: 'registered' } });
  const notificationQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('notifications') }))).QueueUrl!;
  Object.assign(process.env, {
    SLIPWAY_TABLE: table,
    SLIPWAY_ENGINE_QUEUE_URL: engineQueueUrl,
    SLIPWAY_RELEASE_QUEUE_URL: releaseQueueUrl,
    SLIPWAY_NOTIFICATION_QUEUE_URL: notificationQueueUrl,
    SLIPWAY_ARTIFACT_BUCKET: bucket,
    SLIPWAY_BUILD_PROJECTS: JSON.stringify({ small: 'slipway-small', lambda: 'slipway-lambda' }),
    SLIPWAY_BUILD_ROLES: JSON.stringify({ release: 'slipway-build', pullRequest: 'slipway-pr', fork: 'slipway-fork', image: 'slipway-image' }),
    SLIPWAY_ECR_REGISTRY: REGISTRY,
    SLIPWAY_DYNAMODB_ENDPOINT: cfg.dynamoEndpoint,
    SLIPWAY_AWS_ENDPOINT: cfg.awsEndpoint,
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
  });
  // The handlers create their own CodeBuild client: mock the class.
  const codebuild = mockClient(CodeBuildClient);
  t.after(() => codebuild.restore());
  const startedIds: string[] = [];
  codebuild.on(StartBuildCommand).callsFake((input: StartBuildCommandInput) => {
    startedIds.push(`${input.projectName}:${randomUUID()}`);
    return { build: { id: startedIds.at(-1) } };
  });
  const engine = await import('../../functions/run-engine.ts');
  const buildEvents = await import('../../functions/build-events.ts');
  const context = { awsRequestId: 'req-1', functionName: 'slipway-engine' } as never;

  const runId = `01JLAMBDA${Date.now()}`;
  const request: RunRequest = { type: 'RunRequest', id: `req:test:${runId}`, runId, pipelineId, trigger: { event: 'push', branch: 'main', commit: 'e'.repeat(40) }, at: new Date().toISOString() };
  await new SqsEventQueue(sqs, engineQueueUrl).send([request]);

  async function deliver(extra: Array<{ messageId: string; body: string; group: string }> = []) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: engineQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
    const records = [
      ...extra.map((e) => ({ messageId: e.messageId, receiptHandle: 'none', body: e.body, attributes: { MessageGroupId: e.group }, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn', awsRegion: 'us-east-1' })),
      ...(got.Messages ?? []).map((m) => ({ messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body!, attributes: { MessageGroupId: m.Attributes?.MessageGroupId }, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn', awsRegion: 'us-east-1' })),
    ];
    const out = await engine.handler({ Records: records } as never, context);
    for (const m of got.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: engineQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    return out;
  }

  const first = await deliver([{ messageId: 'poison-1', body: '{"not":"an event"}', group: 'run#elsewhere' }]);
  assert.deepEqual(first.batchItemFailures, [{ itemIdentifier: 'poison-1' }], 'only the malformed record fails');
  const started = codebuild.commandCalls(StartBuildCommand).map((c) => c.args[0].input);
  assert.deepEqual(started.map((i) => i.idempotencyToken), [`${runId}:build:1`]);
  assert.equal(started[0].projectName, 'slipway-lambda', 'a node build job runs on Lambda compute (compute: auto)');
  const notified = await sqs.send(new ReceiveMessageCommand({ QueueUrl: notificationQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  assert.deepEqual((notified.Messages ?? []).map((m) => JSON.parse(m.Body!).id), [`${runId}:run_started`], 'the engine enqueues its notifications');
  assert.equal(started[0].sourceLocationOverride, 'https://github.com/acme/web.git');

  // The build StartBuild started: the engine decides a job by its recorded build only.
  const buildId = startedIds[0];
  await buildEvents.handler({
    'detail-type': 'CodeBuild Build State Change',
    source: 'aws.codebuild',
    time: new Date().toISOString(),
    detail: {
      'build-status': 'SUCCEEDED',
      'build-id': `arn:aws:codebuild:us-east-1:123456789012:build/${buildId}`,
      'additional-information': { environment: { 'environment-variables': started[0].environmentVariablesOverride!.map((v) => ({ name: v.name!, value: v.value! })) } },
    },
  } as never, context);
  // JobStarted and the build's success are on the queue now; one delivery applies both, in order.
  await deliver();
  await deliver();
  const run = await new DynamoRunStore(ddb, table).get(runId);
  assert.equal(run.jobs.build.status, 'succeeded');
  assert.deepEqual(codebuild.commandCalls(StartBuildCommand).map((c) => c.args[0].input.idempotencyToken).sort(), [`${runId}:build:1`, `${runId}:lint:1`, `${runId}:test:1`]);
});

test('a signed GitHub push goes from the webhook through the queue, CodeBuild and build events to a succeeded run with artifacts', async () => {
  const pipelineId = uniqueName('hook');
  const repository = `acme/${uniqueName('repo')}`;
  const w = world(pipelineId);
  const spec = { ...pipelineSpec, source: { ...pipelineSpec.source, repository } };
  await w.pipelines.put({ id: pipelineId, spec, definitionSource: { kind: 'registered' }, webhookSecretName: `slipway/${pipelineId}/webhook` });
  // Secrets Manager has no emulator: faked at the SDK boundary.
  const secretsManager = mockClient(SecretsManagerClient);
  secretsManager.on(GetSecretValueCommand, { SecretId: `slipway/${pipelineId}/webhook` }).resolves({ SecretString: 'hook-secret' });
  try {
    const deps = {
      protocol: gitWebhooks,
      pipelines: w.pipelines,
      deliveries: new DynamoDeliveryStore(ddb, table),
      queue: new SqsEventQueue(sqs, engineQueueUrl),
      secrets: new SecretsManagerSecretSource(new SecretsManagerClient({ region: 'us-east-1' })),
    };
    const commit = 'f'.repeat(40);
    const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { full_name: repository }, head_commit: { id: commit, message: 'ship it' }, commits: [{ added: [], modified: ['src/app.ts'], removed: [] }] });
    const event = {
      version: '2.0', routeKey: 'POST /webhooks/{provider}', rawPath: '/webhooks/github', rawQueryString: '', pathParameters: { provider: 'github' },
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signBody('hook-secret', body) },
      body, isBase64Encoded: false,
      requestContext: { requestId: 'req-hook', http: { method: 'POST', path: '/webhooks/github' } },
    } as never;

    const res = await respondToWebhook(deps, event, 'req-hook');

    assert.equal(res.statusCode, 202, res.body);
    const { runs } = JSON.parse(res.body!) as { runs: Array<{ pipeline: string; runId: string }> };
    assert.deepEqual(runs.map((r) => r.pipeline), [pipelineId]);
    const run = await w.runToEnd(runs[0].runId);
    assert.equal(run.status, 'succeeded', run.reason);
    assert.equal(run.trigger.commit, commit);
    assert.equal(run.trigger.event, 'push');
    assert.ok(w.codebuild.builds.every((b) => b.input.sourceVersion === commit));
    assert.deepEqual((await new S3ArtifactStore(s3, bucket).listArtifacts(runs[0].runId, 'build')).map((a) => a.path), ['dist/bundle.js']);
    // The same delivery again starts nothing.
    const again = await respondToWebhook(deps, event, 'req-hook-2');
    assert.equal(JSON.parse(again.body!).duplicate, true);
    assert.equal(w.codebuild.builds.length, new Set(w.codebuild.builds.map((b) => b.token)).size, 'no build twice');
  } finally {
    secretsManager.restore();
  }
});

test('a failed run request made visible again sooner comes back after the shorter time, not the queue\'s timeout', async () => {
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('retry')}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }))).QueueUrl!;
  const events = new SqsEventQueue(sqs, queueUrl);
  const runId = `01JRETRY${Date.now()}`;
  await events.send([{ type: 'RunRequest', id: `req:test:${runId}`, runId, pipelineId: 'web', trigger: { event: 'push', branch: 'main', commit: 'c'.repeat(40) }, at: new Date().toISOString() }]);
  const receive = () => sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  const first = (await receive()).Messages ?? [];
  assert.equal(first.length, 1);

  await events.retryAfter([{ receiptHandle: first[0].ReceiptHandle!, seconds: 1 }]);

  assert.equal(((await receive()).Messages ?? []).length, 0, 'still invisible at once');
  await new Promise((r) => setTimeout(r, 1500));
  const again = (await receive()).Messages ?? [];
  assert.equal(again.length, 1, 'visible again after 1 s instead of 30 s');
  assert.equal(JSON.parse(again[0].Body!).runId, runId);
});
