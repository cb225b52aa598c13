import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AccountLimitExceededException,
  CodeBuildClient,
  CodeBuildServiceException,
  InvalidInputException,
  ResourceNotFoundException,
  StartBuildCommand,
  StopBuildCommand,
} from '@aws-sdk/client-codebuild';
import { parse } from 'yaml';
import { CodeBuildRunner, parseBuildProjects, parseSourceConnections } from '../../shared/aws/codebuild-runner.ts';
import { RetryableError, ValidationError } from '../../shared/domain/errors.ts';
import { attemptToken } from '../../shared/domain/run-effects.ts';
import type { BuildRequest } from '../../shared/ports/index.ts';
import { imageJob, jobSpec } from '../support/engine-fixtures.ts';

const cb = mockClient(CodeBuildClient);
const config = { projects: { small: 'slipway-small', large: 'slipway-large' }, artifactBucket: 'acme-artifacts', ecrRegistry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com' };

function request(overrides: Partial<BuildRequest> = {}): BuildRequest {
  return {
    runId: '01JRUN',
    pipelineId: 'web',
    job: 'build',
    attempt: 1,
    token: attemptToken('01JRUN', 'build', 1),
    commit: 'a'.repeat(40),
    branch: 'main',
    repository: 'acme/web',
    provider: 'github',
    spec: jobSpec('build', { commands: ['make'], timeoutMinutes: 20, buildImage: 'aws/codebuild/amazonlinux-x86_64-standard:5.0' }),
    ...overrides,
  };
}

function sdkError<T extends CodeBuildServiceException>(Ctor: new (o: { message: string; $metadata: object }) => T, message: string, status = 400): T {
  return new Ctor({ message, $metadata: { httpStatusCode: status } });
}

test('a build job starts in the project of its compute class with every override', async () => {
  cb.reset();
  cb.on(StartBuildCommand).resolves({ build: { id: 'slipway-small:1111' } });
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);

  const out = await runner.start(request());

  assert.deepEqual(out, { buildId: 'slipway-small:1111', compute: 'small' });
  const input = cb.commandCalls(StartBuildCommand)[0].args[0].input;
  assert.equal(input.projectName, 'slipway-small');
  assert.equal(input.idempotencyToken, '01JRUN:build:1');
  assert.equal(input.sourceTypeOverride, 'GITHUB');
  assert.equal(input.sourceLocationOverride, 'https://github.com/acme/web.git');
  assert.equal(input.sourceVersion, 'a'.repeat(40));
  assert.equal(input.imageOverride, 'aws/codebuild/amazonlinux-x86_64-standard:5.0');
  assert.equal(input.timeoutInMinutesOverride, 20);
  assert.equal(input.privilegedModeOverride, false);
  assert.deepEqual((parse(input.buildspecOverride!) as { phases: { build: { commands: string[] } } }).phases.build.commands, ['make']);
  assert.deepEqual(Object.fromEntries(input.environmentVariablesOverride!.map((v) => [v.name, v.value])), {
    SLIPWAY_RUN_ID: '01JRUN',
    SLIPWAY_PIPELINE_ID: 'web',
    SLIPWAY_JOB: 'build',
    SLIPWAY_JOB_KIND: 'build',
    SLIPWAY_ATTEMPT: '1',
    SLIPWAY_COMMIT: 'a'.repeat(40),
    SLIPWAY_BRANCH: 'main',
    SLIPWAY_ARTIFACT_BUCKET: 'acme-artifacts',
    SLIPWAY_ARTIFACT_ROOT: 'runs',
    SLIPWAY_TRUST: 'trusted',
  });
  assert.ok(input.environmentVariablesOverride!.every((v) => v.type === 'PLAINTEXT'));
});

test('only image jobs run privileged', async () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  const input = runner.startBuildInput(request({ job: 'image', spec: imageJob('image', { compute: 'large' }) }));
  assert.equal(input.privilegedModeOverride, true);
  assert.equal(input.projectName, 'slipway-large');
  assert.equal(input.imageOverride, undefined, 'no image of its own: the project default (with docker) is used');
});

