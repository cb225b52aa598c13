/**
 * What a first deployment into a real account needs from the synthesized stacks, checked the way
 * AWS would: the build role's policies are evaluated with an offline IAM simulator against the very
 * repository and connection the engine's own code would use, and the constructs are synthesized in
 * apps that lack this repository's cdk.json (no feature flags at all, and `cdk init`'s defaults).
 *
 * Handlers are not bundled here (`aws:cdk:bundling-stacks: []`): bundling is the same in every app
 * and engine-stack.test.ts covers it; these tests are about the templates.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cxapi from 'aws-cdk-lib/cx-api';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { parse } from 'yaml';
import { Slipway, SlipwayReleaseTarget, SlipwayStack } from '../../infra/index.ts';
import { SlipwayImageRepository } from '../../infra/constructs/images.ts';
import { engineConfigFromContext } from '../../infra/config.ts';
import { CodeBuildRunner, parseSourceConnections } from '../../shared/aws/codebuild-runner.ts';
import { assertPipeline } from '../../shared/domain/definition.ts';
import { attemptToken } from '../../shared/domain/run-effects.ts';
import { ENV } from '../../shared/config.ts';
import { cdkJsonContext, nagFindings } from './support.ts';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const CONN = `arn:aws:codeconnections:${REGION}:${ACCOUNT}:connection/0f1e2d3c-aaaa-bbbb-cccc-111122223333`;
const OLD_CONN = `arn:aws:codestar-connections:${REGION}:${ACCOUNT}:connection/7a6b5c4d-aaaa-bbbb-cccc-111122223333`;
const STRANGER = `arn:aws:codeconnections:${REGION}:${ACCOUNT}:connection/99999999-aaaa-bbbb-cccc-111122223333`;
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

type Resources = Record<string, { Type: string; Properties: any }>;

/** Fn::Join / Ref / pseudo parameters of a template value, resolved as CloudFormation would in ACCOUNT/REGION. */
function resolve(value: unknown, resources: Resources): any {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => resolve(v, resources));
  if (value && typeof value === 'object') {
    const v = value as Record<string, any>;
    if ('Fn::Join' in v) return (v['Fn::Join'][1] as unknown[]).map((x) => resolve(x, resources)).join(v['Fn::Join'][0]);
    if ('Ref' in v) {
      const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };
      return pseudo[v.Ref] ?? `ref-${v.Ref.toLowerCase()}`;
    }
    if ('Fn::GetAtt' in v) return `arn:aws:getatt:${REGION}:${ACCOUNT}:${([] as string[]).concat(v['Fn::GetAtt']).join('/')}`;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, resources)]));
  }
  return value;
}

/** The identity policies attached to a role of the template, resolved. */
function policiesOf(resources: Resources, roleLogicalIdPrefix: RegExp): Array<{ name: string; policy: any }> {
  const roles = Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::IAM::Role' && roleLogicalIdPrefix.test(id)).map(([id]) => id);
  assert.equal(roles.length, 1, `one role matching ${roleLogicalIdPrefix}: ${roles.join(', ')}`);
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles ?? []).some((x: any) => x.Ref === roles[0]))
    .map(([id, r]) => ({ name: id, policy: resolve(r.Properties.PolicyDocument, resources) }));
}

async function decision(policies: Array<{ name: string; policy: any }>, action: string, resource: string, context: Record<string, string> = {}): Promise<string> {
  const out = await runSimulation(
    {
      identityPolicies: policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: { principal: `arn:aws:iam::${ACCOUNT}:role/slipway`, action, resource: { resource, accountId: ACCOUNT }, contextVariables: context },
    },
    {},
  );
  if (out.resultType === 'error') throw new Error(JSON.stringify(out.errors));
  return out.overallResult;
}

// The stack `npx cdk deploy` creates with this repository's cdk.json, told about two connections.
const app = new App({ context: { ...cdkJsonContext(), ...NO_BUNDLING, 'slipway:sourceConnection': CONN, 'slipway:sourceConnections': OLD_CONN } });
const stack = new SlipwayStack(app, 'Slipway', { env: { account: ACCOUNT, region: REGION }, engine: engineConfigFromContext((k) => app.node.tryGetContext(k)) });
const resources = (Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources;
const engineFn = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && /EngineHandler/.test(id))![1];
const engineEnv = engineFn.Properties.Environment.Variables as Record<string, unknown>;

