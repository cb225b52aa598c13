import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIdFromArn, forwardBuildStateChange, toBuildStateChanged, type BuildStateChangeEvent } from '../../shared/services/build-events.ts';
import { ValidationError } from '../../shared/domain/errors.ts';
import type { EngineMessage } from '../../shared/ports/messages.ts';

const ARN = 'arn:aws:codebuild:eu-west-1:123456789012:build/slipway-small:8745a7a9-c340-456a-9166-edf953571bec';

function stateChange(status: string, opts: { env?: Record<string, string>; phases?: Array<{ 'phase-type': string; 'phase-status'?: string; 'phase-context'?: string[] }>; exported?: Record<string, string> } = {}): BuildStateChangeEvent {
  const env = opts.env ?? { SLIPWAY_RUN_ID: '01JRUN', SLIPWAY_JOB: 'build', SLIPWAY_JOB_KIND: 'build', SLIPWAY_ATTEMPT: '2', SLIPWAY_COMMIT: 'abc' };
  return {
    'detail-type': 'CodeBuild Build State Change',
    source: 'aws.codebuild',
    time: '2026-11-27T01:00:00Z',
    detail: {
      'build-status': status,
      'build-id': ARN,
      'project-name': 'slipway-small',
      'additional-information': {
        environment: { 'environment-variables': Object.entries(env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })) },
        ...(opts.phases ? { phases: opts.phases } : {}),
        ...(opts.exported ? { 'exported-environment-variables': Object.entries(opts.exported).map(([name, value]) => ({ name, value })) } : {}),
      },
    },
  };
}

test('a Slipway build state change becomes BuildStateChanged for its run, job and attempt', async () => {
  const e = await toBuildStateChanged(stateChange('IN_PROGRESS'));
  assert.deepEqual(e, {
    type: 'BuildStateChanged',
    id: 'build:slipway-small:8745a7a9-c340-456a-9166-edf953571bec:IN_PROGRESS',
    runId: '01JRUN',
    at: '2026-11-27T01:00:00Z',
    job: 'build',
    attempt: 2,
    buildId: 'slipway-small:8745a7a9-c340-456a-9166-edf953571bec',
    state: 'IN_PROGRESS',
  });
});

test('the same build and status always yield the same event id, whatever the delivery', async () => {
  const a = await toBuildStateChanged(stateChange('SUCCEEDED'));
  const b = await toBuildStateChanged({ ...stateChange('SUCCEEDED'), time: '2026-11-27T01:00:05Z' });
  assert.equal(a!.id, b!.id);
  assert.notEqual(a!.id, (await toBuildStateChanged(stateChange('FAILED')))!.id);
});

test('the build id from the event ARN matches the id StartBuild returned', () => {
  assert.equal(buildIdFromArn(ARN), 'slipway-small:8745a7a9-c340-456a-9166-edf953571bec');
  assert.equal(buildIdFromArn('slipway-small:1234'), 'slipway-small:1234');
});

test('builds that Slipway did not start are ignored', async () => {
  assert.equal(await toBuildStateChanged(stateChange('SUCCEEDED', { env: { SOMETHING: 'else' } })), undefined);
});

test('a Slipway build without a job or attempt is malformed, not silently ignored', async () => {
  await assert.rejects(toBuildStateChanged(stateChange('SUCCEEDED', { env: { SLIPWAY_RUN_ID: 'r', SLIPWAY_ATTEMPT: 'x' } })), ValidationError);
});

test('a checkout that fails says where to fix the connection', async () => {
  const e = await toBuildStateChanged(stateChange('FAILED', { phases: [
    { 'phase-type': 'SUBMITTED', 'phase-status': 'SUCCEEDED' },
    { 'phase-type': 'DOWNLOAD_SOURCE', 'phase-status': 'CLIENT_ERROR', 'phase-context': ['CLIENT_ERROR: repository not found for primary source and source version abc'] },
  ] }));
  assert.match(e!.reason!, /^DOWNLOAD_SOURCE phase client_error: CLIENT_ERROR: repository not found/);
  assert.match(e!.reason!, /connection .* is AVAILABLE/);
  assert.match(e!.reason!, /app installation on the git host includes this repository/);
});

test('a failed build carries the failing phase and its message as the reason', async () => {
  const e = await toBuildStateChanged(stateChange('FAILED', { phases: [
    { 'phase-type': 'INSTALL', 'phase-status': 'SUCCEEDED' },
    { 'phase-type': 'BUILD', 'phase-status': 'FAILED', 'phase-context': ['COMMAND_EXECUTION_ERROR: Error while executing command: npm test. Reason: exit status 1'] },
  ] }));
  assert.equal(e!.state, 'FAILED');
  assert.equal(e!.reason, 'BUILD phase failed: COMMAND_EXECUTION_ERROR: Error while executing command: npm test. Reason: exit status 1');
});

test('a build that failed by timing out is reported as TIMED_OUT', async () => {
  const e = await toBuildStateChanged(stateChange('FAILED', { phases: [{ 'phase-type': 'BUILD', 'phase-status': 'TIMED_OUT', 'phase-context': [': '] }] }));
  assert.equal(e!.state, 'TIMED_OUT');
  assert.equal(e!.reason, 'BUILD phase timed_out');
});

test('a stopped build is reported as STOPPED', async () => {
  assert.equal((await toBuildStateChanged(stateChange('STOPPED')))!.state, 'STOPPED');
});

test('an image build reports its URI and digest as outputs, read from the build when the event lacks them', async () => {
  const env = { SLIPWAY_RUN_ID: '01JRUN', SLIPWAY_JOB: 'image', SLIPWAY_JOB_KIND: 'image', SLIPWAY_ATTEMPT: '1' };
  const reads: string[] = [];
  const read = async (id: string) => {
    reads.push(id);
    return { imageUri: 'reg/acme/web:abc', imageDigest: 'sha256:ff', CODEBUILD_OTHER: 'x' };
  };
  const e = await toBuildStateChanged(stateChange('SUCCEEDED', { env }), read);
  assert.deepEqual(e!.outputs, { imageUri: 'reg/acme/web:abc', imageDigest: 'sha256:ff' });
  assert.deepEqual(reads, ['slipway-small:8745a7a9-c340-456a-9166-edf953571bec']);

  const inEvent = await toBuildStateChanged(stateChange('SUCCEEDED', { env, exported: { imageUri: 'u', imageDigest: 'd' } }), read);
  assert.deepEqual(inEvent!.outputs, { imageUri: 'u', imageDigest: 'd' });
  assert.equal(reads.length, 1, 'outputs in the event need no extra call');
});

test('build jobs cost no extra call for outputs', async () => {
  const e = await toBuildStateChanged(stateChange('SUCCEEDED'), async () => assert.fail('not an image job'));
  assert.equal(e!.outputs, undefined);
});

test('forwarding puts the event on the engine queue, and nothing for a foreign build', async () => {
  const sent: EngineMessage[] = [];
  const queue = { send: async (m: EngineMessage[]) => void sent.push(...m) };
  await forwardBuildStateChange({ queue }, stateChange('SUCCEEDED'));
  await forwardBuildStateChange({ queue }, stateChange('SUCCEEDED', { env: {} }));
  assert.equal(sent.length, 1);
  assert.equal(sent[0].type, 'BuildStateChanged');
});
