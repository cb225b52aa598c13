/** Which channels one notification fans out to. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, RetryableError } from '../../shared/domain/errors.ts';
import { expand } from '../../shared/notify/notifier.ts';
import { fourJobPipeline } from '../support/engine-fixtures.ts';
import { notificationMessage, notifySetup } from '../support/notify-fixtures.ts';

const slack = { kind: 'slack' as const, secret: 'slipway/web/slack', on: ['run_failed' as const] };
const email = { kind: 'email' as const, topicArn: 'arn:aws:sns:us-east-1:123456789012:web', on: ['run_failed' as const] };

test('a failed run fans out to its commit status and every channel subscribed to run_failed', async () => {
  const { deps } = notifySetup({ tokenSecretName: 'slipway/web/token', notifications: [slack, email, { kind: 'teams', secret: 'slipway/web/teams', on: ['released'] }] });
  assert.deepEqual(await expand(deps, notificationMessage()), [
    { kind: 'status', provider: 'github', repository: 'acme/web', tokenSecretName: 'slipway/web/token' },
    { kind: 'slack', secret: 'slipway/web/slack', event: 'run_failed' },
    { kind: 'email', topicArn: 'arn:aws:sns:us-east-1:123456789012:web', event: 'run_failed' },
  ]);
});

test('a manual run without provider in its trigger uses the pipeline source for the status', async () => {
  const { deps } = notifySetup({ tokenSecretName: 'slipway/web/token' });
  const [status] = await expand(deps, notificationMessage({ trigger: { event: 'manual', branch: 'main', commit: 'abc' } }));
  assert.deepEqual(status, { kind: 'status', provider: 'github', repository: 'acme/web', tokenSecretName: 'slipway/web/token' });
});

test('a definition kept in the repository names the channels at the run commit; an unreadable one falls back to the registered settings', async () => {
  const { deps, pipelines } = notifySetup({ notifications: [email] });
  pipelines.records.get('web')![0].definitionSource = { kind: 'repository', path: '.slipway.yml' };
  const fromRepo = { ...deps, resolveDefinition: async () => fourJobPipeline({ notifications: [slack] }) };
  assert.deepEqual((await expand(fromRepo, notificationMessage())).map((c) => c.kind), ['slack']);
  const missing = { ...deps, resolveDefinition: async () => { throw new NotFoundError('.slipway.yml was not found'); } };
  assert.deepEqual((await expand(missing, notificationMessage())).map((c) => c.kind), ['email']);
  const outage = { ...deps, resolveDefinition: async () => { throw new RetryableError('github answered HTTP 502'); } };
  await assert.rejects(expand(outage, notificationMessage()), RetryableError, 'an outage redelivers the message instead');
});

test("a fork's run is notified on the channels of the target branch's file, never the fork's", async () => {
  const { deps, pipelines } = notifySetup({ notifications: [email] });
  pipelines.records.get('web')![0].definitionSource = { kind: 'repository', path: '.slipway.yml' };
  const reads: string[] = [];
  const files: Record<string, ReturnType<typeof fourJobPipeline>> = { 'base-sha': fourJobPipeline({ notifications: [email] }), 'fork-sha': fourJobPipeline({ notifications: [slack] }) };
  const fromRepo = { ...deps, resolveDefinition: async (_r: unknown, t: { commit: string }) => { reads.push(t.commit); return files[t.commit]; } };
  const fork = { event: 'pull_request' as const, provider: 'github' as const, repository: 'acme/web', branch: 'main', commit: 'fork-sha', pullRequest: 4, trust: 'untrusted' as const, fork: true, baseCommit: 'base-sha' };
  assert.deepEqual((await expand(fromRepo, notificationMessage({ trigger: fork }))).map((c) => c.kind), ['email']);
  assert.deepEqual(reads, ['base-sha']);
});

test('a pipeline deleted since the run leaves nothing to send; a run that failed to plan uses the latest version', async () => {
  const { deps } = notifySetup({ notifications: [slack] });
  assert.deepEqual(await expand(deps, notificationMessage({ pipelineId: 'gone' })), []);
  assert.deepEqual((await expand(deps, notificationMessage({ pipelineVersion: 0 }))).map((c) => c.kind), ['slack']);
});