test('the same attempt always yields the same StartBuild input, so CodeBuild can honour the idempotency token', () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  assert.deepEqual(runner.startBuildInput(request()), runner.startBuildInput(request()));
  assert.notEqual(runner.startBuildInput(request({ attempt: 2, token: attemptToken('01JRUN', 'build', 2) })).idempotencyToken, runner.startBuildInput(request()).idempotencyToken);
});

const CONN = 'arn:aws:codeconnections:eu-west-1:123456789012:connection/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
const OTHER = 'arn:aws:codestar-connections:eu-west-1:123456789012:connection/99999999-aaaa-bbbb-cccc-111122223333';

test('GitLab and Bitbucket repositories are built from their own hosts, through the connection', () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, { ...config, sourceConnections: { default: CONN, allowed: [CONN] } });
  const gl = runner.startBuildInput(request({ provider: 'gitlab', repository: 'acme/platform/web' }));
  assert.equal(gl.sourceTypeOverride, 'GITLAB');
  assert.equal(gl.sourceLocationOverride, 'https://gitlab.com/acme/platform/web.git');
  assert.deepEqual(gl.sourceAuthOverride, { type: 'CODECONNECTIONS', resource: CONN });
  const bb = runner.startBuildInput(request({ provider: 'bitbucket' }));
  assert.equal(bb.sourceTypeOverride, 'BITBUCKET');
  assert.equal(bb.sourceLocationOverride, 'https://bitbucket.org/acme/web.git');
  assert.deepEqual(bb.sourceAuthOverride, { type: 'CODECONNECTIONS', resource: CONN });
});

test('a pipeline\'s own connection wins over the stack default; SourceAuth has the shape the CodeBuild API takes', () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, { ...config, sourceConnections: { default: CONN, allowed: [CONN, OTHER] } });
  const input = runner.startBuildInput(request({ connection: OTHER }));
  // SourceAuth: type (OAUTH | CODECONNECTIONS | SECRETS_MANAGER) and resource, the connection ARN.
  assert.deepEqual(Object.keys(input.sourceAuthOverride!).sort(), ['resource', 'type']);
  assert.deepEqual(input.sourceAuthOverride, { type: 'CODECONNECTIONS', resource: OTHER });
});

test('without any connection a public GitHub repository is cloned anonymously; GitLab is refused with the fix', async () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  assert.equal(runner.startBuildInput(request()).sourceAuthOverride, undefined);
  cb.reset();
  await assert.rejects(runner.start(request({ provider: 'gitlab', repository: 'acme/web' })), (e: unknown) =>
    e instanceof ValidationError && /only through an AWS CodeConnections connection/.test(e.message) && /source\.connection/.test(e.message) && /slipway:sourceConnection/.test(e.message));
  assert.equal(cb.commandCalls(StartBuildCommand).length, 0, 'nothing is started');
});

test('a connection the stack was not told about fails the attempt at once, naming the setting to change', async () => {
  cb.reset();
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, { ...config, sourceConnections: { default: CONN, allowed: [CONN] } });
  await assert.rejects(runner.start(request({ connection: OTHER })), (e: unknown) => e instanceof ValidationError && e.message.includes(OTHER) && /slipway:sourceConnections/.test(e.message));
  assert.equal(cb.commandCalls(StartBuildCommand).length, 0);
});

test('CodeBuild refusing a connection (not AVAILABLE) becomes a permanent error that names the fix', async () => {
  cb.reset();
  cb.on(StartBuildCommand).rejects(sdkError(InvalidInputException, `Connection ${CONN} is not available`));
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, { ...config, sourceConnections: { default: CONN, allowed: [CONN] } });
  await assert.rejects(runner.start(request()), (e: unknown) => e instanceof ValidationError && /must be AVAILABLE/.test(e.message) && /Update pending connection/.test(e.message) && /slipway doctor/.test(e.message));
});

