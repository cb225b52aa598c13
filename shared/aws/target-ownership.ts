/**
 * `TargetOwnership` on AWS: before `PUT /targets/{name}` saves a target, the listener
 * rule(s) and target groups must carry `slipway:target=<name>` (ELBv2 DescribeTags) and
 * so must both ECS services (DescribeServices with their tags). Read-only calls; the API
 * function's role has these and no write right on ECS or ELBv2.
 *
 * Tagging is the account owner's act (CDK's `SlipwayReleaseTarget` tags everything it
 * creates): someone who can only call Slipway's API cannot tag another team's rule, so
 * cannot make Slipway's releaser move its traffic.
 */
import { DescribeServicesCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { DescribeTagsCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Problem } from '../domain/errors.ts';
import type { TargetConfig } from '../domain/release.ts';
import { COLOURS } from '../domain/traffic.ts';
import { TARGET_TAG, type TargetOwnership } from '../ports/releases.ts';
import { classify, toReleaseError } from './errors.ts';

export class AwsTargetOwnership implements TargetOwnership {
  constructor(private readonly ecs: Pick<ECSClient, 'send'>, private readonly elb: Pick<ElasticLoadBalancingV2Client, 'send'>) {}

  async verify(config: TargetConfig): Promise<Problem[]> {
    const [elb, ecs] = await Promise.all([this.loadBalancerProblems(config), this.serviceProblems(config)]);
    return [...elb, ...ecs];
  }

  private async loadBalancerProblems(config: TargetConfig): Promise<Problem[]> {
    const named: Array<{ path: string; arn: string }> = [
      { path: 'listenerRuleArn', arn: config.listenerRuleArn },
      ...(config.testListenerRuleArn ? [{ path: 'testListenerRuleArn', arn: config.testListenerRuleArn }] : []),
      ...COLOURS.map((c) => ({ path: `targetGroups.${c}`, arn: config.targetGroups[c] })),
    ];
    const tags = new Map<string, Record<string, string>>();
    // One request per ARN: DescribeTags fails as a whole when any one ARN does not exist,
    // and each problem should name its own field.
    const problems: Problem[] = [];
    await Promise.all(named.map(async ({ path, arn }) => {
      try {
        const out = await this.elb.send(new DescribeTagsCommand({ ResourceArns: [arn] }));
        const d = out.TagDescriptions?.find((t) => t.ResourceArn === arn);
        tags.set(arn, Object.fromEntries((d?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])));
      } catch (err) {
        const kind = classify(err);
        if (kind === 'not-found' || kind === 'invalid') problems.push({ path, message: `${arn} does not exist (or is not a listener rule or target group of this account and region)` });
        else throw toReleaseError(err, `reading the tags of ${arn}`);
      }
    }));
    for (const { path, arn } of named) {
      const t = tags.get(arn);
      if (t) problems.push(...tagProblem(path, arn, t[TARGET_TAG], config.name));
    }
    return problems;
  }

  private async serviceProblems(config: TargetConfig): Promise<Problem[]> {
    let out;
    try {
      out = await this.ecs.send(new DescribeServicesCommand({ cluster: config.cluster, services: COLOURS.map((c) => config.services[c]), include: ['TAGS'] }));
    } catch (err) {
      const name = (err as { name?: string }).name ?? '';
      if (/ClusterNotFound/i.test(name)) return [{ path: 'cluster', message: `cluster ${config.cluster} does not exist` }];
      throw toReleaseError(err, `describing the services of ${config.cluster}`);
    }
    const problems: Problem[] = [];
    for (const c of COLOURS) {
      const wanted = config.services[c];
      const s = (out.services ?? []).find((x) => x.serviceName === wanted || x.serviceArn === wanted);
      if (!s || s.status === 'INACTIVE') {
        problems.push({ path: `services.${c}`, message: `service ${wanted} does not exist in cluster ${config.cluster}` });
        continue;
      }
      const value = (s.tags ?? []).find((t) => t.key === TARGET_TAG)?.value;
      problems.push(...tagProblem(`services.${c}`, s.serviceArn ?? wanted, value, config.name));
    }
    return problems;
  }
}

function tagProblem(path: string, what: string, value: string | undefined, target: string): Problem[] {
  if (value === target) return [];
  return [{
    path,
    message: value === undefined
      ? `${what} carries no ${TARGET_TAG} tag; tag it ${TARGET_TAG}=${target} to let Slipway release to it`
      : `${what} belongs to target "${value}" (${TARGET_TAG}=${value}), not "${target}"`,
  }];
}
