/**
 * The reconciler's handler as the clock of scheduled runs on AWS (issue 16b): the minute rule's
 * `{ kind: 'schedules', time }` fires what came due, over in-memory stores and a fake git host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHandler, type ReconcilerPorts } from '../../functions/reconciler.ts';
import { parsePipeline } from '../../shared/domain/definition.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } from '../support/memory-stores.ts';

const HEAD = 'c'.repeat(40);

const DEFINITION = `
name: web
source: { provider: github, repository: acme/web }
schedules:
  - name: noon
    cron: "0 12 * * *"
    timezone: Europe/London
    branch: main
jobs:
  test: { template: node }
`;

function setup() {
  const parsed = parsePipeline(DEFINITION);
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => p.message).join('; '));
  const pipelines = new MemoryPipelineStore();
  pipelines.register('web', parsed.spec, { tokenSecretName: 'slipway/web/token' });
  const runs = new MemoryRunStore();
  const queue = new MemoryEventQueue();
  const lookups: string[][] = [];
  let builds = 0;
  const ports: ReconcilerPorts = {
    pipelines, runs, events: queue,
    builds: async () => { builds++; return new Map(); },
    schedules: {
      pipelines, runs, queue,
      resolveBranch: async (provider, repository, branch, tokenSecretName) => { lookups.push([provider, repository, branch, String(tokenSecretName)]); return HEAD; },
    },
  };
  const handler = createHandler(() => ports);
  const invoke = (event: unknown) => handler(event, { awsRequestId: 'r', functionName: 'slipway-reconciler' } as never);
  return { queue, lookups, invoke, pipelines, builds: () => builds };
}

test('a schedule due at 12:00 in its time zone fires one run at 12:00:37Z, and the overlapping call at 12:01:41Z sends the same id', async () => {
  // 1 December 2026: London is on GMT, so its 12:00 is 12:00Z.
  const { queue, lookups, invoke, builds } = setup();
  const before = await invoke({ kind: 'schedules', time: '2026-12-01T11:59:12Z' });
  assert.deepEqual('schedules' in before && before.schedules, []);
  assert.equal(queue.sent.length, 0);

  const first = await invoke({ kind: 'schedules', time: '2026-12-01T12:00:37Z' });
  assert.ok('schedules' in first);
  assert.deepEqual(first.schedules.map((f) => [f.pipelineId, f.schedule, f.scheduledTime]), [['web', 'noon', '2026-12-01T12:00:00.000Z']]);
  assert.equal(queue.sent.length, 1);
  const request = queue.sent[0] as RunRequest;
  assert.equal(request.type, 'RunRequest');
  assert.equal(request.id, 'req:schedule:web:noon:2026-12-01T12:00:00.000Z');
  assert.equal(request.trigger.event, 'schedule');
  assert.equal(request.trigger.commit, HEAD);
  assert.deepEqual(lookups, [['github', 'acme/web', 'main', 'slipway/web/token']]);

  // The next minute's call overlaps: it sends the same request id, which the FIFO queue dedupes.
  await invoke({ kind: 'schedules', time: '2026-12-01T12:01:41Z' });
  assert.equal(queue.sent.length, 2);
  assert.equal(queue.sent[1]!.id, request.id);
  assert.equal(queue.size, 1, 'one run request reaches the engine');

  // Three minutes on, 12:00 has left the window.
  const later = await invoke({ kind: 'schedules', time: '2026-12-01T12:03:05Z' });
  assert.ok('schedules' in later);
  assert.deepEqual(later.schedules, []);
  assert.equal(queue.sent.length, 2);
  assert.equal(builds(), 0, 'a schedules call is not a reconcile pass');
});

test('the reconcile rule\'s event and an empty one are a reconcile pass; anything else is refused by name', async () => {
  const { invoke, queue } = setup();
  const pass = await invoke({ version: '0', source: 'aws.events', 'detail-type': 'Scheduled Event', time: '2026-12-01T12:00:00Z', detail: {} });
  assert.ok('sent' in pass && 'pipelines' in pass);
  assert.equal(pass.pipelines, 1);
  assert.ok('sent' in (await invoke({})));
  await assert.rejects(invoke({ kind: 'schedules' }), /schedules event needs an ISO time, got undefined/);
  await assert.rejects(invoke({ kind: 'schedules', time: 'noon' }), /schedules event needs an ISO time, got "noon"/);
  await assert.rejects(invoke({ kind: 'other', time: '2026-12-01T12:00:00Z' }), /not a reconcile pass .* nor a schedules event/);
  await assert.rejects(invoke({ source: 'aws.codebuild', 'detail-type': 'CodeBuild Build State Change' }), /not a reconcile pass/);
  assert.equal(queue.sent.length, 0);
});

test('the minute rule starts nothing for a pipeline disabled through its store, and fires again once it is enabled', async () => {
  const { queue, lookups, invoke, pipelines } = setup();
  await pipelines.setDisabled('web', { by: 'arn:aws:iam::123456789012:user/alice', at: '2026-11-30T09:00:00Z' });
  const off = await invoke({ kind: 'schedules', time: '2026-12-01T12:00:37Z' });
  assert.ok('schedules' in off);
  assert.deepEqual(off.schedules, []);
  assert.equal(queue.sent.length, 0);
  assert.deepEqual(lookups, [], 'the git host is not asked for the branch of a disabled pipeline');

  await pipelines.setDisabled('web', undefined);
  const on = await invoke({ kind: 'schedules', time: '2026-12-02T12:00:37Z' });
  assert.ok('schedules' in on);
  assert.deepEqual(on.schedules.map((f) => f.scheduledTime), ['2026-12-02T12:00:00.000Z']);
  assert.equal(queue.sent.length, 1);
});
