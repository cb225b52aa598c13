/**
 * SlipwayReleaseTarget in a team's own stack (a VPC created in that stack, nothing looked up),
 * and an engine whose releaser is scoped to exactly that target.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
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
  it('creates a blue and a green service of the task family, leaving desired counts to Slipway', () => {
    const services = resourcesOf('AWS::ECS::Service');
    assert.equal(services.length, 2);
    // Omitted: CloudFormation then leaves an existing service's count alone on every update.
    assert.deepEqual(services.map(([, s]) => s.Properties.DesiredCount), [undefined, undefined]);
    for (const [id, s] of services) {
      assert.equal(s.Properties.LaunchType, 'FARGATE', id);
      assert.equal(s.Properties.TaskDefinition, 'slipway-shop', `${id} runs the family's latest ACTIVE revision at creation`);
      assert.ok((json.Resources[id] as any).DependsOn.some((d: string) => /^ShopTask/.test(d)), `${id} is created after the task definition`);
      assert.ok(s.Properties.Tags.some((t: any) => t.Key === 'slipway:target' && t.Value === 'shop'), `${id} carries the slipway:target tag`);
    }
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Family: 'slipway-shop',
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

  it('has a health checker in the VPC\'s private subnets that only the services admit, on the container port', () => {
    const [[checkerId, checker]] = resourcesOf('AWS::Lambda::Function').filter(([id]) => /HealthChecker/.test(id));
    assert.ok(checker.Properties.VpcConfig.SubnetIds.every((s: any) => /PrivateSubnet/.test(s.Ref)), checkerId);
    assert.equal(checker.Properties.Environment.Variables.SLIPWAY_CHECK_PORT, '8080');
    assert.ok(checker.Properties.Tags.some((t: any) => t.Key === 'slipway:target' && t.Value === 'shop'), 'tagged for the releaser');
    const checkerSg = checker.Properties.VpcConfig.SecurityGroupIds[0]['Fn::GetAtt'][0];
    const [, sg] = resourcesOf('AWS::EC2::SecurityGroup').find(([id]) => id === checkerSg)!;
    // No egress but to the tasks: nothing to an address range, only to the services' groups.
    const inline = (sg.Properties.SecurityGroupEgress ?? []).map((e: any) => ['inline', { Properties: e }] as const);
    assert.ok(inline.length > 0, 'an inline egress list, so EC2 adds no allow-all default');
    assert.ok(inline.every(([, e]: any) => e.Properties.CidrIp === undefined || e.Properties.CidrIp === '255.255.255.255/32'), JSON.stringify(inline));
    const egress = [
      ...resourcesOf('AWS::EC2::SecurityGroupEgress').filter(([, e]) => e.Properties.GroupId['Fn::GetAtt'][0] === checkerSg),
      ...inline.filter(([, e]: any) => e.Properties.DestinationSecurityGroupId),
    ];
    const ingress = resourcesOf('AWS::EC2::SecurityGroupIngress').filter(([, e]) => e.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === checkerSg);
    assert.equal(egress.length, 2, 'to the blue and the green service');
    assert.equal(ingress.length, 2, 'admitted by the blue and the green service');
    for (const [, r] of [...egress, ...ingress]) assert.deepEqual([r.Properties.FromPort, r.Properties.ToPort, r.Properties.IpProtocol], [8080, 8080, 'tcp']);
  });

  it('registration is the PUT /targets body, with the checker and the desired count', () => {
    const out = appStack.resolve(target.registration);
    const text = JSON.stringify(out);
    for (const key of ['cluster', 'services', 'targetGroups', 'listenerRuleArn', 'testListenerRuleArn', 'healthCheckFunction', 'desiredCount']) assert.ok(text.includes(`\\"${key}\\"`) || text.includes(`"${key}"`), key);
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

  it('may invoke only the target\'s health checker', () => {
    const invoke = releaser.find((s) => s.Action.includes('lambda:InvokeFunction'))!;
    assert.deepEqual(invoke.Action, ['lambda:InvokeFunction']);
    assert.equal(invoke.Resource.length, 1);
    assert.match(flatten(invoke.Resource[0]), /ShopService:ExportsOutputFnGetAttShopHealthChecker/);
  });

  it('may pass only the task and execution roles of the target', () => {
    const pass = releaser.find((s) => s.Action.includes('iam:PassRole'))!;
    assert.equal(pass.Resource.length, 2);
  });

  it('still passes cdk-nag', () => {
    assert.deepEqual(nagFindings(engineStack), { errors: [], warnings: [] });
  });
});

/**
 * Failure 4 of the first real deployment: the template pinned the task definition, desired counts
 * and weights, and a new image in the team's app made CloudFormation re-apply them over a release.
 */
describe('redeploying the team\'s app with a new image', () => {
  function teamTemplate(image: string): { Resources: Record<string, { Type: string; Properties: any }> } {
    const app = new App();
    const stack = new Stack(app, 'ShopService');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    new SlipwayReleaseTarget(stack, 'Shop', { name: 'shop', vpc, image: ecs.ContainerImage.fromRegistry(image), containerPort: 8080, testListenerPort: 9000 });
    return Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: any }> };
  }
  const before = teamTemplate('public.ecr.aws/nginx/nginx:1.27');
  const after = teamTemplate('public.ecr.aws/nginx/nginx:1.28');

  /** Logical ids a value refers to (Ref, Fn::GetAtt), and what those refer to, transitively. */
  function referenced(ids: string[], resources: Record<string, { Properties: any }>): Set<string> {
    const seen = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, any>;
        const id = 'Ref' in o ? o.Ref : 'Fn::GetAtt' in o ? ([] as string[]).concat(o['Fn::GetAtt'])[0] : undefined;
        if (typeof id === 'string' && resources[id] && !seen.has(id)) {
          seen.add(id);
          walk(resources[id]!.Properties);
        }
        Object.values(o).forEach(walk);
      }
    };
    ids.forEach((id) => walk(resources[id]!.Properties));
    return seen;
  }

  it('changes the task definition resource (a new revision nobody runs) and nothing else', () => {
    const changed = Object.keys(after.Resources).filter((id) => JSON.stringify(after.Resources[id]!.Properties) !== JSON.stringify(before.Resources[id]?.Properties));
    assert.deepEqual(changed.map((id) => after.Resources[id]!.Type), ['AWS::ECS::TaskDefinition']);
  });

  it('leaves the services and the listener rules, and everything they refer to, exactly as they were', () => {
    const owned = Object.entries(after.Resources).filter(([, r]) => r.Type === 'AWS::ECS::Service' || r.Type === 'AWS::ElasticLoadBalancingV2::ListenerRule').map(([id]) => id);
    assert.equal(owned.length, 4, 'two services, the production and the test rule');
    const closure = new Set([...owned, ...referenced(owned, after.Resources)]);
    assert.ok(![...closure].some((id) => after.Resources[id]!.Type === 'AWS::ECS::TaskDefinition'), 'no service or rule refers to the task definition');
    for (const id of closure) assert.deepEqual(after.Resources[id]!.Properties, before.Resources[id]!.Properties, id);
  });

  it('keeps the first revision when a new one replaces it (the services still run it until the first release)', () => {
    const [, td] = Object.entries(after.Resources).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition')!;
    assert.equal((td as any).UpdateReplacePolicy, 'Retain');
  });
});
