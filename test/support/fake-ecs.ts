/**
 * A small stateful fake of ECS, ELBv2 and CloudWatch alarms behind
 * aws-sdk-client-mock, so the real `EcsTarget` adapter runs against it. Time is
 * a fake clock the test moves; a service's deployment evolves from it: tasks
 * of an image turn healthy after `settleSeconds`, stay unhealthy, crash, or die
 * later, and the deployment circuit breaker fails (and optionally rolls back)
 * after `failSeconds`. Also a release queue that delivers delayed messages in
 * due order, and an event queue that keeps what the engine would receive.
 *
 * Where it matters, it answers as AWS does: target health goes through `initial` (registered,
 * first health checks running) before `healthy`, targets of a deployment being replaced or a
 * colour scaled down are `draining` for the deregistration delay, a target group the load
 * balancer does not use reports `unused`; errors are the SDK's own exception classes, carrying
 * `$metadata` and `$fault`. A target's health checker (a Lambda function in its VPC) GETs the
 * tasks of a colour; `unreachableUntil` makes them refuse connections until then.
 */
import type { EcrImageTagger } from '../../shared/aws/image-tags.ts';
import type { MetricsSink } from '../../shared/ports/metrics.ts';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ClientException,
  ECSClient,
  RegisterTaskDefinitionCommand,
  ServerException,
  ServiceNotFoundException,
  UpdateServiceCommand,
  type Deployment,
} from '@aws-sdk/client-ecs';
import {
  DescribeTagsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ElasticLoadBalancingV2ServiceException,
  ModifyRuleCommand,
  TargetGroupNotFoundException,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { InvokeCommand, LambdaClient, ResourceNotFoundException as LambdaResourceNotFoundException } from '@aws-sdk/client-lambda';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { EcsTarget } from '../../shared/aws/ecs-target.ts';
import { Releaser } from '../../shared/services/releaser.ts';
import { TargetAdmin } from '../../shared/services/targets.ts';
import type { TargetConfig } from '../../shared/domain/release.ts';
import type { DeploySpec } from '../../shared/domain/pipeline.ts';
import type { EngineMessage, ReleaseMessage, StartReleaseMessage } from '../../shared/ports/messages.ts';
import type { EventQueue, ReleaseQueue, TargetStore } from '../../shared/ports/index.ts';
import type { ReleaseActions } from '../../shared/ports/releases.ts';
import { MemoryTargetStore } from './memory-stores.ts';

export type Behaviour = 'healthy' | 'unhealthy' | 'crash' | { diesAfterSeconds: number };

interface FakeDeployment {
  id: string;
  taskDefinition: string;
  desiredCount: number;
  createdAt: number;
  /** Set when this deployment is a circuit-breaker rollback. */
  rollbackOf?: string;
}

interface FakeService {
  name: string;
  targetGroupArn: string;
  desiredCount: number;
  deployments: FakeDeployment[];
  circuitBreaker: { enable: boolean; rollback: boolean };
  /** Task definition of the last COMPLETED deployment (what a circuit-breaker rollback returns to). */
  lastCompleted: string;
  /** Tasks stopped by a scale-down and when: their targets drain for DEREGISTRATION_DELAY_SECONDS. */
  drainingSince?: { at: number; count: number };
}

/** The target groups' deregistration delay (SlipwayReleaseTarget sets 30 s). */
export const DEREGISTRATION_DELAY_SECONDS = 30;
export const CHECKER = 'arn:aws:lambda:us-east-1:123456789012:function:web-health-checker';
export const CONTAINER_PORT = 8080;

export interface Call {
  op: string;
  input: any;
  at: number;
}

export const CLUSTER = 'prod';
export const RULE = 'arn:aws:elasticloadbalancing:us-east-1:123:listener-rule/app/web/1/2/prod';
export const TEST_RULE = 'arn:aws:elasticloadbalancing:us-east-1:123:listener-rule/app/web/1/3/test';
export const TG = {
  blue: 'arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/web-blue/1',
  green: 'arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/web-green/2',
};

/** Another team's production rule and target groups in the same account: tagged for their own target. */
export const OTHER_RULE = 'arn:aws:elasticloadbalancing:us-east-1:123:listener-rule/app/payments/9/9/prod';
export const OTHER_TG = 'arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/payments-blue/9';
/** A rule nobody tagged. */
export const UNTAGGED_RULE = 'arn:aws:elasticloadbalancing:us-east-1:123:listener-rule/app/legacy/8/8/prod';

export class FakeAws {
  now = Date.parse('2026-01-01T00:00:00.000Z');
  settleSeconds = 30;
  failSeconds = 90;
  readonly calls: Call[] = [];
  readonly behaviours = new Map<string, Behaviour>();
  readonly services = new Map<string, FakeService>();
  readonly taskDefinitions = new Map<string, { family: string; image: string; revision: number }>();
  readonly rules = new Map<string, { blue: number; green: number }>();
  readonly alarms = new Map<string, string>();
  /** Tags by ELBv2 ARN (rules, target groups) or ECS service name. */
  readonly tags = new Map<string, Record<string, string>>();
  /** Routing mistakes the fake saw: weights not adding to 100, traffic to a colour with no healthy target. */
  readonly violations: string[] = [];
  /** Makes the next N calls of an operation throw (crash injection): the SDK's server-side exception of that service. */
  readonly failNext = new Map<string, number>();
  /** Target groups the load balancer does not route to: their targets are `unused` (Target.NotInUse). */
  readonly unusedTargetGroups = new Set<string>();
  /** Until this time (ms) the tasks refuse the health checker's connections. */
  unreachableUntil = 0;
  /** What a reachable task answers on a path. */
  healthStatus: (path: string) => number = (path) => (path === '/health' ? 200 : 404);
  /** Health check requests the checker made: `<ip>:<port><path> -> status|error`. */
  readonly checks: string[] = [];
  private seq = 0;

  readonly ecs = new ECSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  readonly elb = new ElasticLoadBalancingV2Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  readonly cloudwatch = new CloudWatchClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  readonly ecsMock = mockClient(this.ecs);
  readonly elbMock = mockClient(this.elb);
  readonly cwMock = mockClient(this.cloudwatch);
  readonly lambda = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  readonly lambdaMock = mockClient(this.lambda);

  constructor(opts: { liveImage?: string; circuitBreaker?: { enable: boolean; rollback: boolean } } = {}) {
    const td = this.addTaskDefinition('web', opts.liveImage ?? 'web:1');
    const cb = opts.circuitBreaker ?? { enable: false, rollback: false };
    this.services.set('web-blue', { name: 'web-blue', targetGroupArn: TG.blue, desiredCount: 2, deployments: [{ id: 'ecs-svc/1', taskDefinition: td, desiredCount: 2, createdAt: this.now - 3600_000 }], circuitBreaker: cb, lastCompleted: td });
    this.services.set('web-green', { name: 'web-green', targetGroupArn: TG.green, desiredCount: 0, deployments: [{ id: 'ecs-svc/2', taskDefinition: td, desiredCount: 0, createdAt: this.now - 3600_000 }], circuitBreaker: cb, lastCompleted: td });
    this.rules.set(RULE, { blue: 100, green: 0 });
    this.rules.set(TEST_RULE, { blue: 0, green: 100 });
    this.rules.set(OTHER_RULE, { blue: 100, green: 0 });
    this.rules.set(UNTAGGED_RULE, { blue: 100, green: 0 });
    for (const arn of [RULE, TEST_RULE, TG.blue, TG.green, 'web-blue', 'web-green']) this.tags.set(arn, { 'slipway:target': 'web', team: 'web' });
    for (const arn of [OTHER_RULE, OTHER_TG]) this.tags.set(arn, { 'slipway:target': 'payments' });
    this.tags.set(UNTAGGED_RULE, { team: 'legacy' });
    this.ecsMock.on(DescribeServicesCommand).callsFake((i) => this.record('ecs:DescribeServices', i, () => this.describeServices(i)));
    this.ecsMock.on(DescribeTaskDefinitionCommand).callsFake((i) => this.record('ecs:DescribeTaskDefinition', i, () => this.describeTaskDefinition(i)));
    this.ecsMock.on(RegisterTaskDefinitionCommand).callsFake((i) => this.record('ecs:RegisterTaskDefinition', i, () => this.registerTaskDefinition(i)));
    this.ecsMock.on(UpdateServiceCommand).callsFake((i) => this.record('ecs:UpdateService', i, () => this.updateService(i)));
    this.elbMock.on(ModifyRuleCommand).callsFake((i) => this.record('elbv2:ModifyRule', i, () => this.modifyRule(i)));
    this.elbMock.on(DescribeTagsCommand).callsFake((i) => this.record('elbv2:DescribeTags', i, () => this.describeTags(i)));
    this.elbMock.on(DescribeTargetHealthCommand).callsFake((i) => this.record('elbv2:DescribeTargetHealth', i, () => this.describeTargetHealth(i)));
    this.cwMock.on(DescribeAlarmsCommand).callsFake((i) => this.record('cloudwatch:DescribeAlarms', i, () => this.describeAlarms(i)));
    this.lambdaMock.on(InvokeCommand).callsFake((i) => this.record('lambda:Invoke', i, () => this.invokeChecker(i)));
  }

  adapter(fetchImpl?: typeof fetch, images?: EcrImageTagger): EcsTarget {
    return new EcsTarget(this.ecs, this.elb, this.cloudwatch, { lambda: this.lambda, ...(fetchImpl ? { fetch: fetchImpl } : {}), ...(images ? { images } : {}) });
  }

  advance(seconds: number): void {
    this.now += seconds * 1000;
  }

  weights(rule = RULE): { blue: number; green: number } {
    return { ...this.rules.get(rule)! };
  }

  imageOf(service: string): string {
    const s = this.services.get(service)!;
    return this.taskDefinitions.get(this.primary(s).taskDefinition)!.image;
  }

  desiredOf(service: string): number {
    return this.services.get(service)!.desiredCount;
  }

  /** Short lines naming each call, for exact-sequence assertions. */
  callLines(): string[] {
    return this.calls.map((c) => {
      switch (c.op) {
        case 'elbv2:ModifyRule': {
          const tgs = c.input.Actions[0].ForwardConfig.TargetGroups as Array<{ TargetGroupArn: string; Weight: number }>;
          const w = (arn: string) => tgs.find((t) => t.TargetGroupArn === arn)!.Weight;
          return `ModifyRule ${c.input.RuleArn === RULE ? 'prod' : 'test'} blue=${w(TG.blue)} green=${w(TG.green)}`;
        }
        case 'ecs:UpdateService':
          return `UpdateService ${c.input.service}${c.input.taskDefinition ? ` td=${c.input.taskDefinition.split('/').pop()}` : ''}${c.input.desiredCount !== undefined ? ` desired=${c.input.desiredCount}` : ''}`;
        case 'ecs:RegisterTaskDefinition':
          return `RegisterTaskDefinition image=${c.input.containerDefinitions[0].image}`;
        default:
          return c.op.split(':')[1];
      }
    });
  }

  private record<T>(op: string, input: any, f: () => T): T {
    this.calls.push({ op, input, at: this.now });
    const n = this.failNext.get(op) ?? 0;
    if (n > 0) {
      this.failNext.set(op, n - 1);
      throw serverError(op);
    }
    return f();
  }

  addTaskDefinition(family: string, image: string): string {
    const revision = [...this.taskDefinitions.values()].filter((t) => t.family === family).length + 1;
    const arn = `arn:aws:ecs:us-east-1:123:task-definition/${family}:${revision}`;
    this.taskDefinitions.set(arn, { family, image, revision });
    return arn;
  }

  private behaviourOf(td: string): Behaviour {
    return this.behaviours.get(this.taskDefinitions.get(td)!.image) ?? 'healthy';
  }

  private primary(s: FakeService): FakeDeployment {
    this.evolve(s);
    return s.deployments[0];
  }

  /** Applies what time did to the service: circuit breaker failures and their rollbacks. */
  private evolve(s: FakeService): void {
    const d = s.deployments[0];
    if (d.rollbackOf || !s.circuitBreaker.enable || d.desiredCount === 0) return;
    const b = this.behaviourOf(d.taskDefinition);
    if ((b === 'unhealthy' || b === 'crash') && this.now - d.createdAt >= this.failSeconds * 1000) {
      (d as FakeDeployment & { failed?: boolean }).failed = true;
      if (s.circuitBreaker.rollback) {
        s.deployments.unshift({ id: `ecs-svc/${++this.seq}`, taskDefinition: s.lastCompleted, desiredCount: d.desiredCount, createdAt: d.createdAt + this.failSeconds * 1000, rollbackOf: d.id });
      }
    }
  }

  /** State of a deployment now: running tasks, healthy targets, rollout state. */
  private stateOf(s: FakeService, d: FakeDeployment): { running: number; healthy: number; unhealthy: number; rollout: string; reason?: string } {
    const elapsed = (this.now - d.createdAt) / 1000;
    if ((d as FakeDeployment & { failed?: boolean }).failed) {
      return { running: 0, healthy: 0, unhealthy: 0, rollout: 'FAILED', reason: 'ECS deployment circuit breaker: tasks failed to start.' };
    }
    if (d.desiredCount === 0) return { running: 0, healthy: 0, unhealthy: 0, rollout: 'COMPLETED' };
    const b = this.behaviourOf(d.taskDefinition);
    const settled = elapsed >= this.settleSeconds;
    if (b === 'crash') return { running: 0, healthy: 0, unhealthy: 0, rollout: 'IN_PROGRESS' };
    if (b === 'unhealthy') return { running: d.desiredCount, healthy: 0, unhealthy: d.desiredCount, rollout: 'IN_PROGRESS' };
    if (typeof b === 'object' && elapsed >= b.diesAfterSeconds) return { running: 0, healthy: 0, unhealthy: 0, rollout: 'COMPLETED' };
    if (!settled) return { running: 0, healthy: 0, unhealthy: 0, rollout: 'IN_PROGRESS' };
    if (s.deployments[0] === d && !d.rollbackOf) s.lastCompleted = d.taskDefinition;
    return { running: d.desiredCount, healthy: d.desiredCount, unhealthy: 0, rollout: 'COMPLETED' };
  }

  private describeServices(input: any) {
    const services = [];
    const failures = [];
    for (const name of input.services as string[]) {
      const s = this.services.get(name);
      if (!s) {
        failures.push({ arn: name, reason: 'MISSING' });
        continue;
      }
      const primary = this.primary(s);
      const st = this.stateOf(s, primary);
      const deployments: Deployment[] = [];
      deployments.push({ id: primary.id, status: 'PRIMARY', taskDefinition: primary.taskDefinition, desiredCount: primary.desiredCount, runningCount: st.running, rolloutState: st.rollout as any, rolloutStateReason: st.reason });
      // Older deployments stay listed until the primary is COMPLETED (and failed ones are listed as such).
      for (const old of s.deployments.slice(1)) {
        const ost = this.stateOf(s, old);
        if (st.rollout !== 'COMPLETED') deployments.push({ id: old.id, status: 'ACTIVE', taskDefinition: old.taskDefinition, desiredCount: old.desiredCount, runningCount: ost.running, rolloutState: ost.rollout as any });
      }
      const tags = (input.include ?? []).includes('TAGS') ? { tags: Object.entries(this.tags.get(s.name) ?? {}).map(([key, value]) => ({ key, value })) } : {};
      services.push({ serviceName: s.name, serviceArn: `arn:aws:ecs:us-east-1:123:service/${CLUSTER}/${s.name}`, status: 'ACTIVE', taskDefinition: primary.taskDefinition, desiredCount: s.desiredCount, runningCount: st.running, deployments, ...tags });
    }
    return { services, failures };
  }

  /** ELBv2 answers for all ARNs or fails the whole request when one does not exist. */
  private describeTags(input: any) {
    const arns = input.ResourceArns as string[];
    for (const arn of arns) {
      if (!this.tags.has(arn) && !this.rules.has(arn)) {
        const err = new Error(`One or more resources not found: ${arn}`);
        err.name = arn.includes(':targetgroup/') ? 'TargetGroupNotFoundException' : 'RuleNotFoundException';
        throw err;
      }
    }
    return { TagDescriptions: arns.map((arn) => ({ ResourceArn: arn, Tags: Object.entries(this.tags.get(arn) ?? {}).map(([Key, Value]) => ({ Key, Value })) })) };
  }

  private describeTaskDefinition(input: any) {
    const td = this.taskDefinitions.get(input.taskDefinition);
    if (!td) throw new ClientException({ message: `Unable to describe task definition.`, $metadata: meta(400) });
    return {
      taskDefinition: {
        taskDefinitionArn: input.taskDefinition,
        family: td.family,
        revision: td.revision,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        executionRoleArn: 'arn:aws:iam::123:role/exec',
        containerDefinitions: [{ name: 'web', image: td.image, essential: true, portMappings: [{ containerPort: 8080 }] }],
        status: 'ACTIVE',
      },
      tags: [{ key: 'app', value: 'web' }],
    };
  }

  private registerTaskDefinition(input: any) {
    if ('taskDefinitionArn' in input || 'revision' in input || 'status' in input) throw new Error('RegisterTaskDefinition got read-only fields');
    const arn = this.addTaskDefinition(input.family, input.containerDefinitions[0].image);
    return { taskDefinition: { taskDefinitionArn: arn, family: input.family } };
  }

  private updateService(input: any) {
    const s = this.services.get(input.service);
    if (!s) throw new ServiceNotFoundException({ message: 'Service not found.', $metadata: meta(400) });
    const current = this.primary(s);
    const desired = input.desiredCount ?? s.desiredCount;
    const td = input.taskDefinition ?? current.taskDefinition;
    if (desired < s.desiredCount && td === current.taskDefinition) {
      const st = this.stateOf(s, current);
      if (st.running > desired) s.drainingSince = { at: this.now, count: st.running - desired };
    }
    s.desiredCount = desired;
    if (td !== current.taskDefinition) {
      s.deployments.unshift({ id: `ecs-svc/${++this.seq}`, taskDefinition: td, desiredCount: desired, createdAt: this.now });
    } else {
      current.desiredCount = desired;
      if (desired > 0 && current.createdAt < this.now - this.settleSeconds * 1000) {
        // Scaling up an idle service: new tasks take settleSeconds like a deployment.
        current.createdAt = this.now;
      }
    }
    return { service: { serviceName: s.name } };
  }

  private healthyTargets(tg: string): number {
    const s = [...this.services.values()].find((x) => x.targetGroupArn === tg)!;
    return this.stateOf(s, this.primary(s)).healthy;
  }

  private modifyRule(input: any) {
    const tgs = input.Actions[0].ForwardConfig.TargetGroups as Array<{ TargetGroupArn: string; Weight: number }>;
    const w = { blue: tgs.find((t) => t.TargetGroupArn === TG.blue)!.Weight, green: tgs.find((t) => t.TargetGroupArn === TG.green)!.Weight };
    if (w.blue + w.green !== 100) this.violations.push(`weights add to ${w.blue + w.green}`);
    if (input.RuleArn === RULE) {
      for (const colour of ['blue', 'green'] as const) {
        if (w[colour] > 0 && this.healthyTargets(TG[colour]) === 0) this.violations.push(`${w[colour]}% to ${colour} with no healthy target`);
      }
    }
    this.rules.set(input.RuleArn, w);
    return {};
  }

  private describeTargetHealth(input: any) {
    const s = [...this.services.values()].find((x) => x.targetGroupArn === input.TargetGroupArn);
    if (!s) throw new TargetGroupNotFoundException({ message: 'One or more target groups not found', $metadata: meta(400) });
    const primary = this.primary(s);
    const st = this.stateOf(s, primary);
    const octet = s.name.endsWith('green') ? 2 : 1;
    const target = (i: number, sub: number) => ({ Id: `10.${octet}.${sub}.${i}`, Port: CONTAINER_PORT });
    const out: TargetHealthDescription[] = [];
    const unused = this.unusedTargetGroups.has(s.targetGroupArn);
    const state = (s2: 'healthy' | 'unhealthy' | 'initial' | 'draining', reason?: string) =>
      unused && s2 !== 'draining' ? { State: 'unused' as const, Reason: 'Target.NotInUse' as const } : { State: s2, ...(reason ? { Reason: reason as any } : {}) };
    for (let i = 0; i < st.healthy; i++) out.push({ Target: target(i, 0), TargetHealth: state('healthy') });
    for (let i = 0; i < st.unhealthy; i++) out.push({ Target: target(i, 1), TargetHealth: state('unhealthy', 'Target.ResponseCodeMismatch') });
    // Tasks started in the second half of the settle time are registered and health-checked: initial.
    const elapsed = (this.now - primary.createdAt) / 1000;
    if (st.running === 0 && st.rollout === 'IN_PROGRESS' && primary.desiredCount > 0 && elapsed >= this.settleSeconds / 2 && this.behaviourOf(primary.taskDefinition) !== 'crash') {
      for (let i = 0; i < primary.desiredCount; i++) out.push({ Target: target(i, 2), TargetHealth: state('initial', 'Elb.InitialHealthChecking') });
    }
    // The deployment being replaced, and tasks of a scale-down, drain for the deregistration delay.
    for (const old of st.rollout === 'COMPLETED' ? [] : s.deployments.slice(1)) {
      const ost = this.stateOf(s, old);
      for (let i = 0; i < ost.running; i++) out.push({ Target: target(i, 3), TargetHealth: { State: 'draining', Reason: 'Target.DeregistrationInProgress' } });
    }
    if (s.drainingSince && this.now - s.drainingSince.at < DEREGISTRATION_DELAY_SECONDS * 1000) {
      for (let i = 0; i < s.drainingSince.count; i++) out.push({ Target: target(i, 4), TargetHealth: { State: 'draining', Reason: 'Target.DeregistrationInProgress' } });
    }
    return { TargetHealthDescriptions: out };
  }

  /** The target's health checker: GETs the path on each target it is given, from inside the VPC. */
  private async invokeChecker(input: any) {
    if (input.FunctionName !== CHECKER) throw new LambdaResourceNotFoundException({ message: `Function not found: ${input.FunctionName}`, $metadata: meta(404), Type: 'User' });
    const event = JSON.parse(new TextDecoder().decode(input.Payload));
    const results = (event.targets as Array<{ ip: string; port: number }>).map((t) => {
      const target = `${t.ip}:${t.port}`;
      const answer = this.now < this.unreachableUntil ? { target, error: 'ECONNREFUSED' } : { target, status: this.healthStatus(event.path) };
      this.checks.push(`${target}${event.path} -> ${answer.status ?? answer.error}`);
      return answer;
    });
    return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ results })) as any };
  }

  private describeAlarms(input: any) {
    const names = (input.AlarmNames as string[]).filter((n) => this.alarms.has(n));
    return { MetricAlarms: names.map((n) => ({ AlarmName: n, StateValue: this.alarms.get(n) })), CompositeAlarms: [] };
  }
}

