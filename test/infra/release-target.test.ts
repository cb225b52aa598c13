/**
 * SlipwayReleaseTarget in a team's own stack (a VPC created in that stack, nothing looked up),
 * and an engine whose releaser is scoped to exactly that target.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { NagSuppressions } from 'cdk-nag';
import { SlipwayReleaseTarget, SlipwayStack } from '../../infra/index.ts';
import { flatten, iamStatements, nagFindings, newApp } from './support.ts';

const app = newApp();
const appStack = new Stack(app, 'ShopService');
const vpc = new ec2.Vpc(appStack, 'Vpc', { maxAzs: 2, natGateways: 1 });
NagSuppressions.addResourceSuppressions(vpc, [{ id: 'AwsSolutions-VPC7', reason: 'Test VPC of the example service; flow logs are the owning team\'s choice.' }]);
const target = new SlipwayReleaseTarget(appStack, 'Shop', {
  name: 'shop',
  vpc,
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27'),
  containerPort: 8080,
  healthCheckPath: '/healthz',
  desiredCount: 2,
  testListenerPort: 9000,
});
// Both stacks exist before the first synthesis (the app is synthesized once).
const engineStack = new SlipwayStack(app, 'SlipwayScoped', { engine: { releaseScope: target.releaseScope, dashboard: false } });
const template = Template.fromStack(appStack);
const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: any }> };
const resourcesOf = (type: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === type);

const engineJson = Template.fromStack(engineStack).toJSON() as { Resources: Record<string, { Type: string; Properties: any }> };

describe('SlipwayReleaseTarget', () => {
  it('creates a blue service with the desired count and an idle green service, both from the task definition', () => {
    const services = resourcesOf('AWS::ECS::Service');
    assert.equal(services.length, 2);
    assert.deepEqual(services.map(([, s]) => s.Properties.DesiredCount).sort(), [0, 2]);
    for (const [id, s] of services) {
      assert.equal(s.Properties.LaunchType, 'FARGATE', id);
      assert.deepEqual(s.Properties.TaskDefinition, services[0][1].Properties.TaskDefinition, id);
      assert.ok(s.Properties.Tags.some((t: any) => t.Key === 'slipway:target' && t.Value === 'shop'), `${id} carries the slipway:target tag`);
    }
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Image: 'public.ecr.aws/nginx/nginx:1.27', PortMappings: [Match.objectLike({ ContainerPort: 8080 })] })],
    });
  });

  it('puts each color behind its own target group, health-checked on the given path', () => {
    const groups = resourcesOf('AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.equal(groups.length, 2);
    for (const [id, g] of groups) {
      assert.equal(g.Properties.HealthCheckPath, '/healthz', id);
      assert.equal(g.Properties.TargetType, 'ip', id);
      assert.equal(g.Properties.Port, 8080, id);
    }
  });

  it('the production rule forwards to both groups with weights blue 100 / green 0; the test listener to green', () => {
    const rules = resourcesOf('AWS::ElasticLoadBalancingV2::ListenerRule');
    assert.equal(rules.length, 2);
    const weights = rules.map(([, r]) => r.Properties.Actions[0].ForwardConfig.TargetGroups.map((t: any) => [t.TargetGroupArn.Ref.replace(/[A-F0-9]{8}$/, ''), t.Weight]));
    assert.deepEqual(weights.sort(), [
      [['ShopBlueTargets', 0], ['ShopGreenTargets', 100]],
      [['ShopBlueTargets', 100], ['ShopGreenTargets', 0]],
    ].sort());
    for (const [, r] of rules) {
      const sum = r.Properties.Actions[0].ForwardConfig.TargetGroups.reduce((n: number, t: any) => n + t.Weight, 0);
      assert.equal(sum, 100);
    }
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 2);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 9000 });
  });

  it('cdk-nag finds nothing unsuppressed in the team stack', () => {
    assert.deepEqual(nagFindings(appStack), { errors: [], warnings: [] });
  });
});

describe('an engine scoped to that target', () => {
  const releaser = iamStatements(engineJson).filter((s) => s.policy.startsWith('SlipwayReleasesReleaser'));

  it('may update only the two services of the target, in its cluster', () => {
    const update = releaser.find((s) => s.Action.includes('ecs:UpdateService'))!;
    assert.equal(update.Resource.length, 2);
    for (const r of update.Resource) assert.match(flatten(r), /ShopService:ExportsOutputRefShop(Blue|Green)Service/);
    assert.ok((update.Condition as any).ArnEquals['ecs:cluster']);
  });

  it('may change only the rules of the target\'s listeners', () => {
    const modify = releaser.find((s) => s.Action.includes('elasticloadbalancing:ModifyRule'))!;
    assert.deepEqual(modify.Action, ['elasticloadbalancing:ModifyRule']);
    assert.equal(modify.Resource.length, 2, 'the rules under the production and the test listener');
    for (const r of modify.Resource) assert.match(flatten(r), /ShopService:ExportsOutputRefShopLoadBalancer(Listener|TestListener)/);
  });

  it('may pass only the task and execution roles of the target', () => {
    const pass = releaser.find((s) => s.Action.includes('iam:PassRole'))!;
    assert.equal(pass.Resource.length, 2);
  });

  it('still passes cdk-nag', () => {
    assert.deepEqual(nagFindings(engineStack), { errors: [], warnings: [] });
  });
});
