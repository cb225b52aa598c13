/**
 * The local mode: Slipway's engine on one machine. The same engine code and AWS
 * adapters run against DynamoDB Local and fauxqs (SQS, S3) on loopback; only
 * CodeBuild (LocalBuildRunner), ECS/ALB (LocalTarget), Secrets Manager and
 * CloudWatch Logs (files) are replaced; notifications are delivered for real
 * (chat webhooks, git host statuses, SNS e-mail on fauxqs), but the sample
 * pipeline has no channels and no git host token, so it sends nothing. A local HTTP server hands the webhook
 * and API routes API Gateway-shaped events; pollers feed the queues to the
 * engine and the releaser as Lambda's event source mappings would.
 */
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startEmulators } from '../../scripts/emulators.mjs';
import { createDocumentClient, createS3Client, createSnsClient, createSqsClient, type AwsConfig } from '../aws/clients.ts';
import { SqsNotificationQueue } from '../aws/notification-queue.ts';
import { DynamoDeliveryStore } from '../aws/delivery-store.ts';
import { SqsEventQueue } from '../aws/event-queue.ts';
import { DynamoPipelineStore } from '../aws/pipeline-store.ts';
import { SqsReleaseQueue } from '../aws/release-queue.ts';
import { DynamoRunStore } from '../aws/run-store.ts';
import { ensureTable } from '../aws/table.ts';
import { DynamoTargetStore } from '../aws/target-store.ts';
import { assertPipeline } from '../domain/definition.ts';
import type { PipelineSpec } from '../domain/pipeline.ts';
import type { PipelineRecord } from '../ports/index.ts';
import { decide } from '../domain/decide.ts';
import type { BuildStateChanged, RunState } from '../domain/run.ts';
import { ConflictError, ValidationError } from '../domain/errors.ts';
import { ApiService, type ApiServiceDeps } from '../services/api-service.ts';
import { createHandler as createApiHandler } from '../../functions/api.ts';
import { createHandler as createBuildEventsHandler } from '../../functions/build-events.ts';
import { createHandler as createEngineHandler } from '../../functions/run-engine.ts';
import { createHandler as createNotifierHandler } from '../../functions/notifier.ts';
import { createHandler as createWebhookHandler } from '../../functions/webhook.ts';
import { Releaser } from '../services/releaser.ts';
import type { NotifierDeps } from '../notify/notifier.ts';
import { QueueNotifier } from '../notify/queue-notifier.ts';
import { createHandler as createReleaserHandler } from '../../functions/releaser.ts';
import { LocalBuildRunner } from './build-runner.ts';
import { FileLogReader, FileSecretSource, localBranchResolver } from './local-adapters.ts';
import { LocalTarget } from './local-target.ts';
import { admit } from './front-door.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const SAMPLE = {
  pipelineId: 'hello',
  repository: 'acme/hello',
  target: 'staging',
  webhookSecretName: 'slipway/hello/webhook',
} as const;

export interface LocalModeOptions {
  /** Local data folder. @default <repo>/.slipway */
  dataDir?: string;
  /** Clear the data folder first. */
  reset?: boolean;
  /** Ports; 0 picks free ones. Saved in dev.json and reused after a restart. */
  apiPort?: number;
  /** Every line worth showing a person (build logs, releases, requests). */
  onLog?: (line: string) => void;
  /** Engine/releaser poll interval while idle. @default 1 s long poll */
  quiet?: boolean;
}

export interface LocalMode {
  apiUrl: string;
  /** This start's API token (also in dev.json): `Authorization: Bearer <apiToken>`. */
  apiToken: string;
  targetUrl: string;
  dataDir: string;
  repoPath: string;
  webhookSecret: string;
  api: ApiService;
  target: LocalTarget;
  builds: LocalBuildRunner;
  /** Commits the files given (path -> content) to the sample repository's main branch; returns the sha. */
  commit(files: Record<string, string>, message: string): string;
  stop(): Promise<void>;
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=Slipway', '-c', 'user.email=slipway@localhost', '-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

interface DevState { apiPort: number; targetPort: number; testPort: number; queues?: { engine: string; release: string } }

export async function startLocalMode(opts: LocalModeOptions = {}): Promise<LocalMode> {
  const log = opts.onLog ?? (() => {});
  const dataDir = path.resolve(opts.dataDir ?? path.join(ROOT, '.slipway'));
  if (opts.reset) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(path.join(dataDir, 'dynamodb'), { recursive: true });
  const stateFile = path.join(dataDir, 'dev.json');
  const saved: Partial<DevState> = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};

