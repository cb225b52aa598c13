import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { ENV } from '../../shared/config.ts';
import { Api } from './api.ts';
import { Artifacts } from './artifacts.ts';
import { Builds, type BuildFleetProps, type ComputeClass } from './builds.ts';
import { SlipwayFunction } from './handler.ts';
import { Images } from './images.ts';
import { Notifications } from './notifications.ts';
import { Observability } from './observability.ts';
import { Queues } from './queues.ts';
import { Reconciler } from './reconciler.ts';
import { grantReadTargetTags, RELEASER_WILDCARDS, Releases, type ReleaseScope } from './releases.ts';
import { grantDeliveryClaims, StateTable } from './table.ts';

/** Secrets the handlers may read: webhook secrets and git host tokens, named slipway/<pipelineId>/... */
export const SECRET_NAME_PREFIX = 'slipway/';

/** Extra variable, not in shared/config.ts ENV yet: the topic run notifications go to. */
export const NOTIFICATION_TOPIC_ENV = 'SLIPWAY_NOTIFICATION_TOPIC_ARN';

export interface SlipwayProps {
  /**
   * Days a run's artifacts stay in the bucket.
   * @default 30
   */
  readonly artifactRetentionDays?: number;
  /**
   * Days a finished run's record is kept before DynamoDB's TTL deletes it.
   * @default 90
   */
  readonly runRetentionDays?: number;
  /**
   * Retention of every log group (handlers, builds, API access logs).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Compute classes jobs may ask for; one CodeBuild project each.
   * @default ['small', 'medium', 'large']
   */
  readonly computeClasses?: readonly ComputeClass[];
  /**
   * Reserved-capacity CodeBuild fleets jobs may run on (`fleet: NAME`). Each bills for its base
   * capacity while it exists, idle or not.
   * @default none
   */
  readonly fleets?: readonly BuildFleetProps[];
  /**
   * Days a dependency cache entry stays in the bucket (`cache/`, its own lifecycle rule).
   * @default 14
   */
  readonly cacheRetentionDays?: number;
  /**
   * Image jobs may push only to ECR repositories named `<prefix>/...`.
   * @default 'slipway'
   */
  readonly ecrRepositoryPrefix?: string;
  /**
   * The AWS CodeConnections connection builds check out with when a pipeline names none
   * (`source.connection`). Needed for every GitLab repository and for private GitHub and Bitbucket
   * repositories; create and approve it first (README, "Deploying into your own account").
   * @default none
   */
  readonly sourceConnection?: string;
  /**
   * Further connections pipelines may name in `source.connection`. The build role may use exactly
   * `sourceConnection` and these; a pipeline naming another one fails its builds at once.
   * @default none
   */
  readonly sourceConnections?: readonly string[];
  /**
   * ECR repositories to create under the prefix (`web` -> `<prefix>/web`), each with lifecycle
   * rules that keep every image a target serves or can roll back to, and the newest `keepImages`.
   * @default none: create them in your own stack (SlipwayImageRepository has the same rules)
   */
  readonly imageRepositories?: readonly string[];
  /**
   * Images each repository keeps besides those a target serves or can roll back to.
   * @default 30
   */
  readonly keepImages?: number;
  /**
   * How often the reconciler checks runs for lost build events.
   * @default Duration.minutes(5)
   */
  readonly reconcileEvery?: Duration;
  /**
   * Minutes past a job's timeout before the reconciler asks CodeBuild about it.
   * @default 20
   */
  readonly reconcileMarginMinutes?: number;
  /**
   * ECS services, clusters, listeners and task roles the releaser may act on.
   * @default services tagged slipway:target, ALB listener rules of this account/region, task roles passed only to ECS tasks
   */
  readonly releaseScope?: ReleaseScope;
  /**
   * Topic the alarms notify; must accept publishes from CloudWatch (see ObservabilityProps.alarmTopic).
   * @default none
   */
  readonly alarmTopic?: sns.ITopic;
  /** @default true */
  readonly dashboard?: boolean;
  /** Management API throttling, requests per second, per route. @default 50 */
  readonly apiRateLimit?: number;
  /** @default 100 */
  readonly apiBurstLimit?: number;
  /** Webhook route throttling, requests per second (its own limit, apart from the management routes). @default 100 */
  readonly webhookRateLimit?: number;
  /** @default 200 */
  readonly webhookBurstLimit?: number;
  /**
   * Root URL links to runs start with in commit statuses and notifications (`<url>/runs/<runId>`),
   * e.g. a custom domain or a UI in front of the API.
   * @default the HTTP API's endpoint
   */
  readonly publicApiUrl?: string;
}

