/**
 * The engine stack as `npx cdk deploy` creates it: what each construct must guarantee.
 * One synthesis per file (esbuild bundles every handler), shared by every test.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENV, OPTIONAL_ENV, type EnvKey } from '../../shared/config.ts';
import { HANDLER_ENTRIES } from '../../infra/constructs/handler.ts';
import { TABLE_INDEXES, TTL_ATTRIBUTE } from '../../shared/aws/table.ts';
import { MANAGEMENT_ROUTES, WEBHOOK_ROUTE } from '../../infra/constructs/api.ts';
import { SlipwayStack } from '../../infra/slipway-stack.ts';
import { engineConfigFromContext } from '../../infra/config.ts';
import { flatten, iamStatements, nagFindings, newApp } from './support.ts';
import { ACCOUNT, REGION, simulate } from './iam-simulator.ts';

const app = newApp();
// The engine alone: the web console's hosting and sign-in have their own file (console.test.ts).
const stack = new SlipwayStack(app, 'Slipway', { engine: engineConfigFromContext((k) => app.node.tryGetContext(k)), console: { enabled: false } });
const template = Template.fromStack(stack);
const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: any; Metadata?: any }>; Outputs: Record<string, unknown> };
const resourcesOf = (type: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === type);

/**
 * Statements allowed to name Resource "*": each action here has no resource type in the IAM
 * Service Authorization Reference, so "*" is the only resource it accepts.
 */
const STAR_RESOURCE_ALLOW_LIST: Record<string, string> = {
  'ecr:GetAuthorizationToken': 'no resource type; returns a registry login, what it may push is scoped by the repository statement',
  'ecs:RegisterTaskDefinition': 'no resource type; what a task definition may run as is bounded by the iam:PassRole condition',
  'ecs:DescribeTaskDefinition': 'no resource type (read-only)',
  'elasticloadbalancing:DescribeTargetHealth': 'every ELBv2 Describe* action has no resource type (read-only)',
  'elasticloadbalancing:DescribeRules': 'every ELBv2 Describe* action has no resource type (read-only)',
  'elasticloadbalancing:DescribeTags': 'every ELBv2 Describe* action has no resource type (read-only; the API checks target tags)',
  'xray:PutTraceSegments': 'X-Ray active tracing on every handler; the action has no resource type',
  'xray:PutTelemetryRecords': 'X-Ray active tracing on every handler; the action has no resource type',
};

describe('state table', () => {
  it('is on demand, point-in-time recoverable, encrypted, retained, and expires items by TTL', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        SSESpecification: { SSEEnabled: true },
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
      }),
    });
  });

  it('has exactly the indexes the DynamoDB adapters query, with their projections', () => {
    const [, table] = resourcesOf('AWS::DynamoDB::Table')[0];
    const deployed = table.Properties.GlobalSecondaryIndexes.map((g: any) => ({
      name: g.IndexName,
      keys: g.KeySchema.map((k: any) => k.AttributeName),
      projection: g.Projection.ProjectionType,
      nonKey: g.Projection.NonKeyAttributes ?? [],
    }));
    const expected = Object.values(TABLE_INDEXES).map((ix) => ({
      name: ix.indexName,
      keys: [ix.partitionKey.name, ix.sortKey.name],
      projection: ix.projectionType,
      nonKey: 'nonKeyAttributes' in ix ? [...ix.nonKeyAttributes] : [],
    }));
    assert.deepEqual(deployed, expected);
  });
});

