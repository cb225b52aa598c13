/**
 * Compute per job: which builds `auto` puts on Lambda compute, what a forced choice may not do, and
 * the StartBuild input each compute produces, checked against the CodeBuild API model's enums.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { CodeBuildClient, ComputeType, EnvironmentType, ListBuildsForProjectCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { parse } from 'yaml';
import { chooseCompute, computeLabel, describeCompute, LAMBDA_IMAGES } from '../../shared/domain/compute.ts';
import { parsePipeline } from '../../shared/domain/definition.ts';
import { TEMPLATE_NAMES, type TemplateName } from '../../shared/domain/pipeline.ts';
import { TEMPLATES } from '../../shared/domain/templates.ts';
import { CodeBuildRunner } from '../../shared/aws/codebuild-runner.ts';
import { ValidationError } from '../../shared/domain/errors.ts';
import type { BuildRequest } from '../../shared/ports/index.ts';
import { jobSpec, imageJob } from '../support/engine-fixtures.ts';

const subject = (template: TemplateName, over: Record<string, unknown> = {}) => ({
  kind: 'build' as const, template, install: [...TEMPLATES[template].install], commands: [...TEMPLATES[template].commands], ...over,
});

describe('compute: auto', () => {
  const expected: Record<TemplateName, 'lambda' | 'small'> = {
    node: 'lambda', python: 'lambda', go: 'lambda', 'java-gradle': 'lambda',
    java: 'lambda', // the corretto21 Lambda image installs Maven 3.9.4 (its Dockerfile; the guide's tool list omits it)
    php: 'small', cpp: 'small', // no PHP or CMake/compilers in Lambda compute's images
  };
  for (const template of TEMPLATE_NAMES) {
    it(`runs a ${template} build job on ${expected[template]}`, () => {
      const d = chooseCompute('auto', undefined, subject(template));
      assert.ok(d.ok);
      assert.equal(d.compute, expected[template]);
    });
  }

  it('never puts an image job on Lambda compute (docker build needs privileged mode)', () => {
    const d = chooseCompute(undefined, undefined, { kind: 'image', install: [], commands: [] });
    assert.ok(d.ok);
    assert.equal(d.compute, 'small');
  });

  const blocked: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a timeout over 15 minutes', { timeoutMinutes: 30 }, /timeout \(30 minutes\)/],
    ['docker in its commands', { commands: ['docker compose up -d', 'npm test'] }, /Docker/],
    ['a root-only package manager', { install: ['sudo yum install -y jq'] }, /root/],
    ['a custom image', { customImage: 'public.ecr.aws/docker/library/node:22' }, /custom image/],
  ];
  for (const [what, over, reason] of blocked) {
    it(`keeps a node job with ${what} on EC2, saying why`, () => {
      const d = chooseCompute('auto', undefined, subject('node', over));
      assert.ok(d.ok);
      assert.equal(d.compute, 'small');
      assert.match(d.why, reason);
    });
  }

  it('a word that merely contains "docker" is no docker command', () => {
    const d = chooseCompute('auto', undefined, subject('node', { commands: ['npm run test:dockerless'] }));
    assert.ok(d.ok && d.compute === 'lambda');
  });
});

describe('forced compute', () => {
  it('small, medium and large are taken as asked, whatever Lambda could do', () => {
    for (const c of ['small', 'medium', 'large'] as const) {
      const d = chooseCompute(c, undefined, subject('node'));
      assert.ok(d.ok && d.compute === c);
    }
  });

  it('a fleet runs on EC2 reserved capacity and is recorded as "fleet"', () => {
    const d = chooseCompute(undefined, 'reserved-x86', subject('node'));
    assert.ok(d.ok);
    assert.equal(d.fleet, 'reserved-x86');
    assert.equal(computeLabel({ compute: d.compute, fleet: d.fleet }), 'fleet');
    assert.equal(describeCompute('fleet', { fleet: 'reserved-x86' }), 'fleet reserved-x86');
  });

  const pipeline = (job: string) => `name: web\nsource: { provider: github, repository: acme/web }\njobs:\n  test:\n${job}`;

  it('a job forced onto Lambda that cannot run there is a definition error naming each reason', () => {
    const parsed = parsePipeline(pipeline('    template: php\n    compute: lambda\n    timeout: 30m\n'));
    assert.equal(parsed.ok, false);
    const problem = parsed.ok ? undefined : parsed.problems.find((p) => p.path === 'jobs.test.compute');
    assert.ok(problem, JSON.stringify(parsed));
    assert.match(problem.message, /no php toolchain/);
    assert.match(problem.message, /timeout \(30 minutes\)/);
    assert.match(problem.message, /Limitations of AWS Lambda compute/);
  });

  it('an image job forced onto Lambda, or a fleet beside compute: lambda, is refused', () => {
    const image = parsePipeline(pipeline('    kind: image\n    compute: lambda\n    docker: { repository: web }\n'));
    assert.ok(!image.ok && image.problems.some((p) => p.path === 'jobs.test.compute' && /privileged/.test(p.message)));
    const both = parsePipeline(pipeline('    template: node\n    compute: lambda\n    fleet: reserved-x86\n'));
    assert.ok(!both.ok && both.problems.some((p) => p.path === 'jobs.test.compute' && /fleet is EC2 reserved capacity/.test(p.message)));
  });

  it('a forced Lambda job keeps a timeout of at most 15 minutes; auto with no timeout gets 15', () => {
    const parsed = parsePipeline(pipeline('    template: node\n    compute: lambda\n    timeout: 10m\n'));
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.spec.jobs.test.compute, 'lambda');
    assert.equal(parsed.spec.jobs.test.timeoutMinutes, 10);
    const auto = parsePipeline(pipeline('    template: python\n'));
    assert.ok(auto.ok);
    assert.equal(auto.spec.jobs.test.compute, 'lambda');
    assert.equal(auto.spec.jobs.test.timeoutMinutes, 15);
    const long = parsePipeline(pipeline('    template: python\n    timeout: 45m\n'));
    assert.ok(long.ok);
    assert.equal(long.spec.jobs.test.compute, 'small');
    assert.equal(long.spec.jobs.test.timeoutMinutes, 45);
  });
});

describe('StartBuild per compute', () => {
  const cb = mockClient(CodeBuildClient);
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, {
    projects: { lambda: 'slipway-lambda', small: 'slipway-small', large: 'slipway-large' },
    fleets: { 'reserved-x86': 'arn:aws:codebuild:eu-west-1:123456789012:fleet/reserved-x86:0f1e2d3c' },
    artifactBucket: 'acme-artifacts',
    ecrRegistry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
  });
  const request = (spec: BuildRequest['spec']): BuildRequest => ({
    runId: 'R', pipelineId: 'web', job: spec.name, attempt: 1, token: 'R:test:1', commit: 'a'.repeat(40), branch: 'main', repository: 'acme/web', provider: 'github', spec,
    cache: { branch: 'main', fallback: 'main', write: true },
  });
  const environmentTypes = Object.values(EnvironmentType) as string[];
  const computeTypes = Object.values(ComputeType) as string[];

  it('Lambda compute: LINUX_LAMBDA_CONTAINER, a BUILD_LAMBDA_ type, the template\'s Lambda image; no timeout, no privileged mode, no runtime-versions or CodeBuild cache', () => {
    const input = runner.startBuildInput(request(jobSpec('test', { template: 'node', compute: 'lambda', timeoutMinutes: 15, cache: ['/root/.npm/**/*'], buildImage: TEMPLATES.node.image })));
    assert.equal(input.projectName, 'slipway-lambda');
    assert.equal(input.environmentTypeOverride, 'LINUX_LAMBDA_CONTAINER');
    assert.ok(environmentTypes.includes(input.environmentTypeOverride!));
    assert.ok(computeTypes.includes(input.computeTypeOverride!) && input.computeTypeOverride!.startsWith('BUILD_LAMBDA_'));
    assert.equal(input.imageOverride, LAMBDA_IMAGES.node);
    assert.equal(input.timeoutInMinutesOverride, undefined);
    assert.equal(input.privilegedModeOverride, undefined);
    assert.equal(input.fleetOverride, undefined);
    const buildspec = parse(input.buildspecOverride!) as { cache?: unknown; phases: { install: { 'runtime-versions'?: unknown; commands: string[] } } };
    assert.equal(buildspec.cache, undefined);
    assert.equal(buildspec.phases.install['runtime-versions'], undefined);
    assert.ok(buildspec.phases.install.commands.some((c) => c.includes('SLIPWAY_CACHE_DIR')), 'the S3 dependency cache works on Lambda compute');
  });

  it('EC2 compute: LINUX_CONTAINER with the class\'s BUILD_GENERAL1_ type, its timeout and privileged mode for image jobs', () => {
    const build = runner.startBuildInput(request(jobSpec('test', { compute: 'large', commands: ['make'], timeoutMinutes: 30 })));
    assert.equal(build.projectName, 'slipway-large');
    assert.equal(build.environmentTypeOverride, 'LINUX_CONTAINER');
    assert.equal(build.computeTypeOverride, 'BUILD_GENERAL1_LARGE');
    assert.ok(environmentTypes.includes(build.environmentTypeOverride!) && computeTypes.includes(build.computeTypeOverride!));
    assert.equal(build.timeoutInMinutesOverride, 30);
    const image = runner.startBuildInput(request(imageJob('image')));
    assert.equal(image.computeTypeOverride, 'BUILD_GENERAL1_SMALL');
    assert.equal(image.privilegedModeOverride, true);
  });

  it('a fleet: fleetOverride with the fleet\'s ARN and no environment or compute type (the fleet fixes them)', () => {
    const input = runner.startBuildInput(request(jobSpec('test', { compute: 'small', fleet: 'reserved-x86', commands: ['make'] })));
    assert.deepEqual(input.fleetOverride, { fleetArn: 'arn:aws:codebuild:eu-west-1:123456789012:fleet/reserved-x86:0f1e2d3c' });
    assert.equal(input.environmentTypeOverride, undefined);
    assert.equal(input.computeTypeOverride, undefined);
    assert.equal(input.projectName, 'slipway-small');
  });

  it('a fleet the stack does not have is a permanent error naming the setting', () => {
    assert.throws(() => runner.startBuildInput(request(jobSpec('test', { fleet: 'gpu', commands: ['make'] }))), (e: unknown) => e instanceof ValidationError && /fleet "gpu".*SLIPWAY_BUILD_FLEETS: reserved-x86/.test(e.message));
  });

  it('auto on a stack without a Lambda-compute project (lambdaCompute: false) runs on EC2 small; a forced lambda is still refused', async () => {
    const pipeline = (job: string) => `name: web\nsource: { provider: github, repository: acme/web }\njobs:\n  test:\n${job}`;
    const noLambda = new CodeBuildRunner(cb as unknown as CodeBuildClient, { projects: { small: 'slipway-small', large: 'slipway-large' }, artifactBucket: 'acme-artifacts' });
    const auto = parsePipeline(pipeline('    template: node\n'));
    assert.ok(auto.ok, JSON.stringify(auto));
    assert.equal(auto.spec.jobs.test.compute, 'lambda');
    const input = noLambda.startBuildInput(request(auto.spec.jobs.test));
    assert.equal(input.projectName, 'slipway-small');
    assert.equal(input.environmentTypeOverride, 'LINUX_CONTAINER');
    assert.equal(input.computeTypeOverride, 'BUILD_GENERAL1_SMALL');
    assert.equal(input.timeoutInMinutesOverride, 60, 'on EC2 the default timeout again, not Lambda\'s 15 minutes');
    const buildspec = parse(input.buildspecOverride!) as { phases: { install: { 'runtime-versions'?: Record<string, string> } } };
    assert.ok(buildspec.phases.install['runtime-versions']?.nodejs, 'on EC2 the buildspec names the runtime again');
    cb.reset();
    cb.on(StartBuildCommand).resolves({ build: { id: 'slipway-small:7' } });
    assert.deepEqual(await noLambda.start(request(auto.spec.jobs.test)), { buildId: 'slipway-small:7', compute: 'small' });
    // A replayed start looks for the build in the project it was started in.
    cb.on(ListBuildsForProjectCommand).resolves({ ids: [] });
    assert.equal(await noLambda.find(request(auto.spec.jobs.test), new Date(0)), undefined);
    assert.deepEqual(cb.commandCalls(ListBuildsForProjectCommand).map((c) => c.args[0].input.projectName), ['slipway-small']);
    // With a Lambda project the same job goes there.
    assert.equal(runner.startBuildInput(request(auto.spec.jobs.test)).projectName, 'slipway-lambda');
    const forced = parsePipeline(pipeline('    template: node\n    compute: lambda\n'));
    assert.ok(forced.ok);
    assert.throws(() => noLambda.startBuildInput(request(forced.spec.jobs.test)), (e: unknown) => e instanceof ValidationError && /no CodeBuild project is configured for compute "lambda"/.test(e.message));
  });

  it('a started build reports the compute it runs on, and a fork never gets to write the shared cache', async () => {
    cb.reset();
    cb.on(StartBuildCommand).resolves({ build: { id: 'slipway-lambda:1' } });
    const out = await runner.start(request(jobSpec('test', { template: 'node', compute: 'lambda', timeoutMinutes: 15 })));
    assert.deepEqual(out, { buildId: 'slipway-lambda:1', compute: 'lambda' });
    const env = (r: BuildRequest) => Object.fromEntries(runner.startBuildInput(r).environmentVariablesOverride!.map((v) => [v.name, v.value]));
    const own = request(jobSpec('test', { template: 'node', compute: 'small' }));
    assert.equal(env(own).SLIPWAY_CACHE_WRITE, '1');
    const fork = { ...own, lane: 'fork' as const };
    const r2 = new CodeBuildRunner(cb as unknown as CodeBuildClient, { projects: { small: 's' }, artifactBucket: 'b', roles: { release: 'r', pullRequest: 'p', fork: 'f', image: 'i' } });
    assert.equal(Object.fromEntries(r2.startBuildInput(fork).environmentVariablesOverride!.map((v) => [v.name, v.value])).SLIPWAY_CACHE_WRITE, '0');
  });
});