/**
 * The whole Slipway engine: API, queues, state table, artifact bucket, builds, releaser,
 * notifications, alarms. Nothing in it bills by the hour while idle.
 */
export class Slipway extends Construct {
  readonly table: StateTable;
  readonly queues: Queues;
  readonly artifacts: Artifacts;
  readonly builds: Builds;
  readonly notifications: Notifications;
  readonly api: Api;
  readonly releases: Releases;
  readonly observability: Observability;
  readonly images: Images;
  readonly reconciler: Reconciler;
  readonly handlers: Record<'webhook' | 'api' | 'engine' | 'buildEvents' | 'releaser' | 'notifier' | 'reconciler', SlipwayFunction>;

  constructor(scope: Construct, id: string, props: SlipwayProps = {}) {
    super(scope, id);
    const runRetentionDays = props.runRetentionDays ?? 90;
    if (!Number.isInteger(runRetentionDays) || runRetentionDays < 1) throw new Error(`runRetentionDays must be a whole number of days >= 1, got ${runRetentionDays}`);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const stack = Stack.of(this);

    this.table = new StateTable(this, 'State');
    this.queues = new Queues(this, 'Queues');
    this.artifacts = new Artifacts(this, 'Artifacts', { artifactRetentionDays: props.artifactRetentionDays, cacheRetentionDays: props.cacheRetentionDays });
    const connections = [...new Set([...(props.sourceConnection ? [props.sourceConnection] : []), ...(props.sourceConnections ?? [])])];
    this.builds = new Builds(this, 'Builds', {
      artifacts: this.artifacts,
      computeClasses: props.computeClasses,
      fleets: props.fleets,
      ecrRepositoryPrefix: props.ecrRepositoryPrefix,
      logRetention,
      sourceConnectionArns: connections,
    });
    this.notifications = new Notifications(this, 'Notifications');

    // Every handler gets the whole ENV contract (cheap, and a handler that starts reading one more
    // variable does not fail at cold start); permissions below stay per handler.
    const environment: Record<string, string> = {
      [ENV.tableName]: this.table.table.tableName,
      [ENV.engineQueueUrl]: this.queues.engineQueue.queueUrl,
      [ENV.releaseQueueUrl]: this.queues.releaseQueue.queueUrl,
      [ENV.artifactBucket]: this.artifacts.bucket.bucketName,
      [ENV.buildProjects]: this.builds.projectNamesJson(),
      [ENV.buildFleets]: this.builds.fleetArnsJson(),
      [ENV.buildRoles]: this.builds.roleNamesJson(),
      [ENV.buildLogGroup]: this.builds.logGroup.logGroupName,
      [ENV.runRetentionDays]: String(runRetentionDays),
      [ENV.ecrRegistry]: `${stack.account}.dkr.ecr.${stack.region}.${stack.urlSuffix}`,
      [ENV.ecrRepositoryPrefix]: this.builds.ecrRepositoryPrefix,
      [ENV.sourceConnections]: JSON.stringify({ ...(props.sourceConnection ? { default: props.sourceConnection } : {}), allowed: connections }),
      [ENV.notificationQueueUrl]: this.queues.notificationQueue.queueUrl,
      [NOTIFICATION_TOPIC_ENV]: this.notifications.topic.topicArn,
      POWERTOOLS_SERVICE_NAME: 'slipway',
    };
    const make = (id: string, handler: 'webhook' | 'api' | 'engine' | 'buildEvents' | 'notifier', description: string, timeout = Duration.seconds(30)) =>
      new SlipwayFunction(this, id, { handler, environment, description, timeout, logRetention });

    const webhook = make('WebhookHandler', 'webhook', 'Slipway webhook: verifies the provider signature, records the delivery, requests runs', Duration.seconds(15));
    const api = make('ApiHandler', 'api', 'Slipway management API (IAM-authorised)', Duration.seconds(15));
    const engine = make('EngineHandler', 'engine', 'Slipway engine: applies events to runs (engine-events.fifo consumer)');
    const buildEvents = make('BuildEventsHandler', 'buildEvents', 'Slipway: CodeBuild state changes -> engine events', Duration.seconds(15));
    // Each channel of a message: three tries of at most 5 s, concurrently; the queue's visibility is 6 min.
    const notifier = make('NotifierHandler', 'notifier', 'Slipway notifier: commit statuses, chat webhooks, e-mail (notifications consumer)', Duration.seconds(60));
    this.releases = new Releases(this, 'Releases', {
      releaseQueue: this.queues.releaseQueue,
      environment,
      logRetention,
      ...props.releaseScope,
    });
    const releaser = this.releases.releaser;
    this.images = new Images(this, 'Images', {
      ecrRepositoryPrefix: this.builds.ecrRepositoryPrefix,
      repositoryNames: props.imageRepositories,
      keepImages: props.keepImages,
    });
    this.reconciler = new Reconciler(this, 'Reconciler', {
      environment,
      every: props.reconcileEvery,
      marginMinutes: props.reconcileMarginMinutes,
      logRetention,
    });
    const reconciler = this.reconciler.handler;
    this.handlers = { webhook, api, engine, buildEvents, releaser, notifier, reconciler };

    // --- who may do what (each owner grants on what it owns) ---
    // webhook (internet-facing): the repository index and its own delivery records only; requests
    // runs; reads webhook secrets.
    this.table.grantWebhookIngest(webhook.function);
    this.queues.grantSendEngineEvents(webhook.function);
    this.grantReadSecrets(webhook.function);
    // api: pipelines and runs; requests runs, cancels, approvals (engine events) and rollbacks
    // (release steps); presigns artifact downloads; reads build logs; git host tokens (branch lookups).
    this.table.grantReadWrite(api.function);
    this.grantReadSecrets(api.function);
    this.queues.grantSendEngineEvents(api.function);
    this.queues.grantSendReleaseSteps(api.function);
    this.artifacts.grantReadRuns(api.function);
    this.artifacts.grantCopyRuns(api.function);
    this.builds.grantReadLogs(api.function);
    // api: PUT /targets checks the slipway:target tags of what a target names (read-only).
    grantReadTargetTags(api.function);
    NagSuppressions.addResourceSuppressions(
      api.role,
      [{
        id: 'AwsSolutions-IAM5',
        reason: 'Read-only: ecs:DescribeServices/ListTagsForResource on the services of this account and region and elasticloadbalancing:DescribeTags (no resource type), to check the slipway:target tags of what PUT /targets names.',
        appliesTo: ['Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/*'],
      }],
      true,
    );
    // engine: consumes engine events; starts/stops builds; starts releases; notifies; git host tokens
    // (commit statuses, pipeline definitions read from the repository).
    engine.function.addEventSource(
      new SqsEventSource(this.queues.engineQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    this.table.grantReadWrite(engine.function);
    this.queues.grantSendEngineEvents(engine.function);
    this.queues.grantSendReleaseSteps(engine.function);
    this.builds.grantStartStop(engine.function);
    // Each build runs as its lane's role (serviceRoleOverride), which the engine passes to CodeBuild.
    this.builds.grantPassRoles(engine.function);
    this.queues.grantSendNotifications(engine.function);
    this.grantReadSecrets(engine.function);
    // notifier: consumes notifications; reads pipelines and runs (run_fixed); git host tokens and
    // webhook URLs (slipway/* secrets); publishes e-mail to the topics pipelines name; puts a
    // channel back for a later attempt; reports what it could not deliver to the engine.
    notifier.function.addEventSource(
      new SqsEventSource(this.queues.notificationQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    this.table.grantRead(notifier.function);
    this.grantReadSecrets(notifier.function);
    this.notifications.grantPublishToAccountTopics(notifier.function);
    this.queues.grantSendNotifications(notifier.function);
    this.queues.grantSendEngineEvents(notifier.function);
    NagSuppressions.addResourceSuppressions(
      notifier.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'sns:Publish on the topics of this account and region only: each pipeline names the SNS topic its e-mail goes to, so no ARN list exists at deploy time; the account and region keep a pipeline definition from publishing anywhere else.',
          appliesTo: ['Resource::arn:<AWS::Partition>:sns:<AWS::Region>:<AWS::AccountId>:*'],
        },
      ],
      true,
    );
    // build-events: EventBridge -> engine event (reads a finished build's exported variables);
    // failures after retries go to the DLQ.
    this.queues.grantSendEngineEvents(buildEvents.function);
    this.builds.grantReadBuilds(buildEvents.function);
    buildEvents.function.configureAsyncInvoke({ retryAttempts: 2, onFailure: new SqsDestination(this.queues.buildEventsDlq.queue) });
    this.builds.routeStateChanges(buildEvents.function, this.queues.buildEventsDlq.queue);
    // releaser: target records (lock), its own next steps, ReleaseFinished back to the engine, notifications.
    this.table.grantReadWrite(releaser.function);
    this.queues.grantSendReleaseSteps(releaser.function);
    this.queues.grantSendEngineEvents(releaser.function);
    this.notifications.grantPublish(releaser.function);
    // releaser: marks the images targets serve (ECR tags) so the repositories' lifecycle rules keep them.
    this.images.grantTagImages(releaser.function);
    NagSuppressions.addResourceSuppressions(
      releaser.role,
      [{
        id: 'AwsSolutions-IAM5',
        reason: 'repository/<ecrRepositoryPrefix>/* is the set of pipeline image repositories (the same the builds push to); only BatchGetImage and PutImage, to move the slipway-live-/slipway-prev- tags.',
        appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository\\/.+\\/\\*$/' }],
      }],
      true,
    );
    // reconciler: reads pipelines and active runs, asks CodeBuild about Slipway builds only, and
    // sends the engine the BuildStateChanged events that were lost.
    this.table.grantRead(reconciler.function);
    this.builds.grantReadBuilds(reconciler.function);
    this.queues.grantSendEngineEvents(reconciler.function);
    // reconciler, missed-webhook recovery: claims the heads it recovers beside the webhook's
    // delivery records (DELIVERY#... only), and reads git host tokens to list branches and tags.
    grantDeliveryClaims(this.table.table, reconciler.function);
    this.grantReadSecrets(reconciler.function);

    for (const h of Object.values(this.handlers)) {
      NagSuppressions.addResourceSuppressions(
        h.role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'Wildcards limited to what the owner constructs grant: the table and its indexes (table/index/*, item actions only), objects under the run namespaces (runs/, pr-runs/, fork-runs/) of the artifact bucket (read), slipway/* secrets (GetSecretValue only).',
            appliesTo: [
              { regex: '/^Resource::<[A-Za-z0-9]*StateTable[A-Za-z0-9]+\\.Arn>\\/index\\/\\*$/' },
              { regex: '/^Resource::<[A-Za-z0-9]*ArtifactsBucket[A-Za-z0-9]+\\.Arn>\\/(runs|pr-runs|fork-runs)\\/\\*$/' },
              'Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:slipway/*',
              // Releaser-specific wildcards are suppressed (with reasons) in Releases.
              ...(h === releaser ? RELEASER_WILDCARDS : []),
            ],
          },
        ],
        true,
      );
    }

    this.api = new Api(this, 'Api', {
      webhookFunction: webhook.function,
      apiFunction: api.function,
      throttleRateLimit: props.apiRateLimit,
      throttleBurstLimit: props.apiBurstLimit,
      webhookRateLimit: props.webhookRateLimit,
      webhookBurstLimit: props.webhookBurstLimit,
      accessLogRetention: logRetention,
    });
    // Only the notifier links to runs; the functions the API invokes cannot take its URL (a cycle).
    notifier.function.addEnvironment(ENV.publicApiUrl, props.publicApiUrl ?? this.api.httpApi.apiEndpoint);

    this.observability = new Observability(this, 'Observability', {
      functions: Object.fromEntries(Object.entries(this.handlers).map(([n, h]) => [n, h.function])),
      deadLetterQueues: {
        engineEvents: this.queues.engineDlq,
        releaseSteps: this.queues.releaseDlq,
        buildEvents: this.queues.buildEventsDlq,
        notifications: this.queues.notificationDlq,
      },
      engineQueue: this.queues.engineQueue,
      httpApi: this.api.httpApi,
      alarmTopic: props.alarmTopic,
      dashboard: props.dashboard,
    });
  }

  /** secretsmanager:GetSecretValue on slipway/* secrets only (names, never values, are stored). */
  private grantReadSecrets(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [Stack.of(this).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${SECRET_NAME_PREFIX}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    });
  }
}