describe('queues', () => {
  const queues = resourcesOf('AWS::SQS::Queue');
  const fifo = queues.filter(([, q]) => q.Properties.FifoQueue);

  it('engine-events is FIFO without content-based dedup (producers set the dedup id), with a FIFO DLQ', () => {
    assert.equal(fifo.length, 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
  });

  it('every queue is encrypted and every queue that is not a DLQ has one', () => {
    assert.equal(queues.length, 7);
    for (const [id, q] of queues) assert.equal(q.Properties.SqsManagedSseEnabled, true, `${id} is not encrypted`);
    const withRedrive = queues.filter(([, q]) => q.Properties.RedrivePolicy);
    assert.equal(withRedrive.length, 3, 'engine-events, release-steps and notifications redrive to a DLQ');
  });

  it('every queue refuses requests without TLS', () => {
    const policies = resourcesOf('AWS::SQS::QueuePolicy');
    const covered = new Set(policies.filter(([, p]) => p.Properties.PolicyDocument.Statement.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false')).flatMap(([, p]) => p.Properties.Queues.map((q: any) => q.Ref)));
    for (const [id] of queues) assert.ok(covered.has(id), `${id} has no TLS-only policy`);
  });

  it('an alarm fires as soon as any DLQ holds a message', () => {
    const dlqs = queues.filter(([id]) => /Dlq/.test(id)).map(([id]) => id);
    assert.equal(dlqs.length, 4);
    for (const dlq of dlqs) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('every queue consumer (engine, releaser, notifier) reports partial batch failures', () => {
    const mappings = resourcesOf('AWS::Lambda::EventSourceMapping');
    assert.equal(mappings.length, 3);
    for (const [id, m] of mappings) assert.deepEqual(m.Properties.FunctionResponseTypes, ['ReportBatchItemFailures'], id);
  });
});

describe('artifact bucket', () => {
  const artifactBucket = resourcesOf('AWS::S3::Bucket').find(([, b]) => b.Properties.LoggingConfiguration);

  it('is private, encrypted, retained and logs access to a separate bucket', () => {
    template.resourceCountIs('AWS::S3::Bucket', 2);
    for (const [id, b] of resourcesOf('AWS::S3::Bucket')) {
      assert.deepEqual(b.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true }, id);
      assert.equal(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256', id);
      assert.equal(json.Resources[id].Type, 'AWS::S3::Bucket');
      assert.equal((json.Resources[id] as any).DeletionPolicy, 'Retain', id);
    }
    assert.ok(artifactBucket, 'the artifact bucket sends server access logs');
    assert.notEqual(artifactBucket[1].Properties.LoggingConfiguration.DestinationBucketName.Ref, artifactBucket[0]);
  });

  it('expires run artifacts after the configured days and aborts incomplete uploads after a day', () => {
    assert.deepEqual(artifactBucket![1].Properties.LifecycleConfiguration.Rules, [
      { Id: 'expire-run-artifacts', Prefix: 'runs/', ExpirationInDays: 30, Status: 'Enabled' },
      { Id: 'expire-pull-request-artifacts', Prefix: 'pr-runs/', ExpirationInDays: 30, Status: 'Enabled' },
      { Id: 'expire-fork-artifacts', Prefix: 'fork-runs/', ExpirationInDays: 30, Status: 'Enabled' },
      { Id: 'expire-dependency-caches', Prefix: 'cache/', ExpirationInDays: 14, Status: 'Enabled' },
      { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
    ]);
  });

  it('every bucket refuses requests without TLS', () => {
    const policies = resourcesOf('AWS::S3::BucketPolicy');
    assert.equal(policies.length, 2);
    for (const [id, p] of policies) {
      assert.ok(p.Properties.PolicyDocument.Statement.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'), id);
    }
  });
});

describe('builds', () => {
  it('has one CodeBuild project per compute class, unprivileged, with no source of its own', () => {
    const all = resourcesOf('AWS::CodeBuild::Project');
    assert.deepEqual(all.map(([, p]) => p.Properties.Environment.ComputeType).sort(), ['BUILD_GENERAL1_LARGE', 'BUILD_GENERAL1_MEDIUM', 'BUILD_GENERAL1_SMALL', 'BUILD_LAMBDA_2GB']);
    // The Lambda-compute project is checked in build-compute.test.ts (no cache, timeout or privileged mode there).
    const projects = all.filter(([, p]) => p.Properties.Environment.Type !== 'LINUX_LAMBDA_CONTAINER');
    for (const [id, p] of projects) {
      assert.equal(p.Properties.Source.Type, 'NO_SOURCE', id);
      assert.equal(p.Properties.Environment.PrivilegedMode, false, id);
      assert.equal(p.Properties.Environment.Type, 'LINUX_CONTAINER', id);
      assert.ok(p.Properties.LogsConfig.CloudWatchLogs.GroupName, `${id} logs to the build log group`);
      assert.deepEqual(p.Properties.Cache, { Type: 'LOCAL', Modes: ['LOCAL_CUSTOM_CACHE', 'LOCAL_DOCKER_LAYER_CACHE', 'LOCAL_SOURCE_CACHE'] }, `${id} caches locally`);
    }
  });

  it('every log group has a retention', () => {
    for (const [id, g] of resourcesOf('AWS::Logs::LogGroup')) assert.equal(g.Properties.RetentionInDays, 30, id);
  });

  it('the release build role writes only under runs/ and cannot push; the image role pushes only to the prefixed ECR repositories', () => {
    const build = iamStatements(json).filter((s) => s.policy.startsWith('SlipwayBuildsRole'));
    const s3 = build.filter((s) => s.Action.some((a) => a.startsWith('s3:')));
    assert.ok(s3.length > 0);
    for (const s of s3) {
      for (const r of s.Resource) {
        const arn = flatten(r);
        // cache/: the dependency caches (build-isolation.test.ts: forks only read them).
        assert.ok(arn.endsWith('/runs/*') || arn.endsWith('/cache/*') || (s.Action.join() === 's3:ListBucket' && (s.Condition as any)?.StringLike?.['s3:prefix']?.[0] === 'runs/*'), `S3 access beyond runs/: ${s.Action} on ${arn}`);
      }
    }
    assert.equal(build.find((s) => s.Action.some((a) => a.startsWith('ecr:'))), undefined, 'a test job cannot push or retag images');
    const image = iamStatements(json).filter((s) => s.policy.startsWith('SlipwayBuildsImageRole'));
    const push = image.find((s) => s.Action.includes('ecr:PutImage'));
    assert.deepEqual(push?.Resource.map(flatten), ['arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/slipway/*']);
  });

  it('the engine may pass exactly the four build roles, to CodeBuild only', () => {
    const pass = iamStatements(json).filter((s) => s.Action.includes('iam:PassRole') && s.policy.startsWith('SlipwayEngineHandler'));
    assert.equal(pass.length, 1);
    assert.deepEqual(pass[0].Resource.map(flatten).sort(), ['<SlipwayBuildsForkRole', '<SlipwayBuildsImageRole', '<SlipwayBuildsPullRequestRole', '<SlipwayBuildsRole'].map((p) => pass[0].Resource.map(flatten).find((r) => r.startsWith(p))!).sort());
    assert.equal(pass[0].Resource.length, 4);
    assert.deepEqual(pass[0].Condition, { StringEquals: { 'iam:PassedToService': 'codebuild.amazonaws.com' } });
  });

  it('routes state changes of exactly these projects to build-events, with a DLQ', () => {
    const rules = resourcesOf('AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern);
    assert.equal(rules.length, 1, 'one event pattern rule (the other rule is the reconciler schedule)');
    const [, rule] = rules[0];
    assert.deepEqual(rule.Properties.EventPattern['detail-type'], ['CodeBuild Build State Change']);
    assert.equal(rule.Properties.EventPattern.detail['project-name'].length, 4);
    assert.match(rule.Properties.Targets[0].Arn['Fn::GetAtt'][0], /BuildEventsHandler/);
    assert.ok(rule.Properties.Targets[0].DeadLetterConfig.Arn);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });
});

describe('handlers', () => {
  const fns = resourcesOf('AWS::Lambda::Function');

  it('one function per handler entry, each on nodejs22.x or newer, arm64, ESM bundle with source maps', () => {
    assert.equal(fns.length, Object.keys(HANDLER_ENTRIES).length);
    for (const [id, f] of fns) {
      const version = Number(/^nodejs(\d+)\.x$/.exec(f.Properties.Runtime)?.[1]);
      assert.ok(version >= 22, `${id} runs ${f.Properties.Runtime}`);
      assert.deepEqual(f.Properties.Architectures, ['arm64'], id);
      assert.equal(f.Properties.Handler, 'index.handler', id);
      assert.equal(f.Properties.Environment.Variables.NODE_OPTIONS, '--enable-source-maps', id);
    }
  });

  it('every function gets every variable of the ENV contract', () => {
    for (const [id, f] of fns) {
      for (const [key, name] of Object.entries(ENV)) {
        if (!OPTIONAL_ENV.has(key as EnvKey)) assert.ok(f.Properties.Environment.Variables[name] !== undefined, `${id} lacks ${name}`);
      }
      assert.equal(f.Properties.Environment.Variables[ENV.runRetentionDays], '90');
    }
    const projects = fns[0][1].Properties.Environment.Variables[ENV.buildProjects];
    const rendered = flatten(projects);
    for (const cls of ['small', 'medium', 'large']) assert.match(rendered, new RegExp(`"${cls}":"<`), `SLIPWAY_BUILD_PROJECTS names the ${cls} project`);
  });

  it('no function uses the account-wide AWSLambdaBasicExecutionRole', () => {
    for (const [id, r] of resourcesOf('AWS::IAM::Role')) assert.equal(r.Properties.ManagedPolicyArns, undefined, id);
  });
});

describe('API', () => {
  const routes = resourcesOf('AWS::ApiGatewayV2::Route');
  const byKey = new Map(routes.map(([, r]) => [r.Properties.RouteKey as string, r.Properties]));

  it('every management route requires IAM (SigV4)', () => {
    assert.equal(routes.length, MANAGEMENT_ROUTES.length + 1);
    for (const [method, path] of MANAGEMENT_ROUTES) {
      assert.equal(byKey.get(`${method} ${path}`)?.AuthorizationType, 'AWS_IAM', `${method} ${path}`);
    }
  });

  it('only the webhook route is open (the function checks signatures)', () => {
    assert.equal(byKey.get(`${WEBHOOK_ROUTE[0]} ${WEBHOOK_ROUTE[1]}`)?.AuthorizationType, 'NONE');
    assert.deepEqual(routes.filter(([, r]) => r.Properties.AuthorizationType !== 'AWS_IAM').map(([, r]) => r.Properties.RouteKey), ['POST /webhooks/{provider}']);
  });

  it('the stage is throttled and writes access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('the webhook route has a throttle of its own, apart from the management routes (issue 14, finding 4)', () => {
    const [[, stage]] = resourcesOf('AWS::ApiGatewayV2::Stage');
    assert.deepEqual(stage.Properties.RouteSettings, { 'POST /webhooks/{provider}': { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 } });
    // No other route is named: every management route keeps the default (50/s, burst 100) to itself.
    const [webhookRouteId] = routes.find(([, r]) => r.Properties.RouteKey === 'POST /webhooks/{provider}')!;
    const [stageId] = resourcesOf('AWS::ApiGatewayV2::Stage')[0];
    assert.ok(([] as string[]).concat((json.Resources[stageId] as any).DependsOn ?? []).includes(webhookRouteId), 'the stage is created after the route it names');
  });
});

describe('notifications and observability', () => {
  it('the notification topic is encrypted and TLS-only', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('an alarm watches the errors of every function, plus the engine backlog, and a dashboard shows them', () => {
    const errorAlarms = resourcesOf('AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties.MetricName === 'Errors');
    assert.equal(errorAlarms.length, Object.keys(HANDLER_ENTRIES).length);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage' });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('the notifier publishes e-mail only to topics of this account and region; the engine only enqueues notifications', () => {
    const statements = iamStatements(json);
    const publish = statements.filter((s) => s.Action.includes('sns:Publish'));
    const notifier = publish.filter((s) => s.policy.startsWith('SlipwayNotifierHandler'));
    assert.deepEqual(notifier.flatMap((s) => s.Resource.map(flatten)), ['arn:<AWS::Partition>:sns:<AWS::Region>:<AWS::AccountId>:*']);
    assert.ok(!publish.some((s) => s.policy.startsWith('SlipwayEngineHandler')), 'the engine publishes nothing itself');
    const send = statements.filter((s) => s.Action.includes('sqs:SendMessage') && s.Resource.some((r) => /Notifications[A-Z0-9]{8}\.Arn/.test(flatten(r)) && !/Dlq/.test(flatten(r))));
    assert.deepEqual(send.map((s) => s.policy.replace(/RoleDefaultPolicy.*/, '')).sort(), ['SlipwayEngineHandler', 'SlipwayNotifierHandler']);
  });

  it('the notifier links runs to the API endpoint, waits for slow providers and has the notifications queue', () => {
    const [, notifier] = resourcesOf('AWS::Lambda::Function').find(([id]) => id.startsWith('SlipwayNotifierHandler'))!;
    const vars = notifier.Properties.Environment.Variables;
    assert.match(flatten(vars[ENV.publicApiUrl]), /SlipwayApiHttp[A-Z0-9]+/);
    assert.match(flatten(vars[ENV.notificationQueueUrl]), /SlipwayQueuesNotifications/);
    assert.equal(notifier.Properties.Timeout, 60);
    for (const [id, f] of resourcesOf('AWS::Lambda::Function')) {
      if (!id.startsWith('SlipwayNotifierHandler')) assert.equal(f.Properties.Environment.Variables[ENV.publicApiUrl], undefined, id);
    }
  });

  it('creates no customer-managed KMS key (each would cost $1/month while idle)', () => {
    template.resourceCountIs('AWS::KMS::Key', 0);
  });

  it('outputs the webhook URL, the API URL, the artifact bucket and the table', () => {
    for (const name of ['WebhookUrl', 'ApiUrl', 'ArtifactBucketName', 'TableName']) assert.ok(json.Outputs[name], name);
    assert.match(flatten((json.Outputs.WebhookUrl as any).Value), /^<SlipwayApiHttp[A-Z0-9]+\.ApiEndpoint>\/webhooks$/);
  });
});

describe('IAM', () => {
  const statements = iamStatements(json);

  it('no statement grants all actions, or all actions of a service', () => {
    for (const s of statements) {
      for (const a of s.Action) assert.ok(a !== '*' && !/^[a-z0-9-]+:\*$/.test(a), `${s.policy} grants ${a}`);
    }
    assert.ok(statements.every((s) => s.Effect === 'Allow'));
  });

  it('statements with Resource "*" carry only actions from the allow-list, each with its reason', () => {
    const star = statements.filter((s) => s.Resource.includes('*'));
    const actions = new Set(star.flatMap((s) => s.Action));
    assert.deepEqual([...actions].filter((a) => !(a in STAR_RESOURCE_ALLOW_LIST)), []);
    // And the allow-list has no stale entries.
    assert.deepEqual(Object.keys(STAR_RESOURCE_ALLOW_LIST).filter((a) => !actions.has(a)), []);
  });

  it('the releaser updates only tagged ECS services and passes roles only to ECS tasks', () => {
    const releaser = statements.filter((s) => s.policy.startsWith('SlipwayReleasesReleaser'));
    const update = releaser.find((s) => s.Action.includes('ecs:UpdateService'));
    assert.deepEqual(update?.Condition, { Null: { 'aws:ResourceTag/slipway:target': 'false' } });
    const pass = releaser.find((s) => s.Action.includes('iam:PassRole'));
    assert.deepEqual(pass?.Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }, Null: { 'aws:ResourceTag/slipway:target': 'false' } });
    const alarms = releaser.find((s) => s.Action.includes('cloudwatch:DescribeAlarms'));
    assert.deepEqual(alarms?.Resource.map(flatten), ['arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*']);
  });

  it('secrets are readable only under slipway/, and only by the handlers that verify or call git hosts', () => {
    const secretStatements = statements.filter((s) => s.Action.some((a) => a.startsWith('secretsmanager:')));
    assert.deepEqual(new Set(secretStatements.flatMap((s) => s.Action)), new Set(['secretsmanager:GetSecretValue']));
    for (const s of secretStatements) assert.deepEqual(s.Resource.map(flatten), ['arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:slipway/*']);
    assert.deepEqual(secretStatements.map((s) => s.policy.replace(/RoleDefaultPolicy.*/, '')).sort(), ['SlipwayApiHandler', 'SlipwayEngineHandler', 'SlipwayNotifierHandler', 'SlipwayReconcilerFunction', 'SlipwayWebhookHandler']);
  });

  it('only the engine starts or stops builds, on the Slipway projects only', () => {
    const start = statements.filter((s) => s.Action.includes('codebuild:StartBuild'));
    assert.equal(start.length, 1);
    assert.match(start[0].policy, /^SlipwayEngineHandler/);
    assert.ok(start[0].Resource.every((r) => /BuildsProject/.test(flatten(r))));
    // A StartBuild repeated past the idempotency window first looks for the build the first try started.
    assert.ok(start[0].Action.includes('codebuild:ListBuildsForProject'));
  });

  it('only consumers may receive from a queue: the engine from engine-events, the releaser from release-steps, the notifier from notifications', () => {
    const receive = statements.filter((s) => s.Action.includes('sqs:ReceiveMessage'));
    assert.deepEqual(
      receive.map((s) => [s.policy.replace(/RoleDefaultPolicy.*/, ''), s.Resource.map(flatten)]).sort(),
      [
        ['SlipwayEngineHandler', ['<SlipwayQueuesEngineEventsECB5AE4A.Arn>']],
        ['SlipwayNotifierHandler', ['<SlipwayQueuesNotificationsB9FEA864.Arn>']],
        ['SlipwayReleasesReleaser', ['<SlipwayQueuesReleaseSteps482BDC65.Arn>']],
      ],
    );
  });
});

/** The logical id of the one role whose id starts with `prefix`. */
function roleNamed(prefix: string): string {
  const ids = resourcesOf('AWS::IAM::Role').map(([id]) => id).filter((id) => id.startsWith(prefix));
  assert.equal(ids.length, 1, `one role ${prefix}*: ${ids.join(', ')}`);
  return ids[0];
}
/** The ARN iam-simulator.ts resolves `Fn::GetAtt [id, Arn]` to, for the tables and queues asked about here. */
function arnOf(id: string): string {
  const type = json.Resources[id].Type;
  if (type === 'AWS::DynamoDB::Table') return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${id.toLowerCase()}`;
  if (type === 'AWS::SQS::Queue') return `arn:aws:sqs:${REGION}:${ACCOUNT}:${id.toLowerCase()}`;
  throw new Error(`no ARN for ${type}`);
}
async function allows(roleId: string, action: string, resource: string, context: Record<string, string | string[]> = {}): Promise<boolean> {
  return (await simulate(json, roleId, action, resource, context)) === 'Allowed';
}

describe('least privilege, evaluated with an IAM policy simulator over the synthesized policies', () => {
  const [tableId] = resourcesOf('AWS::DynamoDB::Table')[0];
  const table = arnOf(tableId);
  const item = (pk: string) => ({ 'dynamodb:LeadingKeys': [pk] });

  describe('the internet-facing webhook function (issue 14, finding 8)', () => {
    const webhook = roleNamed('SlipwayWebhookHandlerRole');

    it('queries the repository index, and nothing else of the table is readable', async () => {
      assert.ok(await allows(webhook, 'dynamodb:Query', `${table}/index/${TABLE_INDEXES.byRepository.indexName}`));
      for (const index of [TABLE_INDEXES.byPipeline.indexName, TABLE_INDEXES.activeRuns.indexName]) {
        assert.equal(await allows(webhook, 'dynamodb:Query', `${table}/index/${index}`), false, index);
      }
      assert.equal(await allows(webhook, 'dynamodb:Query', table, item('RUN#01J')), false);
      assert.equal(await allows(webhook, 'dynamodb:GetItem', table, item('PIPELINE#web')), false);
      assert.equal(await allows(webhook, 'dynamodb:BatchGetItem', table), false);
    });

    it('can do no Scan, of the table or any index', async () => {
      assert.equal(await allows(webhook, 'dynamodb:Scan', table), false);
      assert.equal(await allows(webhook, 'dynamodb:Scan', `${table}/index/${TABLE_INDEXES.byRepository.indexName}`), false);
    });

    it('writes its own delivery records and nothing else: no UpdateItem, no pipeline, run or target', async () => {
      assert.ok(await allows(webhook, 'dynamodb:PutItem', table, item('DELIVERY#github#7a1c')));
      assert.ok(await allows(webhook, 'dynamodb:DeleteItem', table, item('DELIVERY#github#body:web:ab12')));
      for (const pk of ['PIPELINE#web', 'RUN#01J', 'TARGET#staging', 'DELIVERX#github#1']) {
        assert.equal(await allows(webhook, 'dynamodb:PutItem', table, item(pk)), false, `PutItem ${pk}`);
        assert.equal(await allows(webhook, 'dynamodb:DeleteItem', table, item(pk)), false, `DeleteItem ${pk}`);
      }
      assert.equal(await allows(webhook, 'dynamodb:UpdateItem', table, item('DELIVERY#github#7a1c')), false);
      assert.equal(await allows(webhook, 'dynamodb:UpdateItem', table, item('RUN#01J')), false);
      assert.equal(await allows(webhook, 'dynamodb:BatchWriteItem', table, item('DELIVERY#github#7a1c')), false);
      assert.equal(await allows(webhook, 'dynamodb:DeleteTable', table), false);
    });

    it('reads secrets under slipway/ only, sends to the engine queue only, and receives from no queue', async () => {
      const secret = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`;
      assert.ok(await allows(webhook, 'secretsmanager:GetSecretValue', secret('slipway/web/webhook')));
      assert.equal(await allows(webhook, 'secretsmanager:GetSecretValue', secret('prod/database')), false);
      const [engineQueueId] = resourcesOf('AWS::SQS::Queue').find(([id]) => /EngineEvents[A-Z0-9]{8}$/.test(id))!;
      assert.ok(await allows(webhook, 'sqs:SendMessage', arnOf(engineQueueId)));
      assert.equal(await allows(webhook, 'sqs:ReceiveMessage', arnOf(engineQueueId)), false);
      for (const [id] of resourcesOf('AWS::SQS::Queue').filter(([id]) => id !== engineQueueId)) {
        assert.equal(await allows(webhook, 'sqs:SendMessage', arnOf(id)), false, id);
      }
    });
  });

  describe('the reconciler, recovering missed pushes (issue 16)', () => {
    const reconciler = roleNamed('SlipwayReconcilerFunctionRole');

    it('claims heads beside the delivery records, and writes nothing else', async () => {
      assert.ok(await allows(reconciler, 'dynamodb:PutItem', table, item('DELIVERY#github#head:web:ab12')));
      assert.ok(await allows(reconciler, 'dynamodb:DeleteItem', table, item('DELIVERY#github#recovered:web:ab12')));
      for (const pk of ['PIPELINE#web', 'RUN#01J', 'TARGET#staging']) {
        assert.equal(await allows(reconciler, 'dynamodb:PutItem', table, item(pk)), false, `PutItem ${pk}`);
        assert.equal(await allows(reconciler, 'dynamodb:UpdateItem', table, item(pk)), false, `UpdateItem ${pk}`);
      }
    });

    it('reads git host tokens under slipway/ only', async () => {
      const secret = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`;
      assert.ok(await allows(reconciler, 'secretsmanager:GetSecretValue', secret('slipway/web/token')));
      assert.equal(await allows(reconciler, 'secretsmanager:GetSecretValue', secret('prod/database')), false);
    });

    it('as the clock of scheduled runs (issue 16b): lists pipelines and runs, sends run requests to the engine queue only', async () => {
      assert.ok(await allows(reconciler, 'dynamodb:Query', table));
      assert.ok(await allows(reconciler, 'dynamodb:Query', `${table}/index/gsi1`));
      const [engineQueueId] = resourcesOf('AWS::SQS::Queue').find(([id]) => /EngineEvents[A-Z0-9]{8}$/.test(id))!;
      assert.ok(await allows(reconciler, 'sqs:SendMessage', arnOf(engineQueueId)));
      for (const [id] of resourcesOf('AWS::SQS::Queue').filter(([id]) => id !== engineQueueId)) {
        assert.equal(await allows(reconciler, 'sqs:SendMessage', arnOf(id)), false, id);
      }
    });
  });
});

describe('the releaser and the API, evaluated with an IAM policy simulator (issue 14, finding 3)', () => {
  const releaser = roleNamed('SlipwayReleasesReleaserRole');
  const api = roleNamed('SlipwayApiHandlerRole');
  const rule = (lb: string) => `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener-rule/app/${lb}/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`;
  const service = (name: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:service/shop/${name}`;
  const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
  const tagged = (value: string) => ({ 'aws:ResourceTag/slipway:target': value });

  it('the attack fails: the releaser may not modify an untagged listener rule (another team\'s), but may a tagged one', async () => {
    assert.equal(await allows(releaser, 'elasticloadbalancing:ModifyRule', rule('payments')), false);
    assert.equal(await allows(releaser, 'elasticloadbalancing:ModifyRule', rule('payments'), { 'aws:ResourceTag/team': 'payments' }), false);
    assert.ok(await allows(releaser, 'elasticloadbalancing:ModifyRule', rule('shop'), tagged('shop')));
    assert.equal(await allows(releaser, 'elasticloadbalancing:ModifyListener', `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2`, tagged('shop')), false);
    assert.equal(await allows(releaser, 'elasticloadbalancing:ModifyRule', `arn:aws:elasticloadbalancing:${REGION}:999999999999:listener-rule/app/shop/1/2/3`, tagged('shop')), false, 'another account');
  });

  it('updates only tagged ECS services', async () => {
    assert.equal(await allows(releaser, 'ecs:UpdateService', service('payments-blue'), { 'ecs:cluster': `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/shop` }), false);
    assert.ok(await allows(releaser, 'ecs:UpdateService', service('shop-blue'), { ...tagged('shop'), 'ecs:cluster': `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/shop` }));
    assert.equal(await allows(releaser, 'ecs:DeleteService', service('shop-blue'), tagged('shop')), false);
  });

  it('passes only tagged roles, and only to ECS tasks', async () => {
    assert.equal(await allows(releaser, 'iam:PassRole', role('OrganizationAccountAccessRole'), { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }), false, 'an untagged (admin) role');
    assert.ok(await allows(releaser, 'iam:PassRole', role('shop-task'), { ...tagged('shop'), 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }));
    assert.equal(await allows(releaser, 'iam:PassRole', role('shop-task'), { ...tagged('shop'), 'iam:PassedToService': 'lambda.amazonaws.com' }), false);
  });

  it('the API may read target tags (to check PUT /targets) and change nothing on ECS or the load balancer', async () => {
    assert.ok(await allows(api, 'elasticloadbalancing:DescribeTags', '*'));
    assert.ok(await allows(api, 'ecs:DescribeServices', service('shop-blue')));
    assert.equal(await allows(api, 'elasticloadbalancing:ModifyRule', rule('shop'), tagged('shop')), false);
    assert.equal(await allows(api, 'elasticloadbalancing:AddTags', `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/payments/50dc6c495c0c9188`), false);
    assert.equal(await allows(api, 'ecs:UpdateService', service('shop-blue'), tagged('shop')), false);
    assert.equal(await allows(api, 'ecs:TagResource', service('payments-blue')), false);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unsuppressed error', () => {
    assert.deepEqual(nagFindings(stack).errors, []);
  });

  it('reports no unsuppressed warning', () => {
    assert.deepEqual(nagFindings(stack).warnings, []);
  });

  it('every suppression carries a written reason', () => {
    let count = 0;
    for (const [id, r] of Object.entries(json.Resources)) {
      for (const s of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
        count++;
        assert.ok(typeof s.reason === 'string' && s.reason.length >= 40, `${id}: ${s.id} has no real reason`);
      }
    }
    assert.ok(count > 0);
  });
});
