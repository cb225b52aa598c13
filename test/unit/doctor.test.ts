/**
 * `slipway doctor` against SDK-boundary fakes (aws-sdk-client-mock on the real SDK clients) and a
 * stand-in API: what it reports, and the exit code `slipway doctor` derives from it.
 */
import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeRepositoriesCommand, ECRClient, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand, DescribeTagsCommand, DescribeTargetGroupsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeSecretCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { connectionLookup, formatChecks, runDoctor, type DoctorDeps } from '../../cli/doctor.ts';
import { assertPipeline } from '../../shared/domain/definition.ts';

const CONN = 'arn:aws:codeconnections:eu-west-1:123456789012:connection/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
const CHECKER = 'arn:aws:lambda:eu-west-1:123456789012:function:shop-checker';
const TG = { blue: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/blue/1', green: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/green/2' };
const RULE = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shop/1/2/3';
const meta = (httpStatusCode: number) => ({ httpStatusCode, requestId: 'r', attempts: 1, totalRetryDelay: 0 });

const spec = assertPipeline(`
name: hello
source: { provider: github, repository: acme/hello, connection: ${CONN} }
jobs:
  image: { kind: image, docker: { repository: hello } }
  deploy: { kind: deploy, needs: [image], deploy: { target: staging, healthCheck: { path: /health } } }
notifications:
  - { kind: slack, secret: slipway/hello/slack }
`);

const clients = { ecr: new ECRClient({}), ecs: new ECSClient({}), elb: new ElasticLoadBalancingV2Client({}), secrets: new SecretsManagerClient({}), lambda: new LambdaClient({}) };
const mocks = { ecr: mockClient(clients.ecr), ecs: mockClient(clients.ecs), elb: mockClient(clients.elb), secrets: mockClient(clients.secrets), lambda: mockClient(clients.lambda) };

/** An account where everything a first release needs is in place. */
function healthyAccount() {
  for (const m of Object.values(mocks)) m.reset();
  mocks.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'slipway/hello' }] });
  mocks.ecs.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'shop', status: 'ACTIVE' }] });
  mocks.ecs.on(DescribeServicesCommand).resolves({
    services: ['shop-blue', 'shop-green'].map((serviceName) => ({ serviceName, status: 'ACTIVE', tags: [{ key: 'slipway:target', value: 'staging' }] })),
  });
  mocks.elb.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: TG.blue }, { TargetGroupArn: TG.green }] });
  mocks.elb.on(DescribeTagsCommand).resolves({ TagDescriptions: [TG.blue, TG.green].map((ResourceArn) => ({ ResourceArn, Tags: [{ Key: 'slipway:target', Value: 'staging' }] })) });
  mocks.elb.on(DescribeRulesCommand).resolves({ Rules: [{ RuleArn: RULE, Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: TG.blue, Weight: 100 }, { TargetGroupArn: TG.green, Weight: 0 }] } }] }] });
  mocks.elb.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: '10.0.1.5', Port: 8080 }, TargetHealth: { State: 'healthy' } }] });
  mocks.lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ results: [{ target: '10.0.1.5:8080', status: 200 }] })) as never });
  mocks.secrets.on(DescribeSecretCommand).resolves({ Name: 'x' });
}

function deps(overrides: { connection?: DoctorDeps['aws'] extends infer A ? (A extends { connection: infer C } ? C : never) : never; targets?: unknown[] } = {}): DoctorDeps {
  const target = { name: 'staging', cluster: 'shop', services: { blue: 'shop-blue', green: 'shop-green' }, targetGroups: TG, liveColour: 'blue', listenerRuleArn: RULE, healthCheckFunction: CHECKER };
  const api = {
    async request<T>(_m: string, path: string): Promise<T> {
      if (path.startsWith('/pipelines?')) return { items: [{ id: 'hello' }] } as T;
      if (path === '/pipelines/hello') return { id: 'hello', spec, webhookSecretName: 'slipway/hello/webhook' } as T;
      if (path === '/targets') return { items: overrides.targets ?? [target] } as T;
      throw new Error(`unexpected ${path}`);
    },
  };
  return { api, aws: { ...clients, connection: overrides.connection ?? (async () => ({ status: 'AVAILABLE' })) } };
}

beforeEach(healthyAccount);

