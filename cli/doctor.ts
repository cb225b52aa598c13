/**
 * `slipway doctor`: checks, against a deployed stack, what a first release needs, and says for each
 * missing piece how to fix it. Reads pipelines and targets through the management API, then asks
 * AWS with the caller's credentials (read-only calls, plus one invocation of each target's health
 * checker):
 * - every CodeConnections connection the pipelines use is AVAILABLE;
 * - every image repository an image job pushes to exists (`<prefix>/<docker.repository>`);
 * - every registered target's cluster, blue and green services (tagged `slipway:target`), target
 *   groups and listener rule exist;
 * - every deploy job's health check path answers from inside the target's VPC (its checker);
 * - every secret a pipeline names exists.
 * In the local mode only the API and the registered targets are checked: nothing else is in AWS.
 */
import { DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand, DescribeTagsCommand, DescribeTargetGroupsCommand, DescribeTargetHealthCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { ApiClient } from './client.ts';
import { DEFAULT_ECR_REPOSITORY_PREFIX, ecrRepositoryName, type PipelineSpec } from '../shared/domain/pipeline.ts';
import { classify } from '../shared/aws/errors.ts';

export interface Check {
  /** What was checked, e.g. `target staging: service shop-green`. */
  name: string;
  ok: boolean;
  detail: string;
  /** How to fix it, when it failed. */
  fix?: string;
}

/** The connection's status as CodeConnections reports it (GetConnection), or why it could not be read. */
export type ConnectionLookup = (arn: string) => Promise<{ status?: string; error?: string }>;

export interface DoctorDeps {
  api: { request<T = unknown>(method: string, path: string): Promise<T> };
  /** Absent in the local mode. */
  aws?: {
    ecr: ECRClient;
    ecs: ECSClient;
    elb: ElasticLoadBalancingV2Client;
    secrets: SecretsManagerClient;
    lambda: LambdaClient;
    connection: ConnectionLookup;
  };
  /** @default "slipway" */
  ecrRepositoryPrefix?: string;
  /** The stack's default connection (slipway:sourceConnection), used by pipelines that name none. */
  defaultConnection?: string;
}

interface PipelineRecordView {
  id: string;
  spec: PipelineSpec;
  webhookSecretName?: string;
  tokenSecretName?: string;
}

interface TargetViewLite {
  name: string;
  cluster: string;
  services: { blue: string; green: string };
  targetGroups: { blue: string; green: string };
  liveColour: 'blue' | 'green';
  listenerRuleArn?: string;
  healthCheckFunction?: string;
}

const CONNECTIONS_CONSOLE = 'Developer Tools > Settings > Connections';

export async function runDoctor(deps: DoctorDeps): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);
  let pipelines: PipelineRecordView[];
  let targets: TargetViewLite[];
  try {
    const page = await deps.api.request<{ items: Array<{ id: string }> }>('GET', '/pipelines?limit=100');
    pipelines = await Promise.all(page.items.map((p) => deps.api.request<PipelineRecordView>('GET', `/pipelines/${encodeURIComponent(p.id)}`)));
    targets = (await deps.api.request<{ items: TargetViewLite[] }>('GET', '/targets')).items;
    add({ name: 'management API', ok: true, detail: `${pipelines.length} pipeline(s), ${targets.length} target(s)` });
  } catch (err) {
    add({ name: 'management API', ok: false, detail: (err as Error).message, fix: 'set SLIPWAY_API_URL to the stack\'s ApiUrl output and use credentials allowed execute-api:Invoke on it' });
    return checks;
  }
  const targetNames = new Set(targets.map((t) => t.name));
  for (const p of pipelines) {
    for (const job of Object.values(p.spec.jobs)) {
      if (job.deploy && !targetNames.has(job.deploy.target)) {
        add({ name: `pipeline ${p.id}: target ${job.deploy.target}`, ok: false, detail: `job ${job.name} deploys to a target that is not registered`, fix: `slipway targets apply ${job.deploy.target} -f <registration.json> (SlipwayReleaseTarget.registration)` });
      }
    }
  }
  const aws = deps.aws;
  if (!aws) return checks;
  const prefix = deps.ecrRepositoryPrefix ?? DEFAULT_ECR_REPOSITORY_PREFIX;

  // Connections.
  const connections = new Map<string, string[]>();
  for (const p of pipelines) {
    const arn = p.spec.source.connection ?? deps.defaultConnection;
    if (arn) connections.set(arn, [...(connections.get(arn) ?? []), p.id]);
    else if (p.spec.source.provider === 'gitlab') {
      add({ name: `pipeline ${p.id}: source connection`, ok: false, detail: 'a GitLab repository with no connection: CodeBuild cannot check it out', fix: `create a GitLab connection (${CONNECTIONS_CONSOLE}), approve it, and set source.connection or slipway:sourceConnection` });
    }
  }
  for (const [arn, users] of connections) {
    const { status, error } = await aws.connection(arn);
    add({
      name: `connection ${arn}`,
      ok: status === 'AVAILABLE',
      detail: error ?? `${status} (used by ${users.join(', ')})`,
      ...(status === 'AVAILABLE' ? {} : { fix: status === 'PENDING' ? `approve it: ${CONNECTIONS_CONSOLE} > the connection > "Update pending connection"` : `create a new connection (${CONNECTIONS_CONSOLE}) and list it in slipway:sourceConnections` }),
    });
  }

  // Image repositories.
  const repositories = new Map<string, string>();
  for (const p of pipelines) for (const job of Object.values(p.spec.jobs)) if (job.image) repositories.set(ecrRepositoryName(prefix, job.image.repository), `${p.id}/${job.name}`);
  for (const [name, user] of repositories) {
    const found = await aws.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] })).then(() => true, (err: Error) => (classify(err) === 'not-found' ? false : Promise.reject(err)));
    add({ name: `image repository ${name}`, ok: found, detail: found ? `exists (${user})` : `missing: ${user} pushes to it`, ...(found ? {} : { fix: `add it to slipway:imageRepositories (or SlipwayImageRepository { repositoryName: '${name.slice(prefix.length + 1)}' }) and deploy` }) });
  }

  // Targets.
  for (const t of targets) await checkTarget(aws, t, pipelines, add);

  // Secrets.
  const secrets = new Map<string, string>();
  for (const p of pipelines) {
    if (p.webhookSecretName) secrets.set(p.webhookSecretName, `${p.id} webhook`);
    if (p.tokenSecretName) secrets.set(p.tokenSecretName, `${p.id} git host token`);
    for (const n of p.spec.notifications) if (n.secret) secrets.set(n.secret, `${p.id} ${n.kind} notifications`);
  }
  for (const [name, use] of secrets) {
    const found = await aws.secrets.send(new DescribeSecretCommand({ SecretId: name })).then(() => true, (err: Error) => (classify(err) === 'not-found' ? false : Promise.reject(err)));
    add({ name: `secret ${name}`, ok: found, detail: found ? `exists (${use})` : `missing (${use})`, ...(found ? {} : { fix: `aws secretsmanager create-secret --name ${name} --secret-string ...` }) });
  }
  return checks;
}