function meta(httpStatusCode: number) {
  return { httpStatusCode, requestId: 'fake-request-id', attempts: 1, totalRetryDelay: 0 };
}

/** The server-side failure each service's SDK raises: ECS's own ServerException, an ELBv2 503. */
function serverError(op: string): Error {
  const message = `injected failure of ${op}`;
  if (op.startsWith('ecs:')) return new ServerException({ message, $metadata: meta(500) });
  return new ElasticLoadBalancingV2ServiceException({ name: 'ServiceUnavailable', $fault: 'server', message, $metadata: meta(503) });
}

/** A release queue that keeps delayed messages and hands them out in due order. */
export class FakeReleaseQueue implements ReleaseQueue {
  readonly pending: Array<{ message: ReleaseMessage; due: number; seq: number }> = [];
  readonly sent: Array<{ message: ReleaseMessage; delaySeconds: number }> = [];
  private seq = 0;
  constructor(private readonly clock: { now: number }) {}

  async send(message: ReleaseMessage, delaySeconds = 0): Promise<void> {
    this.sent.push({ message: structuredClone(message), delaySeconds });
    this.pending.push({ message: structuredClone(message), due: this.clock.now + delaySeconds * 1000, seq: this.seq++ });
  }

  /** The next message due, removed from the queue. */
  take(): { message: ReleaseMessage; due: number } | undefined {
    if (this.pending.length === 0) return undefined;
    this.pending.sort((a, b) => a.due - b.due || a.seq - b.seq);
    return this.pending.shift();
  }
}