describe('slipway doctor', () => {
  test('everything in place: every check passes', async () => {
    const checks = await runDoctor(deps());
    assert.ok(checks.every((c) => c.ok), formatChecks(checks));
    assert.deepEqual(checks.map((c) => c.name), [
      'management API',
      `connection ${CONN}`,
      'image repository slipway/hello',
      'target staging: cluster shop',
      'target staging: blue service shop-blue',
      'target staging: green service shop-green',
      'target staging: blue target group',
      'target staging: green target group',
      'target staging: listener rule',
      'target staging: health check /health',
      'secret slipway/hello/webhook',
      'secret slipway/hello/slack',
    ]);
    // The health check went through the checker, with the live colour's tasks.
    const payload = JSON.parse(new TextDecoder().decode(mocks.lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array));
    assert.deepEqual(payload, { targets: [{ ip: '10.0.1.5', port: 8080 }], path: '/health' });
  });

  test('a pending connection, a missing repository, an untagged service, an unreachable path and a missing secret each fail with the fix', async () => {
    mocks.ecr.on(DescribeRepositoriesCommand).rejects(new RepositoryNotFoundException({ message: 'not found', $metadata: meta(400) }));
    mocks.ecs.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'shop-blue', status: 'ACTIVE', tags: [{ key: 'slipway:target', value: 'staging' }] }, { serviceName: 'shop-green', status: 'ACTIVE', tags: [] }] });
    mocks.lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ results: [{ target: '10.0.1.5:8080', error: 'ETIMEDOUT' }] })) as never });
    mocks.elb.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: TG.blue, Tags: [{ Key: 'slipway:target', Value: 'staging' }] }, { ResourceArn: TG.green, Tags: [{ Key: 'slipway:target', Value: 'prod' }] }] });
    mocks.secrets.on(DescribeSecretCommand, { SecretId: 'slipway/hello/slack' }).rejects(new ResourceNotFoundException({ message: 'no', $metadata: meta(400) }));
    const checks = await runDoctor(deps({ connection: async () => ({ status: 'PENDING' }) }));
    const failed = Object.fromEntries(checks.filter((c) => !c.ok).map((c) => [c.name, c.fix]));
    assert.deepEqual(Object.keys(failed), [
      `connection ${CONN}`,
      'image repository slipway/hello',
      'target staging: green service shop-green',
      'target staging: green target group',
      'target staging: health check /health',
      'secret slipway/hello/slack',
    ]);
    assert.match(failed['target staging: green target group']!, /target\.registration/);
    assert.match(failed[`connection ${CONN}`]!, /Update pending connection/);
    assert.match(failed['image repository slipway/hello']!, /slipway:imageRepositories/);
    assert.match(failed['target staging: green service shop-green']!, /slipway:target=staging/);
    assert.match(failed['target staging: health check /health']!, /admit the checker/);
    assert.match(failed['secret slipway/hello/slack']!, /create-secret --name slipway\/hello\/slack/);
    assert.match(formatChecks(checks), /^FAIL connection .*\n {5}fix: /m);
  });

  test('a deploy job naming an unregistered target fails; the local mode checks only the API and targets', async () => {
    const checks = await runDoctor({ api: deps({ targets: [] }).api });
    assert.deepEqual(checks.map((c) => [c.name, c.ok]), [['management API', true], ['pipeline hello: target staging', false]]);
  });

  test('an API it cannot reach is one failed check, not a crash', async () => {
    const checks = await runDoctor({ api: { request: async () => { throw new Error('connect ECONNREFUSED'); } } });
    assert.deepEqual(checks.map((c) => [c.name, c.ok]), [['management API', false]]);
  });
});

describe('GetConnection for doctor', () => {
  test('a signed JSON 1.0 request to the connection\'s own service and region; the status comes back', async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    const seen: Array<{ url: string; headers: Record<string, string>; body: string }> = [];
    const lookup = connectionLookup((async (url: string, init: RequestInit) => {
      seen.push({ url, headers: init.headers as Record<string, string>, body: String(init.body) });
      return new Response(JSON.stringify({ Connection: { ConnectionArn: CONN, ConnectionStatus: 'AVAILABLE' } }), { status: 200 });
    }) as unknown as typeof fetch);
    assert.deepEqual(await lookup(CONN), { status: 'AVAILABLE' });
    assert.equal(seen[0]!.url, 'https://codeconnections.eu-west-1.amazonaws.com/');
    assert.equal(seen[0]!.headers['x-amz-target'], 'CodeConnections_20231201.GetConnection');
    assert.match(seen[0]!.headers.authorization!, /Credential=[^/]+\/\d{8}\/eu-west-1\/codeconnections\/aws4_request/);
    assert.deepEqual(JSON.parse(seen[0]!.body), { ConnectionArn: CONN });
    assert.deepEqual(await lookup('not-an-arn'), { error: 'not a connection ARN: not-an-arn' });
  });
});