async function checkTarget(aws: NonNullable<DoctorDeps['aws']>, t: TargetViewLite, pipelines: PipelineRecordView[], add: (c: Check) => void): Promise<void> {
  const at = (what: string) => `target ${t.name}: ${what}`;
  const clusters = await aws.ecs.send(new DescribeClustersCommand({ clusters: [t.cluster] }));
  const cluster = clusters.clusters?.find((c) => c.status === 'ACTIVE');
  add({ name: at(`cluster ${t.cluster}`), ok: !!cluster, detail: cluster ? 'ACTIVE' : 'missing or inactive', ...(cluster ? {} : { fix: 'deploy the stack with the SlipwayReleaseTarget, then register the cluster it outputs' }) });
  if (!cluster) return;
  const described = await aws.ecs.send(new DescribeServicesCommand({ cluster: t.cluster, services: [t.services.blue, t.services.green], include: ['TAGS'] }));
  for (const colour of ['blue', 'green'] as const) {
    const name = t.services[colour];
    const svc = described.services?.find((s) => s.serviceName === name || s.serviceArn === name);
    const tagged = svc?.tags?.some((tag) => tag.key === 'slipway:target' && tag.value === t.name) ?? false;
    const ok = !!svc && svc.status === 'ACTIVE' && tagged;
    add({
      name: at(`${colour} service ${name}`),
      ok,
      detail: !svc || svc.status !== 'ACTIVE' ? 'missing or inactive' : tagged ? 'ACTIVE, tagged slipway:target' : `not tagged slipway:target=${t.name}: the releaser may not update it`,
      ...(ok ? {} : { fix: !svc ? 're-register the target with its services\' names' : `tag it slipway:target=${t.name} (SlipwayReleaseTarget does), or name it in releaseScope.serviceArns` }),
    });
  }
  const groups = await aws.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [t.targetGroups.blue, t.targetGroups.green] })).then(
    (o) => new Set((o.TargetGroups ?? []).map((g) => g.TargetGroupArn)),
    (err: Error) => (classify(err) === 'not-found' ? new Set<string | undefined>() : Promise.reject(err)),
  );
  const present = [t.targetGroups.blue, t.targetGroups.green].filter((arn) => groups.has(arn));
  const tags = present.length === 0 ? new Map<string, boolean>() : await aws.elb.send(new DescribeTagsCommand({ ResourceArns: present })).then(
    (o) => new Map((o.TagDescriptions ?? []).map((d) => [d.ResourceArn!, (d.Tags ?? []).some((tag) => tag.Key === 'slipway:target' && tag.Value === t.name)])),
  );
  for (const colour of ['blue', 'green'] as const) {
    const exists = groups.has(t.targetGroups[colour]);
    const tagged = tags.get(t.targetGroups[colour]) ?? false;
    add({
      name: at(`${colour} target group`),
      ok: exists && tagged,
      detail: !exists ? `missing: ${t.targetGroups[colour]}` : tagged ? 'exists, tagged slipway:target' : `not tagged slipway:target=${t.name}: not the group SlipwayReleaseTarget made for this target?`,
      ...(exists && tagged ? {} : { fix: !exists ? 're-register the target with its target group ARNs' : `register the target groups of the SlipwayReleaseTarget named ${t.name} (target.registration)` }),
    });
  }
  if (t.listenerRuleArn) {
    const rule = await aws.elb.send(new DescribeRulesCommand({ RuleArns: [t.listenerRuleArn] })).then((o) => o.Rules?.[0], (err: Error) => (classify(err) === 'not-found' ? undefined : Promise.reject(err)));
    const forwards = new Set((rule?.Actions ?? []).flatMap((a) => a.ForwardConfig?.TargetGroups ?? []).map((g) => g.TargetGroupArn));
    const ok = !!rule && forwards.has(t.targetGroups.blue) && forwards.has(t.targetGroups.green);
    add({ name: at('listener rule'), ok, detail: !rule ? 'missing' : ok ? 'forwards to both target groups' : 'does not forward to both target groups with weights', ...(ok ? {} : { fix: 'register the weighted rule SlipwayReleaseTarget creates (listenerRuleArn)' }) });
  }
  const checked = pipelines.flatMap((p) => Object.values(p.spec.jobs)).filter((j) => j.deploy?.target === t.name && j.deploy.healthCheck);
  for (const path of new Set(checked.map((j) => j.deploy!.healthCheck!.path))) {
    if (!t.healthCheckFunction) {
      add({ name: at(`health check ${path}`), ok: false, detail: 'no health checker registered: the releaser cannot reach the tasks', fix: 'register healthCheckFunction (SlipwayReleaseTarget.registration includes it)' });
      continue;
    }
    const health = await aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: t.targetGroups[t.liveColour] }));
    const targets = (health.TargetHealthDescriptions ?? []).filter((d) => d.Target?.Id).map((d) => ({ ip: d.Target!.Id!, port: d.Target!.Port }));
    const out = await aws.lambda.send(new InvokeCommand({ FunctionName: t.healthCheckFunction, Payload: new TextEncoder().encode(JSON.stringify({ targets, path })) })).then(
      (o) => ({ text: o.Payload ? new TextDecoder().decode(o.Payload) : '', failed: o.FunctionError }),
      (err: Error) => ({ text: `${err.name}: ${err.message}`, failed: 'Invoke' }),
    );
    const results = out.failed ? [] : ((JSON.parse(out.text || '{}') as { results?: Array<{ target: string; status?: number; error?: string }> }).results ?? []);
    const ok = results.length > 0 && results.every((r) => r.status !== undefined && r.status < 500);
    add({
      name: at(`health check ${path}`),
      ok,
      detail: out.failed ? `the checker could not run: ${out.text.slice(0, 200)}` : results.length === 0 ? `no tasks registered in the ${t.liveColour} target group` : results.map((r) => `${r.target} ${r.status ?? r.error}`).join(', '),
      ...(ok ? {} : { fix: 'the services must admit the checker\'s security group on the container port (SlipwayReleaseTarget does) and answer the path' }),
    });
  }
}