export class FakeEventQueue implements EventQueue {
  readonly events: EngineMessage[] = [];
  async send(messages: EngineMessage[]): Promise<void> {
    this.events.push(...structuredClone(messages));
  }
  finished() {
    return this.events.filter((e) => e.type === 'ReleaseFinished') as Array<Extract<EngineMessage, { type: 'ReleaseFinished' }>>;
  }
}

export function targetConfig(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name: 'web',
    cluster: CLUSTER,
    services: { blue: 'web-blue', green: 'web-green' },
    targetGroups: { ...TG },
    listenerRuleArn: RULE,
    desiredCount: 2,
    ...overrides,
  };
}

export function deploySpec(overrides: Partial<DeploySpec> = {}): DeploySpec {
  return { target: 'web', strategy: 'blue-green', steps: [10, 50, 100], intervalSeconds: 60, bakeSeconds: 120, alarms: ['web-5xx'], rollbackWindowMinutes: 30, ...overrides };
}

export function startMessage(overrides: Partial<StartReleaseMessage> = {}): StartReleaseMessage {
  const runId = overrides.runId ?? '01RUN';
  const job = overrides.job ?? 'deploy';
  const attempt = overrides.attempt ?? 1;
  return { type: 'StartRelease', runId, pipelineId: 'p1', job, attempt, token: `${runId}:${job}:${attempt}`, target: 'web', image: 'web:2', deploy: deploySpec(), ...overrides };
}

