import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { EcsTarget } from '../../shared/aws/ecs-target.ts';
import { ReleaseActionError } from '../../shared/ports/releases.ts';
import { RetryableError } from '../../shared/domain/errors.ts';

function adapter() {
  const creds = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  const ecs = new ECSClient(creds);
  const elb = new ElasticLoadBalancingV2Client(creds);
  const cw = new CloudWatchClient(creds);
  return { target: new EcsTarget(ecs, elb, cw), ecs: mockClient(ecs), elb: mockClient(elb), cw: mockClient(cw) };
}

test('weights go out as one forward action over both target groups', async () => {
  const { target, elb } = adapter();
  elb.on(ModifyRuleCommand).resolves({});
  await target.modifyRule({ ruleArn: 'rule', targetGroups: { blue: 'tg-b', green: 'tg-g' }, weights: { blue: 90, green: 10 } });
  assert.deepEqual(elb.commandCalls(ModifyRuleCommand)[0].args[0].input, {
    RuleArn: 'rule',
    Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: 'tg-b', Weight: 90 }, { TargetGroupArn: 'tg-g', Weight: 10 }] } }],
  });
});

test('an observation reads the PRIMARY deployment, skips draining targets and names missing alarms', async () => {
  const { target, ecs, elb, cw } = adapter();
  ecs.on(DescribeServicesCommand).resolves({
    services: [{
      status: 'ACTIVE',
      deployments: [
        { status: 'PRIMARY', taskDefinition: 'td:1', rolloutState: 'IN_PROGRESS', runningCount: 1, desiredCount: 2 },
        { status: 'ACTIVE', taskDefinition: 'td:2', rolloutState: 'FAILED', runningCount: 0, desiredCount: 2 },
      ],
    }],
  });
  elb.on(DescribeTargetHealthCommand).resolves({
    TargetHealthDescriptions: [
      { TargetHealth: { State: 'healthy' } },
      { TargetHealth: { State: 'unhealthy', Reason: 'Target.Timeout' } },
      { TargetHealth: { State: 'draining' } },
    ],
  });
  cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'a', StateValue: 'ALARM' }], CompositeAlarms: [{ AlarmName: 'c', StateValue: 'OK' }] });
  const o = await target.observe({ cluster: 'c', service: 's', targetGroupArn: 'tg', alarms: ['a', 'b', 'c'] });
  assert.deepEqual(o, {
    service: { taskDefinition: 'td:1', rolloutState: 'IN_PROGRESS', rolloutStateReason: undefined, deployments: 2, running: 1, desired: 2, failedTaskDefinitions: ['td:2'] },
    targets: { healthy: 1, total: 2, unhealthyReasons: ['Target.Timeout'] },
    alarms: { inAlarm: ['a'], missing: ['b'] },
  });
  assert.deepEqual(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input.AlarmTypes, ['MetricAlarm', 'CompositeAlarm']);
});

test('throttling is retryable; a missing service is not', async () => {
  const { target, ecs } = adapter();
  const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
  const missing = Object.assign(new Error('Service not found.'), { name: 'ServiceNotFoundException' });
  ecs.on(UpdateServiceCommand).rejectsOnce(throttled).rejects(missing);
  await assert.rejects(target.updateService({ cluster: 'c', service: 's', desiredCount: 0 }), RetryableError);
  await assert.rejects(target.updateService({ cluster: 'c', service: 's', desiredCount: 0 }), ReleaseActionError);
});

test('the HTTP check reports the status, or the error when nothing answers', async () => {
  const creds = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  const ok = new EcsTarget(new ECSClient(creds), new ElasticLoadBalancingV2Client(creds), new CloudWatchClient(creds), { fetch: (async () => new Response(null, { status: 204 })) as unknown as typeof fetch });
  assert.deepEqual(await ok.httpCheck('http://x/h'), { status: 204 });
  const down = new EcsTarget(new ECSClient(creds), new ElasticLoadBalancingV2Client(creds), new CloudWatchClient(creds), { fetch: (async () => { throw new Error('ECONNREFUSED'); }) as unknown as typeof fetch });
  assert.deepEqual(await down.httpCheck('http://x/h'), { error: 'ECONNREFUSED' });
});