test('a fork\'s build never carries the connection; a GitLab fork cannot be built and says why', () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, { ...config, roles: { release: 'r', pullRequest: 'p', fork: 'f', image: 'i' }, sourceConnections: { default: CONN, allowed: [CONN] } });
  assert.equal(runner.startBuildInput(request({ lane: 'fork' })).sourceAuthOverride, undefined);
  assert.deepEqual(runner.startBuildInput(request({ lane: 'pull-request' })).sourceAuthOverride, { type: 'CODECONNECTIONS', resource: CONN });
  assert.throws(() => runner.startBuildInput(request({ lane: 'fork', provider: 'gitlab' })), (e: unknown) => e instanceof ValidationError && /GitLab forks cannot be built/.test(e.message));
});

test('SLIPWAY_SOURCE_CONNECTIONS is parsed, and a default outside "allowed" is refused', () => {
  assert.deepEqual(parseSourceConnections(undefined), { allowed: [] });
  assert.deepEqual(parseSourceConnections(JSON.stringify({ default: CONN, allowed: [CONN] })), { default: CONN, allowed: [CONN] });
  assert.throws(() => parseSourceConnections(JSON.stringify({ default: OTHER, allowed: [CONN] })), /default must be one of/);
  assert.throws(() => parseSourceConnections('{'), /SLIPWAY_SOURCE_CONNECTIONS is not valid JSON/);
});

test('an image job pushes under the configured prefix, never to the bare name', () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, { ...config, ecrRepositoryPrefix: 'teams/shop' });
  const input = runner.startBuildInput(request({ job: 'image', spec: imageJob('image', { image: { dockerfile: 'Dockerfile', context: '.', repository: 'hello', tags: [] } }) }));
  const commands = (parse(input.buildspecOverride!) as { phases: { build: { commands: string[] } } }).phases.build.commands;
  assert.ok(commands.includes(`docker push "${config.ecrRegistry}/teams/shop/hello:\${SLIPWAY_COMMIT}"`), commands.join('\n'));
});

test('timeouts are clamped to what CodeBuild accepts', () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  assert.equal(runner.startBuildInput(request({ spec: jobSpec('build', { timeoutMinutes: 1 }) })).timeoutInMinutesOverride, 5);
  assert.equal(runner.startBuildInput(request({ spec: jobSpec('build', { timeoutMinutes: 5000 }) })).timeoutInMinutesOverride, 2160);
});

test('a compute class without a project is a permanent error naming the setting', async () => {
  cb.reset();
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  await assert.rejects(runner.start(request({ spec: jobSpec('build', { compute: 'medium' }) })), (e: unknown) => e instanceof ValidationError && /"medium".*SLIPWAY_BUILD_PROJECTS/.test(e.message));
  assert.equal(cb.commandCalls(StartBuildCommand).length, 0);
});

test('throttling, account limits and server errors are retryable; invalid input is not', async () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  const cases: Array<[unknown, new (...a: never[]) => Error]> = [
    [sdkError(AccountLimitExceededException, 'too many concurrent builds'), RetryableError],
    [Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }), RetryableError],
    [Object.assign(new Error('internal'), { name: 'InternalFailure', $metadata: { httpStatusCode: 500 } }), RetryableError],
    [Object.assign(new Error('socket hang up'), { name: 'Error' }), RetryableError],
    [sdkError(InvalidInputException, 'Invalid buildspec'), ValidationError],
    [sdkError(ResourceNotFoundException, 'project not found'), ValidationError],
  ];
  for (const [err, expected] of cases) {
    cb.reset();
    cb.on(StartBuildCommand).rejects(err as Error);
    await assert.rejects(runner.start(request()), (e: unknown) => e instanceof expected && /StartBuild for build \(attempt 1\) of run 01JRUN failed/.test((e as Error).message), String(err));
  }
});