/** The CodeBuildRunner the engine handler would build from its environment (functions/run-engine.ts). */
function runnerFromTemplate(): CodeBuildRunner {
  return new CodeBuildRunner({} as never, {
    projects: { small: 'p', medium: 'p', large: 'p' },
    artifactBucket: 'artifacts',
    ecrRegistry: resolve(engineEnv[ENV.ecrRegistry], resources),
    ecrRepositoryPrefix: resolve(engineEnv[ENV.ecrRepositoryPrefix], resources),
    sourceConnections: parseSourceConnections(resolve(engineEnv[ENV.sourceConnections], resources)),
  });
}

/** Every image job of the examples, as the engine would start it. */
function exampleImageJobs(): Array<{ file: string; pipeline: ReturnType<typeof assertPipeline>; job: string }> {
  const files = ['examples/service/slipway.yml', ...readdirSync('examples/pipelines').map((f) => `examples/pipelines/${f}`)];
  return files.flatMap((file) => {
    const pipeline = assertPipeline(readFileSync(file, 'utf8'), { filename: file });
    return Object.values(pipeline.jobs).filter((j) => j.kind === 'image').map((j) => ({ file, pipeline, job: j.name }));
  });
}

describe('failure 1: image jobs can push where the build role may push', () => {
  // Image jobs run as the image role (serviceRoleOverride); it alone may push.
  const buildRole = policiesOf(resources, /^SlipwayBuildsImageRole[0-9A-F]{8}$/);

  it('every example image job pushes to a repository the build role may push to', async () => {
    const jobs = exampleImageJobs();
    assert.ok(jobs.length >= 3, 'the examples have image jobs');
    const runner = runnerFromTemplate();
    for (const { file, pipeline, job } of jobs) {
      const input = runner.startBuildInput({
        runId: '01JRUN', pipelineId: pipeline.name, job, attempt: 1, token: attemptToken('01JRUN', job, 1), commit: 'a'.repeat(40),
        repository: pipeline.source.repository, provider: pipeline.source.provider, spec: pipeline.jobs[job]!,
      });
      const pushes = (parse(input.buildspecOverride!) as { phases: { build: { commands: string[] } } }).phases.build.commands
        .map((c) => /^docker push "[^/]+\/(.+):[^:]+"$/.exec(c)?.[1])
        .filter((r): r is string => r !== undefined);
      assert.ok(pushes.length > 0, `${file}: ${job} pushes`);
      for (const repository of pushes) {
        const arn = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${repository}`;
        for (const action of ['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage', 'ecr:BatchCheckLayerAvailability']) {
          assert.equal(await decision(buildRole, action, arn), 'Allowed', `${file}: ${job} ${action} on ${repository}`);
        }
      }
    }
  });

  it('the name as written (without the prefix) is exactly what the build role may not push to', async () => {
    assert.equal(await decision(buildRole, 'ecr:PutImage', `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/hello`), 'ImplicitlyDenied');
    assert.equal(await decision(buildRole, 'ecr:PutImage', `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/slipway/hello`), 'Allowed');
  });

  it('the releaser may tag images in the same repositories the builds push to', async () => {
    const releaser = policiesOf(resources, /^SlipwayReleasesReleaserRole/);
    assert.equal(await decision(releaser, 'ecr:PutImage', `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/slipway/hello`), 'Allowed');
    assert.equal(await decision(releaser, 'ecr:PutImage', `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/hello`), 'ImplicitlyDenied');
  });
});

describe('failure 2: builds check out through exactly the configured connections', () => {
  const buildRole = policiesOf(resources, /^SlipwayBuildsRole[0-9A-F]{8}$/);
  const forkRole = policiesOf(resources, /^SlipwayBuildsForkRole[0-9A-F]{8}$/);
  const engineRole = policiesOf(resources, /^SlipwayEngineHandlerRole/);

  it('StartBuild carries the stack default as CODECONNECTIONS source auth, for GitLab too', () => {
    const runner = runnerFromTemplate();
    const { pipeline, job } = exampleImageJobs()[0]!;
    const input = runner.startBuildInput({
      runId: '01JRUN', pipelineId: pipeline.name, job, attempt: 1, token: attemptToken('01JRUN', job, 1), commit: 'a'.repeat(40),
      repository: 'acme/platform/web', provider: 'gitlab', spec: pipeline.jobs[job]!,
    });
    assert.equal(input.sourceTypeOverride, 'GITLAB');
    assert.deepEqual(input.sourceAuthOverride, { type: 'CODECONNECTIONS', resource: CONN });
  });

  it('the build role may use the two configured connections (each with its own action prefix) and no other', async () => {
    assert.equal(await decision(buildRole, 'codeconnections:GetConnectionToken', CONN), 'Allowed');
    assert.equal(await decision(buildRole, 'codeconnections:UseConnection', CONN), 'Allowed');
    assert.equal(await decision(buildRole, 'codestar-connections:GetConnectionToken', OLD_CONN), 'Allowed');
    assert.equal(await decision(buildRole, 'codeconnections:GetConnectionToken', STRANGER), 'ImplicitlyDenied');
    for (const role of [/^SlipwayBuildsPullRequestRole[0-9A-F]{8}$/, /^SlipwayBuildsImageRole[0-9A-F]{8}$/]) {
      assert.equal(await decision(policiesOf(resources, role), 'codeconnections:GetConnectionToken', CONN), 'Allowed', String(role));
    }
  });

  it('a fork\'s build role may not use any connection (its code could take a token for every repository)', async () => {
    assert.equal(await decision(forkRole, 'codeconnections:GetConnectionToken', CONN), 'ImplicitlyDenied');
    assert.equal(await decision(forkRole, 'codestar-connections:GetConnectionToken', OLD_CONN), 'ImplicitlyDenied');
  });

  it('the engine may pass those connections to CodeBuild only', async () => {
    assert.equal(await decision(engineRole, 'codeconnections:PassConnection', CONN, { 'codeconnections:PassedToService': 'codebuild.amazonaws.com' }), 'Allowed');
    assert.equal(await decision(engineRole, 'codeconnections:PassConnection', CONN, { 'codeconnections:PassedToService': 'codepipeline.amazonaws.com' }), 'ImplicitlyDenied');
    assert.equal(await decision(engineRole, 'codeconnections:PassConnection', STRANGER, { 'codeconnections:PassedToService': 'codebuild.amazonaws.com' }), 'ImplicitlyDenied');
  });

  it('without connections the roles get no connection permission at all', () => {
    const plain = new App({ context: { ...cdkJsonContext(), ...NO_BUNDLING } });
    const s = new SlipwayStack(plain, 'Plain');
    const json = JSON.stringify(Template.fromStack(s).toJSON());
    assert.ok(!/codeconnections|codestar-connections/.test(json));
  });
});

/** A team's app: the engine, a release target in the team's VPC, and an image repository. */
function teamApp(context: Record<string, unknown>): { app: App; stack: Stack; target: SlipwayReleaseTarget } {
  const app = new App({ context: { ...context, ...NO_BUNDLING } });
  Aspects.of(app).add(new AwsSolutionsChecks());
  const stack = new Stack(app, 'Team');
  new Slipway(stack, 'Slipway', {});
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  NagSuppressions.addResourceSuppressions(vpc, [{ id: 'AwsSolutions-VPC7', reason: 'The team\'s own test VPC; flow logs are its choice.' }]);
  const target = new SlipwayReleaseTarget(stack, 'Shop', { name: 'shop', vpc, image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27'), testListenerPort: 9000 });
  new SlipwayImageRepository(stack, 'Images', { repositoryName: 'shop' });
  return { app, stack, target };
}

describe('failure 5: the constructs synthesize, cdk-nag clean, in the team\'s own app', () => {
  for (const [name, context] of [
    ['an app with no feature flags (new App())', {}],
    ['an app with the feature flags `cdk init` writes today', cxapi.CURRENTLY_RECOMMENDED_FLAGS as Record<string, unknown>],
  ] as const) {
    it(name, () => {
      const { stack } = teamApp(context);
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::ECS::Service', 2);
      template.hasResourceProperties('AWS::ECR::Repository', { RepositoryName: 'slipway/shop' });
      assert.deepEqual(nagFindings(stack), { errors: [], warnings: [] });
    });
  }
});