  // One local mode per data folder: two DynamoDB Locals on one database file corrupt each other's view.
  const pidFile = path.join(dataDir, 'dev.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    let alive = false;
    try { process.kill(pid, 0); alive = pid !== process.pid; } catch { /* gone */ }
    if (alive) throw new Error(`the local mode is already running (pid ${pid}, data in ${dataDir}); stop it first, or use another data folder`);
  }
  writeFileSync(pidFile, String(process.pid));

  const stops: Array<() => Promise<void> | void> = [() => rmSync(pidFile, { force: true })];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of stops.reverse()) await s();
  };
  try {
    // 1. state: DynamoDB Local on disk (survives a restart), fauxqs for SQS and S3
    const emu = await startEmulators({ dataDir: path.join(dataDir, 'dynamodb') });
    stops.push(() => emu.stop());
    // Even on an abrupt exit, take the emulators down with us.
    process.once('exit', () => { for (const c of emu.children) if (c.exitCode === null) c.kill('SIGKILL'); });
    const aws: AwsConfig = { region: 'us-east-1', dynamoEndpoint: emu.dynamoEndpoint, awsEndpoint: emu.awsEndpoint };
    const documents = createDocumentClient(aws);
    const sqs = createSqsClient(aws);
    const s3 = createS3Client(aws);
    const tableName = 'slipway';
    const bucket = 'slipway-artifacts';
    await ensureTable(documents, tableName);
    const engineUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'slipway-engine-events.fifo', Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }))).QueueUrl!;
    const releaseUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'slipway-release-steps', Attributes: { VisibilityTimeout: '30' } }))).QueueUrl!;
    const notificationUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'slipway-notifications', Attributes: { VisibilityTimeout: '60' } }))).QueueUrl!;
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
    // fauxqs keeps objects in memory: artifacts are kept on disk between runs of the local mode.
    const artifactsDir = path.join(dataDir, 'artifacts');
    const restored = await restoreArtifacts(s3, bucket, artifactsDir);
    if (restored > 0) log(`restored ${restored} artifact(s) from ${artifactsDir}`);
    stops.push(() => saveArtifacts(s3, bucket, artifactsDir).then(() => undefined, (e) => log(`could not keep the artifacts: ${(e as Error).message}`)));

    const pipelines = new DynamoPipelineStore(documents, tableName);
    const runs = new DynamoRunStore(documents, tableName);
    const targets = new DynamoTargetStore(documents, tableName);
    const events = new SqsEventQueue(sqs, engineUrl);
    const releases = new SqsReleaseQueue(sqs, releaseUrl);
    const secrets = new FileSecretSource(path.join(dataDir, 'secrets.json'));
    const reposDir = path.join(dataDir, 'repos');
    const repositoryPath = (repository: string) => path.join(reposDir, repository);

    // 2. the sample repository and its webhook secret
    const repoPath = repositoryPath(SAMPLE.repository);
    if (!existsSync(path.join(repoPath, '.git'))) {
      mkdirSync(repoPath, { recursive: true });
      cpSync(path.join(ROOT, 'examples', 'service'), repoPath, { recursive: true });
      git(repoPath, 'init', '-q');
      git(repoPath, 'add', '-A');
      git(repoPath, 'commit', '-q', '-m', 'hello 1.0.0');
      log(`created the sample repository ${SAMPLE.repository} at ${repoPath}`);
    }
    let webhookSecret: string;
    try { webhookSecret = await secrets.get(SAMPLE.webhookSecretName); } catch {
      webhookSecret = randomBytes(20).toString('hex');
      secrets.put(SAMPLE.webhookSecretName, webhookSecret);
    }

    // 3. builds and the release target
    const builds: LocalBuildRunner = new LocalBuildRunner({
      dataDir,
      repositoryPath: (r) => repositoryPath(r.repository),
      s3,
      artifactBucket: bucket,
      // CodeBuild's state changes reach functions/build-events through EventBridge; here the runner calls it directly.
      onStateChange: async (e) => { await buildEventsHandler(e, lambdaContext('build-events')); },
      onLog: (_id, line) => log(`  | ${line}`),
    });
    const target = new LocalTarget({ name: SAMPLE.target, dataDir, port: saved.targetPort ?? 0, testPort: saved.testPort ?? 0, onLog: log });
    await target.start();
    stops.push(() => target.stop());
    const releaser = new Releaser({ targets, actions: target, ownership: target, releaseQueue: releases, events, log: { info: (m) => (opts.quiet ? undefined : log(`release: ${m}`)), warn: (m) => log(`release: ${m}`) } });
    // Through the same ownership check as PUT /targets: the local target vouches for its own processes.
    try {
      const { created } = await releaser.putTarget(target.config());
      if (created) log(`registered release target ${SAMPLE.target} (blue/green processes behind ${target.url})`);
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }

    // 4. the handlers of functions/*, with the ports this machine has instead of the ones it lacks,
    //    fed by pollers as Lambda's event source mappings would
    const notifications = new SqsNotificationQueue(sqs, notificationUrl);
    const engineHandler = createEngineHandler(() => ({
      runs, pipelines, decide, events, releases, builds, notifier: new QueueNotifier(notifications),
      resolveDefinition: (record, trigger) => localDefinition(repositoryPath(trigger.repository ?? record.spec.source.repository), record, trigger.commit),
    }));
    // publicApiUrl is set once the HTTP server below has its port.
    const notifierDeps: NotifierDeps = { pipelines, runs, queue: notifications, events, secrets, sns: createSnsClient(aws), logger: { info: () => undefined, warn: (m, x) => log(`notify: ${m} ${JSON.stringify(x)}`) } };
    const notifierHandler = createNotifierHandler(() => notifierDeps);
    const releaseHandler = createReleaserHandler(() => releaser);
    const buildEventsHandler = createBuildEventsHandler(() => ({ queue: events, readOutputs: (id) => builds.exportedVariables(id) }));
    let running = true;
    const sqsEvent = (msgs: Message[]) => ({
      Records: msgs.map((m) => ({ messageId: m.MessageId!, body: m.Body!, attributes: { MessageGroupId: m.Attributes?.MessageGroupId, ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' } })),
    }) as unknown as SQSEvent;
    const consume = (name: string, h: (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>) => async (msgs: Message[]) =>
      (await h(sqsEvent(msgs), lambdaContext(name))).batchItemFailures.map((f) => f.itemIdentifier);
    const pollers = [
      poll(sqs, engineUrl, consume('engine', engineHandler), () => running),
      poll(sqs, releaseUrl, consume('releaser', releaseHandler), () => running),
      poll(sqs, notificationUrl, consume('notifier', notifierHandler), () => running),
    ];
    stops.push(async () => { running = false; await builds.stopAll(); await Promise.all(pollers); await builds.idle(); });

    // 5. the HTTP front door: webhooks and the management API
    const apiPorts: ApiServiceDeps = {
      pipelines, runs, queue: events,
      git: localBranchResolver(repositoryPath),
      resolveDefinition: (record, trigger) => localDefinition(repositoryPath(trigger.repository ?? record.spec.source.repository), record, trigger.commit),
      // One developer on their own machine answers approvals (the API holds no AWS identity here).
      localDeveloper: localDeveloperName(),
      logs: new FileLogReader((id) => builds.logFile(id)),
      targets: { get: (n) => releaser.getTarget(n), rollback: (n, by) => releaser.requestRollback(n, by), list: () => releaser.listTargets(), put: (c) => releaser.putTarget(c) },
    };
    // The same service the API handler serves, for the terminal view and the tests.
    const api = new ApiService(apiPorts);
    const apiHandler = createApiHandler(() => apiPorts);
    const webhookHandler = createWebhookHandler(() => ({ pipelines, deliveries: new DynamoDeliveryStore(documents, tableName), queue: events, secrets }));
    // A new token every start: whoever reads .slipway/dev.json (the developer's own files) may use the API.
    const apiToken = randomBytes(32).toString('base64url');
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const event = toApiGatewayEvent(req, Buffer.concat(chunks));
        const requestId = event.requestContext.requestId;
        const isWebhook = /^\/webhooks\/[^/]+$/.test(event.rawPath) && event.requestContext.http.method === 'POST';
        const door = admit(req.headers, isWebhook, apiToken);
        if (!door.ok) {
          res.writeHead(door.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ error: door.error, message: door.message, requestId }));
          return;
        }
        try {
          const m = /^\/webhooks\/([^/]+)$/.exec(event.rawPath);
          // API Gateway routes /webhooks/{provider} to the webhook function and the rest to the API function.
          const out = (m && event.requestContext.http.method === 'POST'
            ? await webhookHandler({ ...event, routeKey: 'POST /webhooks/{provider}', pathParameters: { provider: m[1] } }, lambdaContext('webhook', requestId))
            : await apiHandler(event, lambdaContext('api', requestId))) as { statusCode?: number; headers?: Record<string, unknown>; body?: string };
          res.writeHead(out.statusCode ?? 200, (out.headers ?? { 'content-type': 'application/json' }) as http.OutgoingHttpHeaders);
          res.end(out.body ?? '');
        } catch (e) {
          log(`http: ${(e as Error).stack}`);
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'InternalError', message: 'internal error', requestId }));
        }
      });
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(saved.apiPort ?? opts.apiPort ?? 0, '127.0.0.1', () => resolve()); });
    stops.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    notifierDeps.publicApiUrl = apiUrl;
    const state: DevState = { apiPort: (server.address() as AddressInfo).port, targetPort: Number(new URL(target.url).port), testPort: Number(new URL(target.testUrl).port) };
    // Readable by the developer only: the token opens the API.
    writeFileSync(stateFile, JSON.stringify({ ...state, apiUrl, apiToken, targetUrl: target.url }, null, 2), { mode: 0o600 });
    chmodSync(stateFile, 0o600);

    // 6. the sample pipeline, registered from the repository's own file
    try {
      await pipelines.get(SAMPLE.pipelineId);
    } catch {
      const spec = assertPipeline(readFileSync(path.join(repoPath, 'slipway.yml'), 'utf8'), { filename: 'slipway.yml' });
      await pipelines.put({ id: SAMPLE.pipelineId, spec, definitionSource: { kind: 'registered' }, webhookSecretName: SAMPLE.webhookSecretName });
      log(`registered pipeline ${SAMPLE.pipelineId} (${Object.keys(spec.jobs).join(' -> ')})`);
    }

    await recoverAfterRestart({ pipelines, runs, targets, events, releases, log });

    return {
      apiUrl, apiToken, targetUrl: target.url, dataDir, repoPath, webhookSecret, api, target, builds, stop,
      commit(files, message) {
        for (const [f, content] of Object.entries(files)) writeFileSync(path.join(repoPath, f), content);
        git(repoPath, 'add', '-A');
        git(repoPath, 'commit', '-q', '-m', message);
        return git(repoPath, 'rev-parse', 'HEAD');
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * DynamoDB Local keeps its state across a restart but fauxqs does not, so
 * messages in flight when the local mode stopped are gone, and so are the
 * builds it was running. Runs must not hang on them: a build or image job that
 * was queued or running is reported FAULT (the engine retries it if it has
 * attempts left), and a release in progress gets its next step again.
 */
async function recoverAfterRestart(deps: {
  pipelines: DynamoPipelineStore; runs: DynamoRunStore; targets: DynamoTargetStore; events: SqsEventQueue; releases: SqsReleaseQueue; log: (l: string) => void;
}): Promise<void> {
  const now = new Date().toISOString();
  let cursor: string | undefined;
  do {
    const page = await deps.pipelines.list({ cursor });
    for (const p of page.items) {
      for (const summary of await deps.runs.listActive(p.id)) {
        const run = await deps.runs.get(summary.runId);
        const lost: BuildStateChanged[] = [];
        for (const [job, j] of Object.entries(run.jobs)) {
          const kind = run.plan[job]?.kind;
          if ((kind === 'build' || kind === 'image') && (j.status === 'queued' || j.status === 'running') && j.attempt > 0) {
            lost.push({
              type: 'BuildStateChanged', id: `restart:${run.runId}:${job}:${j.attempt}`, runId: run.runId, at: now, job, attempt: j.attempt,
              buildId: j.buildId ?? 'lost', state: 'FAULT', reason: 'the local mode stopped while this build ran',
            });
          }
        }
        if (lost.length > 0) {
          deps.log(`run ${run.runId}: ${lost.map((e) => e.job).join(', ')} stopped with the local mode; reported as failed builds`);
          await deps.events.send(lost);
        }
      }
    }
    cursor = page.cursor;
  } while (cursor);
  for (const name of await deps.targets.listNames()) {
    const t = await deps.targets.get(name);
    if (t.current) {
      deps.log(`release ${t.current.id} on ${name} resumes from step ${t.current.step}`);
      await deps.releases.send({ type: 'ReleaseStep', target: name, releaseId: t.current.id, step: t.current.step });
    }
  }
}

/** Copies every object of the bucket to `dir` (key = relative path). */
export async function saveArtifacts(s3: S3Client, bucket: string, dir: string): Promise<number> {
  let token: string | undefined;
  let n = 0;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const file = path.join(dir, o.Key!);
      if (!file.startsWith(dir + path.sep)) continue; // a key that would leave the folder
      if (existsSync(file)) continue; // artifacts are write-once: runs/<runId>/<job>/...
      const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, await obj.Body!.transformToByteArray());
      n += 1;
    }
    token = page.NextContinuationToken;
  } while (token);
  return n;
}

