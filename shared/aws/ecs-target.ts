/**
 * The releaser's hands and eyes on AWS: ECS (task definitions, services),
 * ELBv2 (weighted forward rules, target health) and CloudWatch (alarm states),
 * plus the HTTP check against the test listener. Translates SDK shapes into the
 * domain's observations and SDK errors into domain errors at the edge.
 */
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type ECSClient,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, ModifyRuleCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeAlarmsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { ValidationError } from '../domain/errors.ts';
import type { Observation, ObserveSpec, ServiceObservation, TargetHealthObservation, AlarmObservation } from '../domain/release.ts';
import type { Colour, Weights } from '../domain/traffic.ts';
import type { RequestCounter } from '../ports/index.ts';
import type { EcrImageTagger } from './image-tags.ts';
import { toReleaseError } from './errors.ts';
import { ReleaseActionError, type MarkLiveResult, type ReleaseActions } from '../ports/releases.ts';


export interface EcsTargetOptions {
  /** Counts every AWS request (benchmark). */
  counter?: RequestCounter;
  /** Injected for tests. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Milliseconds the HTTP check waits for an answer. @default 5000 */
  httpTimeoutMs?: number;
  /** Tags released ECR images so lifecycle rules keep them. @default none: images are not tagged */
  images?: EcrImageTagger;
  /** Invokes targets' health checkers (inside their VPCs). @default none: checks through a checker fail */
  lambda?: LambdaClient;
}

/** What a target's health checker answers (infra/constructs/health-checker.ts). */
interface CheckerAnswer {
  results?: Array<{ target: string; status?: number; error?: string }>;
  error?: string;
}

/** Fields of a described task definition that RegisterTaskDefinition accepts back. */
const COPIED_FIELDS = [
  'family', 'taskRoleArn', 'executionRoleArn', 'networkMode', 'containerDefinitions', 'volumes', 'placementConstraints',
  'requiresCompatibilities', 'cpu', 'memory', 'pidMode', 'ipcMode', 'proxyConfiguration', 'inferenceAccelerators',
  'ephemeralStorage', 'runtimePlatform', 'enableFaultInjection',
] as const;

export class EcsTarget implements ReleaseActions {
  private readonly fetchImpl: typeof fetch;
  constructor(
    private readonly ecs: ECSClient,
    private readonly elb: ElasticLoadBalancingV2Client,
    private readonly cloudwatch: CloudWatchClient,
    private readonly opts: EcsTargetOptions = {},
  ) {
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
  }

  private count(op: string): void {
    this.opts.counter?.count(op);
  }

