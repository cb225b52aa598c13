/**
 * The queue messages' schemas (shared/ports/messages.ts): what a producer writes parses back
 * whole, and a malformed body is refused naming each problem, as a permanent error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../shared/domain/errors.ts';
import { parseEngineMessage, parseNotificationMessage, parseReleaseMessage, type NotificationMessage, type ReleaseMessage, type RunRequest } from '../../shared/ports/messages.ts';

const trigger = { event: 'push' as const, provider: 'github' as const, repository: 'acme/web', branch: 'main', commit: 'a'.repeat(40) };

test('a run request and an engine event parse back as written, fields the schema does not name included', () => {
  const request: RunRequest = { type: 'RunRequest', id: 'req:api:1', runId: '01JRUN', pipelineId: 'web', trigger, at: '2026-01-01T00:00:00Z' };
  assert.deepEqual(parseEngineMessage(JSON.stringify(request)), request);
  const event = { type: 'BuildStateChanged', id: 'b1', runId: '01JRUN', at: 't', job: 'build', attempt: 1, buildId: 'p:1', state: 'SUCCEEDED', outputs: { a: 'b' } };
  assert.deepEqual(parseEngineMessage(JSON.stringify(event)), event);
});

test('a run request with a pinned version that is not a whole number is refused', () => {
  assert.throws(() => parseEngineMessage(JSON.stringify({ type: 'RunRequest', id: 'x', runId: 'r', pipelineId: 'web', pipelineVersion: 1.5, trigger, at: 't' })), (e: unknown) => e instanceof ValidationError && /pipelineVersion: must be an integer/.test(e.message));
});

test('every release message parses back as written; a malformed one names its problems', () => {
  const messages: ReleaseMessage[] = [
    { type: 'StartRelease', runId: 'R', pipelineId: 'web', job: 'deploy', attempt: 1, token: 'R:deploy:1', target: 'web', image: 'x@sha256:1', deploy: { target: 'web', strategy: 'standard' } as never },
    { type: 'ReleaseStep', target: 'web', releaseId: 'rel', step: 3 },
    { type: 'CancelRelease', runId: 'R', job: 'deploy', target: 'web' },
    { type: 'Rollback', target: 'web', requestedBy: 'ada' },
  ];
  for (const m of messages) assert.deepEqual(parseReleaseMessage(JSON.stringify(m)), m);
  assert.throws(() => parseReleaseMessage(JSON.stringify({ type: 'StartRelease', target: 'web', runId: 'R', pipelineId: 'web', job: 'deploy', attempt: 1, token: 't', image: 'i', deploy: 'standard' })), /deploy: must be an object/);
  assert.throws(() => parseReleaseMessage(JSON.stringify({ type: 'ReleaseStep', target: '', releaseId: 'rel', step: 1 })), (e: unknown) => e instanceof ValidationError && /target: required/.test(e.message));
  assert.throws(() => parseReleaseMessage('nope'), /release message is not JSON/);
});

test('a notification with a channel parses back as written; an unknown channel kind or kind is refused', () => {
  const m: NotificationMessage = {
    type: 'Notification', id: 'R:run_failed', kind: 'run_failed', runId: 'R', pipelineId: 'web', pipelineVersion: 2, status: 'failed', trigger, at: 't',
    channel: { kind: 'slack', secret: 'slipway/web/slack', event: 'run_failed' }, attempt: 1,
  };
  assert.deepEqual(parseNotificationMessage(JSON.stringify(m)), m);
  assert.throws(() => parseNotificationMessage(JSON.stringify({ ...m, channel: { kind: 'pager', secret: 's' } })), (e: unknown) => e instanceof ValidationError && /channel/.test(e.message));
  assert.throws(() => parseNotificationMessage(JSON.stringify({ ...m, kind: 'run_exploded' })), (e: unknown) => e instanceof ValidationError && /kind/.test(e.message));
  assert.throws(() => parseNotificationMessage('[]'), /notification message is not an object/);
});