/** `store` with its save replaced (a rival writer, a lost answer); everything else goes to `store`. */
export function withSave(store: TargetStore, save: TargetStore['save']): TargetStore {
  return { create: (c, now) => store.create(c, now), get: (n) => store.get(n), listNames: () => store.listNames(), save };
}

/** Everything a release test needs, wired together on one fake clock. */
export async function harness(opts: { target?: Partial<TargetConfig>; circuitBreaker?: { enable: boolean; rollback: boolean }; fetch?: typeof fetch; images?: EcrImageTagger; metrics?: MetricsSink } = {}) {
  const aws = new FakeAws(opts.circuitBreaker ? { circuitBreaker: opts.circuitBreaker } : {});
  aws.alarms.set('web-5xx', 'OK');
  const store = new MemoryTargetStore();
  const queue = new FakeReleaseQueue(aws);
  const events = new FakeEventQueue();
  /** Another warm instance on the same store and queues (a second Lambda container): its own memory of the targets. */
  const instance = (o: { maxAttempts?: number; targets?: TargetStore; actions?: ReleaseActions } = {}) => new Releaser({ targets: store, actions: aws.adapter(opts.fetch, opts.images), releaseQueue: queue, events, now: () => new Date(aws.now), ...(opts.metrics ? { metrics: opts.metrics } : {}), ...o });
  const releaser = instance();
  await store.create(targetConfig(opts.target), new Date(aws.now).toISOString());
  const admin = new TargetAdmin({ targets: store, ownership: { verify: async () => [] }, releaseQueue: queue, now: () => new Date(aws.now) });
  /**
   * Delivers due messages one by one, moving the clock to each; `before` runs
   * before each delivery (to flip alarms or kill tasks at a chosen moment).
   * Stops when the queue is empty or after `max` deliveries. `by`: the instance that handles them.
   */
  async function drive(o: { max?: number; before?: (m: ReleaseMessage, n: number) => void | boolean | Promise<void | boolean>; until?: number; by?: Releaser } = {}) {
    let n = 0;
    for (;;) {
      if (n >= (o.max ?? 500)) break;
      const next = queue.pending.length > 0 ? [...queue.pending].sort((a, b) => a.due - b.due || a.seq - b.seq)[0] : undefined;
      if (!next || (o.until !== undefined && next.due > o.until)) break;
      // `before` may stop the drive; the message then stays queued for the next drive.
      if ((await o.before?.(next.message, n)) === false) break;
      queue.take();
      aws.now = Math.max(aws.now, next.due);
      await (o.by ?? releaser).handle(next.message);
      n++;
    }
    return n;
  }
  return { aws, store, queue, events, releaser, instance, admin, drive };
}