/**
 * GetConnection on AWS CodeConnections (or CodeStar Connections, for older ARNs), a signed JSON
 * 1.0 request; this project carries no CodeConnections SDK client. The service's API reference:
 * GetConnection takes `ConnectionArn` and returns `Connection.ConnectionStatus` (PENDING,
 * AVAILABLE, ERROR).
 */
export function connectionLookup(fetchImpl: typeof fetch = fetch): ConnectionLookup {
  return async (arn) => {
    const m = /^arn:aws[a-z-]*:(codeconnections|codestar-connections):([a-z0-9-]+):/.exec(arn);
    if (!m) return { error: `not a connection ARN: ${arn}` };
    const [, service, region] = m;
    const host = `${service}.${region}.amazonaws.com`;
    const target = service === 'codeconnections' ? 'CodeConnections_20231201.GetConnection' : 'CodeStar_connections_20191201.GetConnection';
    const body = JSON.stringify({ ConnectionArn: arn });
    const signer = new SignatureV4({ service: service!, region: region!, credentials: defaultProvider(), sha256: Hash.bind(null, 'sha256') });
    const signed = await signer.sign({
      method: 'POST', protocol: 'https:', hostname: host, path: '/',
      headers: { host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target },
      body,
    });
    try {
      const res = await fetchImpl(`https://${host}/`, { method: 'POST', headers: signed.headers, body });
      const json = (await res.json().catch(() => ({}))) as { Connection?: { ConnectionStatus?: string }; message?: string; __type?: string };
      if (!res.ok) return { error: `${json.__type ?? res.status}: ${json.message ?? ''}`.trim() };
      return { status: json.Connection?.ConnectionStatus ?? 'UNKNOWN' };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
}

/** The deps for an API client: AWS clients for a deployed stack (region from its URL), none for the local mode. */
export async function doctorDepsFor(api: ApiClient, opts: { prefix?: string; connection?: string }): Promise<DoctorDeps> {
  const base = { api, ...(opts.prefix ? { ecrRepositoryPrefix: opts.prefix } : {}), ...(opts.connection ? { defaultConnection: opts.connection } : {}) };
  if (api.isLocal) return base;
  const region = api.region;
  const [{ ECRClient }, { ECSClient }, { ElasticLoadBalancingV2Client }, { SecretsManagerClient }, { LambdaClient }] = await Promise.all([
    import('@aws-sdk/client-ecr'), import('@aws-sdk/client-ecs'), import('@aws-sdk/client-elastic-load-balancing-v2'), import('@aws-sdk/client-secrets-manager'), import('@aws-sdk/client-lambda'),
  ]);
  return {
    ...base,
    aws: {
      ecr: new ECRClient({ region }), ecs: new ECSClient({ region }), elb: new ElasticLoadBalancingV2Client({ region }),
      secrets: new SecretsManagerClient({ region }), lambda: new LambdaClient({ region }), connection: connectionLookup(),
    },
  };
}

/** Human-readable lines: one per check, the fix under each failure. */
export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${!c.ok && c.fix ? `\n     fix: ${c.fix}` : ''}`).join('\n');
}
