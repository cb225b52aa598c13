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
import { chmodSync,cpSync,existsSync,mkdirSync,readFileSync,rmSync,writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand,type Message } from '@aws-sdk/client-sqs';
import type { Context,SQSBatchResponse,SQSEvent } from 'aws-lambda';
import { startEmulators } from './emulators.mjs';
import { createDocumentClient,createS3Client,createSnsClient,createSqsClient,type AwsConfig } from '../../shared/aws/clients.ts';
import { SqsNotificationQueue } from '../../shared/aws/notification-queue.ts';
import { DynamoDeliveryStore } from '../../shared/aws/delivery-store.ts';
import { SqsEventQueue } from '../../shared/aws/event-queue.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { SqsReleaseQueue } from '../../shared/aws/release-queue.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { DynamoTargetStore } from '../../shared/aws/target-store.ts';
import { assertPipeline } from '../../shared/domain/definition.ts';
import { DEFAULT_DEFINITION_PATH, type PipelineSpec } from '../../shared/domain/pipeline.ts';
import type { EventQueue, PipelineRecord } from '../../shared/ports/index.ts';
import type { EngineMessage } from '../../shared/ports/messages.ts';
import { decide } from '../../shared/domain/decide.ts';
import { ConflictError,ValidationError } from '../../shared/domain/errors.ts';
import { ApiService,type ApiServiceDeps } from '../../shared/services/api-service.ts';
import { RecentRuns } from '../../shared/services/apply-event.ts';
import { createHandler as createApiHandler } from '../../functions/api.ts';
import { createHandler as createBuildEventsHandler } from '../../functions/build-events.ts';
import { createHandler as createEngineHandler } from '../../functions/run-engine.ts';
import { createHandler as createNotifierHandler } from '../../functions/notifier.ts';
import { createHandler as createWebhookHandler } from '../../functions/webhook.ts';
import type { ReleaserDeps } from '../../shared/services/releaser.ts';
import { TargetAdmin } from '../../shared/services/targets.ts';
import type { NotifierDeps } from '../../shared/notify/notifier.ts';
import { QueueNotifier } from '../../shared/notify/queue-notifier.ts';
import { createHandler as createReleaserHandler } from '../../functions/releaser.ts';
import { LocalBuildRunner } from '../../shared/local/build-runner.ts';
import { FileLogReader,FileSecretSource,git as gitIn,localBranchResolver } from '../../shared/local/local-adapters.ts';
import { LocalTarget } from '../../shared/local/local-target.ts';
import { admit } from '../../shared/local/front-door.ts';
import { saveArtifacts,restoreArtifacts } from './artifact-sync.ts';
import { lambdaContext,poll,toApiGatewayEvent } from './lambda-shim.ts';
import { followRun, RunTerminal, type BuildOfLine } from './follow.ts';
import { watchCommits } from './commit-watcher.ts';
import { recoverAfterRestart } from './restart-recovery.ts';
import { gitWebhooks } from '../../shared/git/protocol.ts';
import { LocalRepositoryHeads } from '../../shared/local/local-heads.ts';
import { newRecoveryMemory, recoverMissedPushes } from '../../shared/services/push-recovery.ts';
import { fireDueSchedules } from '../../shared/services/schedules.ts';
import { S3ArtifactStore } from '../../shared/aws/artifact-store.ts';
import { consoleAnswer, writeAnswer } from '../../shared/local/console-files.ts';

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
  /** Build log lines, with the build they are from (the terminal prints them under their job's status); @default onLog, indented */
  onBuildLog?: (build: BuildOfLine, line: string) => void;
  /** Fewer lines: no "release: ..." progress of the releaser (errors and warnings still show). */
  quiet?: boolean;
  /**
   * Seconds between two passes of the local reconciler, which plays the deployed one's
   * missed-webhook recovery against the repositories on disk: a commit no webhook announced
   * gets a run (marked `recovered: webhook missed`) within about two periods. 0 turns it off.
   * @default 10 (SLIPWAY_RECONCILE_SECONDS)
   */
  reconcileSeconds?: number;
  /**
   * Your own repository (a git working copy): its pipeline file (slipway.yml or .slipway.yml)
   * is registered, its `source.repository` is read from this folder, and new commits on
   * its checked-out branch start runs as pushes would.
   */
  repo?: string;
  /** The built web console served under /console/. @default <repo>/dist/console */
  consoleDir?: string;
  /**
   * Check a requested commit out while the engine plans its run, instead of when its first job
   * starts. It pays only where a core is free for it: on 2 cores the checkout's git ran beside the
   * engine's first hop and the emulators, and moved ~15 ms from the build runner's share to the
   * engine's with the run no faster (bench/local-mode.ts, 8 warm runs, twice each way: engine +
   * runner 211 and 210 ms with it, 212 and 213 ms without).
   * @default true with more than 2 cores
   */
  earlyCheckout?: boolean;
}