test('stopping a build that already ended is not an error', async () => {
  cb.reset();
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  cb.on(StopBuildCommand).rejects(sdkError(InvalidInputException, 'Build already complete'));
  await runner.stop('slipway-small:1111');
  cb.reset();
  cb.on(StopBuildCommand).resolves({});
  await runner.stop('slipway-small:2222');
  assert.equal(cb.commandCalls(StopBuildCommand)[0].args[0].input.id, 'slipway-small:2222');
});

test('SLIPWAY_BUILD_PROJECTS is parsed with errors that name it', () => {
  assert.deepEqual(parseBuildProjects('{"small":"p-small","large":"p-large"}'), { small: 'p-small', large: 'p-large' });
  assert.throws(() => parseBuildProjects('nope'), /SLIPWAY_BUILD_PROJECTS is not valid JSON/);
  assert.throws(() => parseBuildProjects('{"small":3}'), /SLIPWAY_BUILD_PROJECTS.small/);
});

test("a manual run's parameters reach the build as SLIPWAY_PARAM_ variables", () => {
  const runner = new CodeBuildRunner(cb as unknown as CodeBuildClient, config);
  const input = runner.startBuildInput(request({ parameters: { environment: 'staging', 'dry-run': 'true' } }));
  const env = Object.fromEntries((input.environmentVariablesOverride ?? []).map((v) => [v.name, v.value]));
  assert.equal(env.SLIPWAY_PARAM_ENVIRONMENT, 'staging');
  assert.equal(env.SLIPWAY_PARAM_DRY_RUN, 'true');
  assert.equal(runner.startBuildInput(request()).environmentVariablesOverride?.some((v) => v.name!.startsWith('SLIPWAY_PARAM_')), false);
});

test("each build runs as its lane's role, image jobs as the image role, and a fork never gets another", async () => {
  const { roleFor, parseBuildRoles } = await import('../../shared/aws/codebuild-runner.ts');
  const roles = { release: 'slipway-build', pullRequest: 'slipway-pr', fork: 'slipway-fork', image: 'slipway-image' };
  const runner = new CodeBuildRunner(new CodeBuildClient({ region: 'eu-west-1' }), { ...config, roles });
  const input = (r: Partial<BuildRequest>) => runner.startBuildInput(request(r));
  const env = (i: ReturnType<typeof input>) => Object.fromEntries((i.environmentVariablesOverride ?? []).map((v) => [v.name, v.value]));
  assert.equal(input({}).serviceRoleOverride, 'slipway-build');
  assert.equal(env(input({})).SLIPWAY_ARTIFACT_ROOT, 'runs');
  assert.equal(input({ lane: 'pull-request' }).serviceRoleOverride, 'slipway-pr');
  assert.equal(env(input({ lane: 'pull-request' })).SLIPWAY_ARTIFACT_ROOT, 'pr-runs');
  const fork = input({ lane: 'fork' });
  assert.equal(fork.serviceRoleOverride, 'slipway-fork');
  assert.deepEqual([env(fork).SLIPWAY_ARTIFACT_ROOT, env(fork).SLIPWAY_TRUST], ['fork-runs', 'untrusted']);
  assert.equal(input({ spec: imageJob('image') }).serviceRoleOverride, 'slipway-image');
  assert.throws(() => input({ lane: 'fork', spec: imageJob('image') }), (e: unknown) => e instanceof ValidationError && /never runs image jobs/.test((e as Error).message));
  assert.equal(roleFor(roles, 'pull-request', 'image'), 'slipway-image');
  assert.throws(() => parseBuildRoles('{"release":"a"}'), /SLIPWAY_BUILD_ROLES.pullRequest/);
  // Fail closed: without roles, a pull request's build would run as the release role.
  const unconfigured = new CodeBuildRunner(new CodeBuildClient({ region: 'eu-west-1' }), config);
  assert.throws(() => unconfigured.startBuildInput(request({ lane: 'fork' })), /no build role is configured for fork builds/);
  assert.equal(unconfigured.startBuildInput(request({})).serviceRoleOverride, undefined);
});
