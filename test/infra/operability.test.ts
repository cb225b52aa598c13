/**
 * Retention, the reconciler and observability as the synthesized template states them, with
 * every retention setting away from its default (so a setting that is not passed through fails).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ENV } from '../../shared/config.ts';
import { TTL_ATTRIBUTE } from '../../shared/aws/table.ts';
import { METRIC } from '../../shared/ports/metrics.ts';
import { RECONCILE_MARGIN_ENV } from '../../shared/services/reconciler.ts';
import { CONTEXT_KEYS, engineConfigFromContext } from '../../infra/config.ts';
import { imageLifecycleRules, SlipwayImageRepository } from '../../infra/constructs/images.ts';
import { SlipwayStack } from '../../infra/slipway-stack.ts';
import { flatten, iamStatements, nagFindings, newApp } from './support.ts';

const app = newApp();
const stack = new SlipwayStack(app, 'Slipway', {
  engine: {
    runRetentionDays: 14,
    artifactRetentionDays: 7,
    logRetention: logs.RetentionDays.ONE_WEEK,
    imageRepositories: ['web', 'api'],
    keepImages: 10,
    reconcileEvery: Duration.minutes(10),
    reconcileMarginMinutes: 30,
  },
  // The engine's handlers; the console's deployment function (deploy time only) is tested in console.test.ts.
  console: { enabled: false },
});
const template = Template.fromStack(stack);
const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: any; DeletionPolicy?: string }> };
const resourcesOf = (type: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === type);
const fns = resourcesOf('AWS::Lambda::Function');
const reconcilerFn = fns.find(([id]) => id.startsWith('SlipwayReconciler'));
const statementsOf = (prefix: string) => iamStatements(json).filter((s) => s.policy.startsWith(prefix));

describe('retention', () => {
  it('finished runs expire by the table\'s TTL after the configured days, told to every function', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } });
    assert.ok(fns.length >= 7);
    for (const [id, f] of fns) assert.equal(f.Properties.Environment.Variables[ENV.runRetentionDays], '14', id);
  });

  it('run artifacts and logs under runs/ expire after the configured days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [
        { Id: 'expire-run-artifacts', Prefix: 'runs/', ExpirationInDays: 7, Status: 'Enabled' },
        { Id: 'expire-pull-request-artifacts', Prefix: 'pr-runs/', ExpirationInDays: 7, Status: 'Enabled' },
        { Id: 'expire-fork-artifacts', Prefix: 'fork-runs/', ExpirationInDays: 7, Status: 'Enabled' },
        { Id: 'expire-dependency-caches', Prefix: 'cache/', ExpirationInDays: 14, Status: 'Enabled' },
        { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      ] },
    });
  });

  it('build logs and every handler\'s log group keep the configured retention', () => {
    const groups = resourcesOf('AWS::Logs::LogGroup');
    assert.ok(groups.length >= fns.length + 1, 'a log group per handler, plus builds');
    for (const [id, g] of groups) assert.equal(g.Properties.RetentionInDays, 7, id);
    for (const [id, f] of fns) assert.ok(f.Properties.LoggingConfig?.LogGroup, `${id} logs to its own group`);
  });

  it('image repositories keep every image a target serves or can roll back to, then the newest N', () => {
    const repos = resourcesOf('AWS::ECR::Repository');
    assert.deepEqual(repos.map(([, r]) => r.Properties.RepositoryName).sort(), ['slipway/api', 'slipway/web']);
    for (const [id, r] of repos) {
      assert.equal(r.DeletionPolicy, 'Retain', id);
      const policy = JSON.parse(r.Properties.LifecyclePolicy.LifecyclePolicyText);
      assert.deepEqual(policy.rules, [
        { rulePriority: 1, description: 'Keep every image a Slipway target is serving', selection: { tagStatus: 'tagged', tagPrefixList: ['slipway-live-'], countType: 'imageCountMoreThan', countNumber: 9999 }, action: { type: 'expire' } },
        { rulePriority: 2, description: 'Keep every image a Slipway target can roll back to', selection: { tagStatus: 'tagged', tagPrefixList: ['slipway-prev-'], countType: 'imageCountMoreThan', countNumber: 9999 }, action: { type: 'expire' } },
        { rulePriority: 3, description: 'Keep the newest 10 images; expire the rest', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } },
      ]);
    }
  });

  it('a team\'s own repository gets the same rules, keeping 30 by default', () => {
    const team = new Stack(newApp(), 'Team');
    new SlipwayImageRepository(team, 'Repo', { repositoryName: 'shop' });
    const [, repo] = Object.entries(Template.fromStack(team).toJSON().Resources as Record<string, any>).find(([, r]) => r.Type === 'AWS::ECR::Repository')!;
    const rules = JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
    assert.deepEqual(rules.map((r: any) => [r.selection.tagPrefixList?.[0] ?? r.selection.tagStatus, r.selection.countNumber]), [['slipway-live-', 9999], ['slipway-prev-', 9999], ['any', 30]]);
    assert.throws(() => imageLifecycleRules(0), /keepImages must be a whole number/);
  });

  it('the releaser may read and tag images only in the prefixed repositories', () => {
    const tag = statementsOf('SlipwayReleasesReleaser').filter((s) => s.Action.includes('ecr:PutImage'));
    assert.deepEqual(tag.map((s) => [s.Action.sort(), s.Resource.map(flatten)]), [[['ecr:BatchGetImage', 'ecr:PutImage'], ['arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/slipway/*']]]);
  });
});

describe('reconciler', () => {
  it('runs on the configured schedule with the configured margin', () => {
    assert.ok(reconcilerFn, 'a reconciler function');
    const [id, fn] = reconcilerFn;
    const schedules = resourcesOf('AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression && !r.Properties.Targets[0].InputTransformer);
    assert.deepEqual(schedules.map(([, r]) => r.Properties.ScheduleExpression), ['rate(10 minutes)']);
    assert.equal(schedules[0]![1].Properties.Targets[0].Arn['Fn::GetAtt'][0], id);
    assert.equal(fn.Properties.Environment.Variables[RECONCILE_MARGIN_ENV], '30');
  });

  it('asks CodeBuild only about the Slipway projects, reads the table and writes nothing but engine events and delivery claims', () => {
    const statements = statementsOf('SlipwayReconciler');
    const actions = statements.flatMap((s) => s.Action);
    const batch = statements.filter((s) => s.Action.includes('codebuild:BatchGetBuilds'));
    assert.equal(batch.length, 1);
    assert.equal(batch[0]!.Resource.length, 4);
    for (const r of batch[0]!.Resource) assert.match(flatten(r), /BuildsProject(small|medium|large|lambda)/);
    assert.ok(!actions.some((a) => /codebuild:(StartBuild|StopBuild)|dynamodb:(UpdateItem|BatchWriteItem)|ecr:/.test(a)), actions.join());
    // Missed-webhook recovery (issue 16): head claims beside the delivery records only, and git host tokens.
    const writes = statements.filter((s) => s.Action.some((a) => /dynamodb:(PutItem|DeleteItem)/.test(a)));
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0]!.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['DELIVERY#*'] } });
    assert.ok(actions.includes('dynamodb:Query') && actions.includes('dynamodb:GetItem'));
    const send = statements.filter((s) => s.Action.includes('sqs:SendMessage'));
    assert.deepEqual(send.flatMap((s) => s.Resource.map(flatten)).map((r) => /EngineEvents/.test(r)), [true]);
  });

  it('is the clock of scheduled runs: a minute rule invokes it with { kind: schedules, time }, not retried (issue 16b)', () => {
    const [id] = reconcilerFn!;
    const rules = resourcesOf('AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression === 'rate(1 minute)');
    assert.equal(rules.length, 1, 'one minute rule');
    const [rule] = rules[0]!;
    assert.match(rule, /^SlipwayReconcilerScheduledRuns/);
    const targets = rules[0]![1].Properties.Targets;
    assert.equal(targets.length, 1);
    assert.equal(targets[0].Arn['Fn::GetAtt'][0], id);
    assert.equal(targets[0].RetryPolicy?.MaximumRetryAttempts, 0);
    assert.deepEqual(targets[0].InputTransformer?.InputPathsMap, { time: '$.time' });
    assert.deepEqual(JSON.parse(targets[0].InputTransformer.InputTemplate.replace('<time>', '"<time>"')), { kind: 'schedules', time: '<time>' });
    // EventBridge may invoke the function from this rule too.
    const permissions = resourcesOf('AWS::Lambda::Permission').filter(([, p]) => p.Properties.FunctionName?.['Fn::GetAtt']?.[0] === id && p.Properties.Principal === 'events.amazonaws.com');
    assert.ok(permissions.some(([, p]) => p.Properties.SourceArn?.['Fn::GetAtt']?.[0] === rule), 'invoke permission for the minute rule');
  });

  it('a failed pass is not retried (the next pass does the same work)', () => {
    const [id] = reconcilerFn!;
    const config = resourcesOf('AWS::Lambda::EventInvokeConfig').find(([, c]) => c.Properties.FunctionName.Ref === id);
    assert.equal(config?.[1].Properties.MaximumRetryAttempts, 0);
  });
});

describe('observability', () => {
  it('every function is traced with X-Ray', () => {
    for (const [id, f] of fns) assert.deepEqual(f.Properties.TracingConfig, { Mode: 'Active' }, id);
  });

  it('alarms watch failed runs, rollbacks, slow build starts, DLQ depth and reconciler errors', () => {
    const alarms = resourcesOf('AWS::CloudWatch::Alarm').map(([id, a]) => ({ id, metric: a.Properties.MetricName, namespace: a.Properties.Namespace, stat: a.Properties.ExtendedStatistic ?? a.Properties.Statistic, dims: a.Properties.Dimensions }));
    const slipway = (m: string) => alarms.find((a) => a.namespace === 'Slipway' && a.metric === m);
    assert.equal(slipway(METRIC.runsFailed)?.stat, 'Sum');
    assert.equal(slipway(METRIC.rollbacks)?.stat, 'Sum');
    assert.equal(slipway(METRIC.webhookToBuildStart)?.stat, 'p90');
    assert.deepEqual(slipway(METRIC.runsFailed)?.dims, [{ Name: 'service', Value: 'slipway' }]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'WebhookToBuildStart', Threshold: 300_000 });
    assert.ok(alarms.some((a) => a.metric === 'Errors' && a.id.startsWith('SlipwayObservabilityreconcilerErrors')), 'reconciler errors');
    assert.ok(alarms.filter((a) => a.metric === 'ApproximateNumberOfMessagesVisible').length >= 3, 'DLQ depth');
  });

  it('the dashboard shows every engine metric', () => {
    const [, dashboard] = resourcesOf('AWS::CloudWatch::Dashboard')[0]!;
    const body = flatten(dashboard.Properties.DashboardBody);
    for (const name of Object.values(METRIC)) assert.ok(body.includes(`"Slipway","${name}","service","slipway"`), `${name} on the dashboard`);
  });

  it('reports no unsuppressed cdk-nag error or warning with every option on', () => {
    const { errors, warnings } = nagFindings(stack);
    assert.deepEqual(errors, []);
    assert.deepEqual(warnings, []);
  });
});

describe('context', () => {
  it('reads retention, image and reconciler settings from context, refusing bad values by name', () => {
    const config = engineConfigFromContext((k) => ({
      [CONTEXT_KEYS.imageRepositories]: 'web, api',
      [CONTEXT_KEYS.keepImages]: '12',
      [CONTEXT_KEYS.reconcileMinutes]: 15,
      [CONTEXT_KEYS.reconcileMarginMinutes]: '25',
    })[k]);
    assert.deepEqual(config.imageRepositories, ['web', 'api']);
    assert.equal(config.keepImages, 12);
    assert.equal(config.reconcileEvery?.toMinutes(), 15);
    assert.equal(config.reconcileMarginMinutes, 25);
    assert.throws(() => engineConfigFromContext((k) => (k === CONTEXT_KEYS.keepImages ? 'many' : undefined)), /slipway:keepImages/);
  });
});