/** Puts every file under `dir` back into the bucket. */
export async function restoreArtifacts(s3: S3Client, bucket: string, dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  for (const f of files) {
    const file = path.join(f.parentPath ?? (f as unknown as { path: string }).path, f.name);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: path.relative(dir, file).split(path.sep).join('/'), Body: readFileSync(file) }));
  }
  return files.length;
}

/** What Lambda hands a handler besides the event (the parts Powertools reads). */
function lambdaContext(name: string, requestId = randomBytes(8).toString('hex')): Context {
  return {
    functionName: `slipway-local-${name}`, functionVersion: '$LATEST', invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:slipway-local-${name}`,
    memoryLimitInMB: '512', awsRequestId: requestId, logGroupName: 'local', logStreamName: 'local', callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000, done: () => undefined, fail: () => undefined, succeed: () => undefined,
  };
}

/** A definition kept in the repository, read at the commit from the repository on disk (the git host's API in AWS). */
async function localDefinition(repoPath: string, record: PipelineRecord, commit: string): Promise<PipelineSpec> {
  const file = record.definitionSource.kind === 'repository' ? record.definitionSource.path : '.slipway.yml';
  const r = spawnSync('git', ['-C', repoPath, 'show', `${commit}:${file}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new ValidationError(`${file} not found at ${commit.slice(0, 12)} in ${repoPath}`);
  return assertPipeline(r.stdout, { filename: file });
}

/** Long-polls one queue and hands batches to `handle`, which returns the ids that failed. */
async function poll(sqs: SQSClient, queueUrl: string, handle: (msgs: Message[]) => Promise<string[]>, alive: () => boolean): Promise<void> {
  while (alive()) {
    let msgs: Message[] = [];
    try {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
      msgs = out.Messages ?? [];
    } catch {
      if (!alive()) return;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (msgs.length === 0) continue;
    let failed: string[];
    try { failed = await handle(msgs); } catch { failed = msgs.map((m) => m.MessageId!); }
    const ok = msgs.filter((m) => !failed.includes(m.MessageId!));
    if (ok.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: ok.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    // Failed ones come back soon, as after a short visibility timeout.
    for (const m of msgs.filter((x) => failed.includes(x.MessageId!))) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 2 })).catch(() => undefined);
    }
  }
}