  async registerTaskDefinition(input: { cluster: string; fromService: string; image: string; containerName?: string }): Promise<{ taskDefinition: string; previousTaskDefinition: string }> {
    const what = `copying the task definition of ${input.fromService}`;
    try {
      this.count('ecs:DescribeServices');
      const described = await this.ecs.send(new DescribeServicesCommand({ cluster: input.cluster, services: [input.fromService] }));
      const previous = described.services?.[0]?.taskDefinition;
      if (!previous) throw new ReleaseActionError(`service ${input.fromService} does not exist in cluster ${input.cluster}`);
      this.count('ecs:DescribeTaskDefinition');
      // Tags are not copied: tagging on create needs ecs:TagResource, which the releaser is not granted.
      const { taskDefinition: td } = await this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: previous }));
      if (!td) throw new ReleaseActionError(`task definition ${previous} could not be read`);
      const copy: Record<string, unknown> = {};
      for (const f of COPIED_FIELDS) if (td[f] !== undefined) copy[f] = td[f];
      const containers = (td.containerDefinitions ?? []).map((c) => ({ ...c }));
      const i = input.containerName ? containers.findIndex((c) => c.name === input.containerName) : 0;
      if (i < 0 || !containers[i]) {
        throw new ValidationError(`task definition ${previous} has no container ${input.containerName ? `named ${input.containerName}` : 'at all'}`);
      }
      containers[i].image = input.image;
      copy.containerDefinitions = containers;
      this.count('ecs:RegisterTaskDefinition');
      const out = await this.ecs.send(new RegisterTaskDefinitionCommand(copy as unknown as RegisterTaskDefinitionCommandInput));
      const arn = out.taskDefinition?.taskDefinitionArn;
      if (!arn) throw new ReleaseActionError(`RegisterTaskDefinition returned no ARN for family ${td.family}`);
      return { taskDefinition: arn, previousTaskDefinition: previous };
    } catch (err) {
      throw toReleaseError(err, what);
    }
  }

  async updateService(input: { cluster: string; service: string; taskDefinition?: string; desiredCount?: number }): Promise<void> {
    try {
      this.count('ecs:UpdateService');
      await this.ecs.send(new UpdateServiceCommand({
        cluster: input.cluster,
        service: input.service,
        ...(input.taskDefinition ? { taskDefinition: input.taskDefinition } : {}),
        ...(input.desiredCount !== undefined ? { desiredCount: input.desiredCount } : {}),
      }));
    } catch (err) {
      throw toReleaseError(err, `updating service ${input.service}`);
    }
  }

  async modifyRule(input: { ruleArn: string; targetGroups: Record<Colour, string>; weights: Weights }): Promise<void> {
    try {
      this.count('elbv2:ModifyRule');
      await this.elb.send(new ModifyRuleCommand({
        RuleArn: input.ruleArn,
        Actions: [{
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: input.targetGroups.blue, Weight: input.weights.blue },
              { TargetGroupArn: input.targetGroups.green, Weight: input.weights.green },
            ],
          },
        }],
      }));
    } catch (err) {
      throw toReleaseError(err, `setting weights blue ${input.weights.blue} / green ${input.weights.green} on ${input.ruleArn}`);
    }
  }

  async observe(spec: ObserveSpec): Promise<Observation> {
    const [service, targets, alarms] = await Promise.all([
      spec.service && spec.cluster ? this.observeService(spec.cluster, spec.service) : undefined,
      spec.targetGroupArn ? this.observeTargets(spec.targetGroupArn) : undefined,
      spec.alarms && spec.alarms.length > 0 ? this.observeAlarms(spec.alarms) : undefined,
    ]);
    return { ...(service ? { service } : {}), ...(targets ? { targets } : {}), ...(alarms ? { alarms } : {}) };
  }

  private async observeService(cluster: string, name: string): Promise<ServiceObservation> {
    try {
      this.count('ecs:DescribeServices');
      const out = await this.ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
      const svc = out.services?.[0];
      if (!svc || svc.status === 'INACTIVE') return { deployments: 0, running: 0, desired: 0, failedTaskDefinitions: [], missing: true };
      const deployments = svc.deployments ?? [];
      const primary = deployments.find((d) => d.status === 'PRIMARY');
      return {
        taskDefinition: primary?.taskDefinition ?? svc.taskDefinition,
        rolloutState: primary?.rolloutState,
        rolloutStateReason: primary?.rolloutStateReason,
        deployments: deployments.length,
        running: primary?.runningCount ?? svc.runningCount ?? 0,
        desired: primary?.desiredCount ?? svc.desiredCount ?? 0,
        failedTaskDefinitions: deployments.filter((d) => d.rolloutState === 'FAILED' && d.taskDefinition).map((d) => d.taskDefinition!),
      };
    } catch (err) {
      throw toReleaseError(err, `describing service ${name}`);
    }
  }

  private async observeTargets(targetGroupArn: string): Promise<TargetHealthObservation> {
    try {
      this.count('elbv2:DescribeTargetHealth');
      const out = await this.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
      // Targets on their way out (draining, unhealthy.draining) no longer take traffic; `initial`
      // (first health checks), `unused` (group not routed to) and `unavailable` count as not healthy.
      // (ELBv2 API reference, TargetHealth.State.)
      const live = (out.TargetHealthDescriptions ?? []).filter((d) => d.TargetHealth?.State !== 'draining' && d.TargetHealth?.State !== 'unhealthy.draining');
      return {
        healthy: live.filter((d) => d.TargetHealth?.State === 'healthy').length,
        total: live.length,
        unhealthyReasons: live.filter((d) => d.TargetHealth?.State !== 'healthy').map((d) => d.TargetHealth?.Reason ?? d.TargetHealth?.State ?? 'unknown'),
      };
    } catch (err) {
      throw toReleaseError(err, `describing the health of ${targetGroupArn}`);
    }
  }

  private async observeAlarms(names: string[]): Promise<AlarmObservation> {
    try {
      const found = new Map<string, string>();
      // DescribeAlarms takes at most 100 names per call.
      for (let i = 0; i < names.length; i += 100) {
        this.count('cloudwatch:DescribeAlarms');
        const out = await this.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + 100), AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }));
        for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) if (a.AlarmName) found.set(a.AlarmName, a.StateValue ?? 'INSUFFICIENT_DATA');
      }
      return { inAlarm: names.filter((n) => found.get(n) === 'ALARM'), missing: names.filter((n) => !found.has(n)) };
    } catch (err) {
      throw toReleaseError(err, `describing alarms ${names.join(', ')}`);
    }
  }

  markLiveImage(target: string, image: string): Promise<MarkLiveResult> {
    if (!this.opts.images) return Promise.resolve({ tagged: false, skipped: 'image tagging is not configured' });
    return this.opts.images.markLive(target, image);
  }

  markRolledBack(target: string, image: string): Promise<MarkLiveResult> {
    if (!this.opts.images) return Promise.resolve({ tagged: false, skipped: 'image tagging is not configured' });
    return this.opts.images.swapAfterRollback(target, image);
  }

  async httpCheck(url: string, via?: { functionName: string; targetGroupArn: string; path: string }): Promise<{ status?: number; error?: string }> {
    if (via) return this.checkFromVpc(via);
    try {
      const res = await this.fetchImpl(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(this.opts.httpTimeoutMs ?? 5000) });
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status };
    } catch (err) {
      return { error: (err as Error).message ?? String(err) };
    }
  }

  /**
   * The check from inside the target's VPC: the targets registered in the new colour's group (not
   * draining) are handed to the target's checker function, which GETs the path on each. One status
   * when every target gave the same; otherwise an error naming each target's answer. A failed check
   * is not an exception: the release decides whether to try again.
   */
  private async checkFromVpc(via: { functionName: string; targetGroupArn: string; path: string }): Promise<{ status?: number; error?: string }> {
    if (!this.opts.lambda) return { error: 'the releaser has no Lambda client to reach the health checker' };
    let described;
    try {
      this.count('elbv2:DescribeTargetHealth');
      described = await this.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: via.targetGroupArn }));
    } catch (err) {
      throw toReleaseError(err, `describing the targets of ${via.targetGroupArn}`);
    }
    const targets = (described.TargetHealthDescriptions ?? [])
      .filter((d) => d.Target?.Id && d.TargetHealth?.State !== 'draining' && d.TargetHealth?.State !== 'unhealthy.draining')
      .map((d) => ({ ip: d.Target!.Id!, port: d.Target!.Port }));
    if (targets.length === 0) return { error: `no targets registered in ${via.targetGroupArn}` };
    let answer: CheckerAnswer;
    try {
      this.count('lambda:Invoke');
      const out = await this.opts.lambda.send(new InvokeCommand({
        FunctionName: via.functionName,
        Payload: new TextEncoder().encode(JSON.stringify({ targets, path: via.path, timeoutMs: this.opts.httpTimeoutMs ?? 5000 })),
      }));
      const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
      // FunctionError: the checker itself failed (timeout, crash); the payload describes it.
      if (out.FunctionError) return { error: `the health checker failed (${out.FunctionError}): ${text.slice(0, 300)}` };
      answer = JSON.parse(text || '{}') as CheckerAnswer;
    } catch (err) {
      throw toReleaseError(err, `invoking the health checker ${via.functionName}`);
    }
    if (answer.error) return { error: `the health checker refused the check: ${answer.error}` };
    const results = answer.results ?? [];
    const failed = results.filter((r) => r.error !== undefined);
    if (failed.length > 0 || results.length === 0) {
      return { error: failed.length > 0 ? failed.map((r) => `${r.target}: ${r.error}`).join('; ') : 'the health checker checked no target' };
    }
    const statuses = [...new Set(results.map((r) => r.status))];
    if (statuses.length === 1) return { status: statuses[0] };
    return { error: `the tasks answered differently: ${results.map((r) => `${r.target} ${r.status}`).join(', ')}` };
  }
}
