import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchLogsClient, GetLogEventsCommand, InvalidParameterException, ResourceNotFoundException, ServiceUnavailableException } from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchLogReader } from '../../shared/aws/log-reader.ts';
import { RetryableError, ValidationError } from '../../shared/domain/errors.ts';

const logs = mockClient(CloudWatchLogsClient);
const BUILD = 'slipway-small:0b1c2d3e-aaaa-bbbb-cccc-1234567890ab';
const reader = new CloudWatchLogReader(new CloudWatchLogsClient({ region: 'us-east-1' }), { logGroupName: '/slipway/builds' });

beforeEach(() => logs.reset());

test("reads the build's stream from the head, named by the uuid of the build id", async () => {
  logs.on(GetLogEventsCommand).resolves({ events: [{ timestamp: Date.UTC(2026, 0, 1), message: 'npm ci\n' }], nextForwardToken: 'f/1' });
  const page = await reader.read(BUILD, { limit: 10 });
  assert.deepEqual(page, { events: [{ timestamp: '2026-01-01T00:00:00.000Z', message: 'npm ci' }], cursor: 'f/1' });
  const input = logs.commandCalls(GetLogEventsCommand)[0].args[0].input;
  assert.deepEqual(input, { logGroupName: '/slipway/builds', logStreamName: '0b1c2d3e-aaaa-bbbb-cccc-1234567890ab', startFromHead: true, limit: 10 });
});

test('the cursor is passed back to CloudWatch untouched', async () => {
  logs.on(GetLogEventsCommand).resolves({ events: [], nextForwardToken: 'f/2' });
  await reader.read(BUILD, { cursor: 'f/1' });
  assert.equal(logs.commandCalls(GetLogEventsCommand)[0].args[0].input.nextToken, 'f/1');
});

test('a stream prefix is put in front of the uuid', () => {
  const prefixed = new CloudWatchLogReader(new CloudWatchLogsClient({ region: 'us-east-1' }), { logGroupName: 'g', streamPrefix: 'builds/' });
  assert.equal(prefixed.streamName(BUILD), 'builds/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab');
});

test('a build that has not written its stream yet has an empty log', async () => {
  logs.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: {} }));
  assert.deepEqual(await reader.read(BUILD), { events: [] });
});

test('a cursor CloudWatch does not know is a validation error on the cursor', async () => {
  logs.on(GetLogEventsCommand).rejects(new InvalidParameterException({ message: 'bad token', $metadata: {} }));
  await assert.rejects(reader.read(BUILD, { cursor: 'junk' }), (err: unknown) => err instanceof ValidationError && err.problems[0].path === 'cursor');
});

test('an unavailable service is retryable', async () => {
  logs.on(GetLogEventsCommand).rejects(new ServiceUnavailableException({ message: 'down', $metadata: {} }));
  await assert.rejects(reader.read(BUILD), RetryableError);
});