function toApiGatewayEvent(req: http.IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    body: body.length > 0 ? body.toString('base64') : undefined,
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: 'local', apiId: 'local', domainName: 'localhost', domainPrefix: 'localhost', requestId: randomBytes(8).toString('hex'),
      routeKey: '$default', stage: '$default', time: new Date().toUTCString(), timeEpoch: Date.now(),
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
    },
  } as APIGatewayProxyEventV2;
}

// ---- the terminal ----------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a run to end, printing each job's status change, attempt and duration as it happens. */
export async function followRun(api: ApiService, runId: string, print: (line: string) => void, timeoutMs = 15 * 60_000): Promise<RunState> {
  const seen = new Map<string, string>();
  const t0 = Date.now();
  for (;;) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`run ${runId} did not end within ${timeoutMs / 1000} s`);
    let run: RunState;
    try { run = await api.getRun(runId); } catch { await sleep(300); continue; }
    for (const [name, j] of Object.entries(run.jobs)) {
      const key = `${j.status}#${j.attempt}`;
      if (seen.get(name) !== key) {
        seen.set(name, key);
        const took = j.startedAt && j.finishedAt ? ` in ${((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000).toFixed(1)}s` : '';
        print(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${name.padEnd(12)} ${j.status}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}${took}${j.reason ? ` - ${j.reason}` : ''}`);
      }
    }
    if (['succeeded', 'failed', 'cancelled', 'superseded'].includes(run.status)) return run;
    await sleep(250);
  }
}

export async function runDev(opts: { reset: boolean }): Promise<number> {
  const print = (l: string) => console.log(l);
  print('Slipway local mode: starting DynamoDB Local, fauxqs (SQS, S3), the engine, the releaser and the API...');
  const t0 = Date.now();
  let mode: LocalMode;
  try {
    // SLIPWAY_DATA_DIR: another data folder than <repo>/.slipway (tests, or two checkouts side by side).
    mode = await startLocalMode({ reset: opts.reset, onLog: print, quiet: true, ...(process.env.SLIPWAY_DATA_DIR ? { dataDir: process.env.SLIPWAY_DATA_DIR } : {}) });
  } catch (e) {
    console.error(`slipway dev: ${(e as Error).message}`);
    return 5;
  }
  let stopping = false;
  const shutdown = async () => {
    // Ctrl-C reaches this process twice (from the terminal, and passed on by npm start): one stop is enough.
    if (stopping) return;
    stopping = true;
    print('\nstopping...');
    // Whatever hangs, the local mode does not outlive the request to stop it.
    setTimeout(() => { console.error('slipway dev: did not stop within 30 s; exiting'); process.exit(1); }, 30_000).unref();
    await mode.stop();
    process.exit(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, shutdown);
  // Started by a process that is gone (npm exits on SIGTERM without passing it on): stop too.
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) void shutdown(); }, 1000).unref();
  print(`API        ${mode.apiUrl}`);
  const runs = await mode.api.listRuns(SAMPLE.pipelineId, {});
  if (runs.items.length === 0) {
    print(`\nfirst start: running pipeline ${SAMPLE.pipelineId} on ${SAMPLE.repository}@main`);
    const { runId } = await mode.api.requestRun(SAMPLE.pipelineId, { branch: 'main' }, { by: 'slipway dev', requestId: `dev-${Date.now()}` });
    const run = await followRun(mode.api, runId, print);
    print(`\nrun ${runId} ${run.status} in ${((Date.now() - t0) / 1000).toFixed(1)}s since start`);
  }
  const d = mode.target.describe();
  print(`
The release target ${SAMPLE.target} is live at ${mode.targetUrl}  (blue ${d.weights.blue}% / green ${d.weights.green}%)
  curl ${mode.targetUrl}

Release the next version:
  echo 1.1.0 > ${path.relative(process.cwd(), mode.repoPath)}/VERSION
  git -C ${path.relative(process.cwd(), mode.repoPath)} commit -qam "hello 1.1.0"
  npm run slipway -- run ${SAMPLE.pipelineId} --branch main --watch
or send a signed GitHub push webhook: see "Trigger a run with a webhook" in the README.

Ctrl-C stops everything; state stays in ${path.relative(process.cwd(), mode.dataDir)}/ (npm start -- --reset clears it).`);
  await new Promise(() => {});
  return 0;
}

/** Who answers approvals in the local mode: the operating-system user running it. */
function localDeveloperName(): string {
  try {
    return os.userInfo().username || 'developer';
  } catch {
    return 'developer';
  }
}