/** LocalModeOptions.earlyCheckout's default: on with more than 2 cores. */
export function earlyCheckoutByDefault(): boolean {
  return os.availableParallelism() > 2;
}

export interface LocalMode {
  apiUrl: string;
  /** The web console, with this start's token in the fragment (the page keeps it, the server never sees it). */
  consoleUrl: string;
  /** This start's API token (also in dev.json): `Authorization: Bearer <apiToken>`. */
  apiToken: string;
  targetUrl: string;
  dataDir: string;
  repoPath: string;
  webhookSecret: string;
  api: ApiService;
  target: LocalTarget;
  builds: LocalBuildRunner;
  /** Where the emulators answer, and the table (benchmarks and tools that read the state directly). */
  aws: AwsConfig & { tableName: string };
  /** Commits the files given (path -> content) to the sample repository's main branch; returns the sha. */
  commit(files: Record<string, string>, message: string): string;
  /** The pipeline registered from `repo`, when one was given. */
  own?: OwnRepository;
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
  // A --repo that is no repository, or has no valid pipeline file, fails before anything starts.
  const own = opts.repo ? readOwnRepository(opts.repo) : undefined;
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
    const emu = await startEmulators({ dataDir: path.join(dataDir, 'dynamodb'), detached: true, loopbackOnly: true });
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
    const engineQueue = new SqsEventQueue(sqs, engineUrl);
    // Every run request (API, webhook, schedule, recovery, --repo commits) passes here: the build
    // runner starts checking out its commit while the engine plans the run (earlyCheckout).
    const earlyCheckout = opts.earlyCheckout ?? earlyCheckoutByDefault();
    const events: EventQueue = {
      send: async (messages: EngineMessage[]) => {
        const sent = engineQueue.send(messages);
        // Once the request is on its way: starting a checkout takes a few milliseconds of this thread.
        const checkouts = !earlyCheckout ? [] : messages.flatMap((m) => (m.type === 'RunRequest' && m.trigger.repository && m.trigger.commit ? [{ repository: m.trigger.repository, commit: m.trigger.commit }] : []));
        if (checkouts.length > 0) setImmediate(() => { for (const c of checkouts) builds.prepare(repositoryPath(c.repository), c.commit); });
        return sent;
      },
      retryAfter: (messages) => engineQueue.retryAfter(messages),
    };
    const releases = new SqsReleaseQueue(sqs, releaseUrl);
    const secrets = new FileSecretSource(path.join(dataDir, 'secrets.json'));
    const reposDir = path.join(dataDir, 'repos');
    // The user's repository is read where it is; every other one under .slipway/repos/<owner>/<name>.
    const repositoryPath = (repository: string) => (own && repository.toLowerCase() === own.spec.source.repository.toLowerCase() ? own.dir : path.join(reposDir, repository));

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
      onLog: (_id, line, build) => (opts.onBuildLog ? opts.onBuildLog(build, line) : log(`  | ${line}`)),
    });
    const target = new LocalTarget({ name: SAMPLE.target, dataDir, port: saved.targetPort ?? 0, testPort: saved.testPort ?? 0, onLog: log });
    await target.start();
    stops.push(() => target.stop());
    const admin = new TargetAdmin({ targets, ownership: target, releaseQueue: releases });
    const releaserPorts: ReleaserDeps = { targets, actions: target, releaseQueue: releases, events, log: { info: (m) => (opts.quiet ? undefined : log(`release: ${m}`)), warn: (m) => log(`release: ${m}`) } };
    // Through the same ownership check as PUT /targets: the local target vouches for its own processes.
    try {
      const { created } = await admin.putTarget(target.config());
      if (created) log(`registered release target ${SAMPLE.target} (blue/green processes behind ${target.url})`);
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }

    // 4. the handlers of functions/*, with the ports this machine has instead of the ones it lacks,
    //    fed by pollers as Lambda's event source mappings would
    const notifications = new SqsNotificationQueue(sqs, notificationUrl);
    // The engine's memory of the runs it wrote, as a warm Lambda instance keeps it.
    const recent = new RecentRuns();
    const engineHandler = createEngineHandler(() => ({
      runs, pipelines, decide, events, releases, builds, notifier: new QueueNotifier(notifications), recent,
      resolveDefinition: (record, trigger) => localDefinition(repositoryPath(trigger.repository ?? record.spec.source.repository), record, trigger.commit),
    }));
    // publicApiUrl is set once the HTTP server below has its port.
    const notifierDeps: NotifierDeps = { pipelines, runs, queue: notifications, events, secrets, sns: createSnsClient(aws), logger: { info: () => undefined, warn: (m, x) => log(`notify: ${m} ${JSON.stringify(x)}`) } };
    const notifierHandler = createNotifierHandler(() => notifierDeps);
    const releaseHandler = createReleaserHandler(() => releaserPorts);
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
      // fauxqs serves S3 on loopback: the presigned links work from this machine, as the bucket's do in AWS.
      artifacts: new S3ArtifactStore(s3, bucket),
      targets: admin,
    };
    // The same service the API handler serves, for the terminal view and the tests.
    const api = new ApiService(apiPorts);
    const apiHandler = createApiHandler(() => apiPorts);
    const webhookHandler = createWebhookHandler(() => ({ pipelines, deliveries: new DynamoDeliveryStore(documents, tableName), queue: events, secrets, protocol: gitWebhooks }));
    // A new token every start: whoever reads .slipway/dev.json (the developer's own files) may use the API.
    const apiToken = randomBytes(32).toString('base64url');
    const consoleDir = opts.consoleDir ?? path.join(ROOT, 'dist', 'console');
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const event = toApiGatewayEvent(req, Buffer.concat(chunks));
        const requestId = event.requestContext.requestId;
        const isWebhook = /^\/webhooks\/[^/]+$/.test(event.rawPath) && event.requestContext.http.method === 'POST';
        const isConsole = event.rawPath === '/console' || event.rawPath.startsWith('/console/');
        const door = admit(req.headers, isWebhook || isConsole, apiToken);
        if (!door.ok) {
          res.writeHead(door.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ error: door.error, message: door.message, requestId }));
          return;
        }
        if (isConsole) {
          writeAnswer(res, consoleAnswer(event.requestContext.http.method, event.rawPath, consoleDir, { apiBase: '', auth: { kind: 'local-token' } })!, req.method === 'HEAD');
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
    const consoleUrl = `${apiUrl}/console/#token=${apiToken}`;
    writeFileSync(stateFile, JSON.stringify({ ...state, apiUrl, apiToken, consoleUrl, targetUrl: target.url }, null, 2), { mode: 0o600 });
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

    // 7. the reconciler's missed-webhook recovery, on a timer, reading the repositories on disk
    const reconcileSeconds = opts.reconcileSeconds ?? (Number(process.env.SLIPWAY_RECONCILE_SECONDS ?? '') || 10);
    if (reconcileSeconds > 0) {
      const memory = newRecoveryMemory();
      const recoveryDeps = {
        pipelines, runs, deliveries: new DynamoDeliveryStore(documents, tableName), queue: events, heads: new LocalRepositoryHeads(repositoryPath), memory,
        // A local webhook arrives in milliseconds: one period is grace enough.
        graceSeconds: reconcileSeconds,
      };
      let passing: Promise<unknown> = Promise.resolve();
      const timer = setInterval(() => {
        passing = recoverMissedPushes(recoveryDeps).then((r) => {
          for (const x of r.recovered) log(`recovered: webhook missed for ${x.ref} at ${x.commit.slice(0, 12)} (${x.delaySeconds ?? '?'} s after the commit): run ${x.runId}`);
        }, (e) => log(`reconciler: ${(e as Error).message}`));
      }, reconcileSeconds * 1000);
      stops.push(async () => { clearInterval(timer); await passing; });
    }

    // 8. schedules: the clock the reconciler's minute rule is on AWS, looking every 15 s at what came due since
    const branches = localBranchResolver(repositoryPath);
    const scheduleDeps = { pipelines, runs, queue: events, resolveBranch: (_p: string, repository: string, branch: string) => branches.resolveBranch(_p, repository, branch) };
    let lastScheduleCheck = Date.now();
    let scheduling: Promise<unknown> = Promise.resolve();
    const scheduleTimer = setInterval(() => {
      const now = Date.now();
      const from = lastScheduleCheck;
      lastScheduleCheck = now;
      scheduling = fireDueSchedules(scheduleDeps, from, now).then((fired) => {
        for (const f of fired) log(`schedule ${f.schedule} of ${f.pipelineId} (${f.scheduledTime}): ${'error' in f.outcome ? f.outcome.error : f.outcome.started ? `run ${f.outcome.runId}` : 'skipped, the branch head already ran green'}`);
      }, (e) => log(`schedules: ${(e as Error).message}`));
    }, 15_000);
    stops.push(async () => { clearInterval(scheduleTimer); await scheduling; });

    if (own) {
      await registerOwn(pipelines, own, log);
      stops.push(watchCommits({ own, pipelines, events, deliveries: new DynamoDeliveryStore(documents, tableName), author: localDeveloperName(), log }));
    }

    return {
      own,
      apiUrl, apiToken, consoleUrl, targetUrl: target.url, dataDir, repoPath, webhookSecret, api, target, builds, stop,
      aws: { ...aws, tableName },
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

/** A definition kept in the repository, read at the commit from the repository on disk (the git host's API in AWS). */
async function localDefinition(repoPath: string, record: PipelineRecord, commit: string): Promise<PipelineSpec> {
  const file = record.definitionSource.kind === 'repository' ? record.definitionSource.path : DEFAULT_DEFINITION_PATH;
  const r = await gitIn(repoPath, ['show', `${commit}:${file}`]);
  if (r.status !== 0) throw new ValidationError(`${file} not found at ${commit.slice(0, 12)} in ${repoPath}`);
  return assertPipeline(r.stdout, { filename: file });
}

// ---- your own repository -----------------------------------------------------------

export interface OwnRepository {
  dir: string;
  file: string;
  pipelineId: string;
  spec: PipelineSpec;
  branch: string;
}

const OWN_FILES = ['slipway.yml', '.slipway.yml', 'slipway.yaml', '.slipway.yaml', 'slipway.json'];

/** The pipeline file of a working copy; a clear error for a folder that is not one, or has none. */
export function readOwnRepository(dir: string): OwnRepository {
  const abs = path.resolve(dir);
  if (!existsSync(path.join(abs, '.git'))) throw new ValidationError(`${abs} is not a git repository (no .git): \`--repo\` takes the folder of your repository's working copy`);
  const file = OWN_FILES.find((f) => existsSync(path.join(abs, f)));
  if (!file) throw new ValidationError(`${abs} has no pipeline file (${OWN_FILES.join(', ')}); write one with: slipway init -o ${path.join(abs, 'slipway.yml')}`);
  const spec = assertPipeline(readFileSync(path.join(abs, file), 'utf8'), { filename: file });
  const branch = spawnSync('git', ['-C', abs, 'symbolic-ref', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || 'main';
  return { dir: abs, file, pipelineId: spec.name, spec, branch };
}

/** A new version when the file changed since the last registration. */
async function registerOwn(pipelines: DynamoPipelineStore, own: OwnRepository, log: (l: string) => void): Promise<void> {
  const latest = await pipelines.get(own.pipelineId).catch(() => undefined);
  if (latest && JSON.stringify(latest.spec) === JSON.stringify(own.spec)) return;
  const record = await pipelines.put({ id: own.pipelineId, spec: own.spec, definitionSource: { kind: 'registered' }, ...(latest?.webhookSecretName ? { webhookSecretName: latest.webhookSecretName } : {}) });
  log(`registered pipeline ${own.pipelineId} v${record.version} from ${path.join(own.dir, own.file)} (${Object.keys(own.spec.jobs).join(' -> ')})`);
}

// ---- the terminal ----------------------------------------------------------------

export async function runDev(opts: { reset: boolean; repo?: string }): Promise<number> {
  const print = (l: string) => console.log(l);
  print('Slipway local mode: starting DynamoDB Local, fauxqs (SQS, S3), the engine, the releaser and the API...');
  const t0 = Date.now();
  // Jobs' status lines and their builds' log lines, each job's lines under its status.
  const terminal = new RunTerminal(print, t0);
  let mode: LocalMode;
  try {
    // SLIPWAY_DATA_DIR: another data folder than <repo>/.slipway (tests, or two checkouts side by side).
    mode = await startLocalMode({ reset: opts.reset, onLog: print, onBuildLog: (build, line) => terminal.buildLog(build, line), quiet: true, ...(opts.repo ? { repo: opts.repo } : {}), ...(process.env.SLIPWAY_DATA_DIR ? { dataDir: process.env.SLIPWAY_DATA_DIR } : {}) });
  } catch (e) {
    console.error(`slipway dev: ${(e as Error).message}`);
    // A --repo that is no repository, or whose pipeline file is invalid, is the user's to fix (2).
    if (e instanceof ValidationError) return 2;
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
  print(`Console    ${mode.consoleUrl}`);
  const runs = await mode.api.listRuns(SAMPLE.pipelineId, {});
  if (runs.items.length === 0) {
    print(`\nfirst start: running pipeline ${SAMPLE.pipelineId} on ${SAMPLE.repository}@main`);
    const { runId } = await mode.api.requestRun(SAMPLE.pipelineId, { branch: 'main' }, { by: 'slipway dev', requestId: `dev-${Date.now()}` });
    const run = await followRun(mode.api, runId, terminal);
    print(`\nrun ${runId} ${run.status} in ${((Date.now() - t0) / 1000).toFixed(1)}s since start`);
  }
  const d = mode.target.describe();
  const next = nextVersion(mode.repoPath);
  if (mode.own) {
    print(`
Your repository ${mode.own.dir}: pipeline ${mode.own.pipelineId} (from ${mode.own.file})
  commit on ${mode.own.branch} there and a run starts, as a push would; or:
  npm run slipway -- run ${mode.own.pipelineId} --watch
  (a deploy job releases to the local target ${SAMPLE.target}; other targets need \`slipway targets apply\`)`);
  }
  print(`
The console: ${mode.consoleUrl}
  (the link carries this start's token; open it in a browser on this machine)

The release target ${SAMPLE.target} is live at ${mode.targetUrl}  (blue ${d.weights.blue}% / green ${d.weights.green}%)
  curl ${mode.targetUrl}

Release the next version:
  echo ${next} > ${path.relative(process.cwd(), mode.repoPath)}/VERSION
  git -C ${path.relative(process.cwd(), mode.repoPath)} commit -qam "hello ${next}"
  npm run slipway -- run ${SAMPLE.pipelineId} --branch main --watch
or send a signed GitHub push webhook: see "Trigger a run with a webhook" in the README.

Ctrl-C stops everything; state stays in ${path.relative(process.cwd(), mode.dataDir)}/ (npm start -- --reset clears it).`);
  await new Promise(() => {});
  return 0;
}

/** The sample's next minor version, from its VERSION file (1.0.0 -> 1.1.0, 1.3.2 -> 1.4.0). */
export function nextVersion(repoPath: string): string {
  let current = '1.0.0';
  try { current = readFileSync(path.join(repoPath, 'VERSION'), 'utf8').trim(); } catch { /* the sample's first version */ }
  const m = /^(\d+)\.(\d+)\.\d+/.exec(current);
  return m ? `${m[1]}.${Number(m[2]) + 1}.0` : '1.1.0';
}

/** Who answers approvals in the local mode: the operating-system user running it. */
function localDeveloperName(): string {
  try {
    return os.userInfo().username || 'developer';
  } catch {
    return 'developer';
  }
}
