/**
 * Factories for the notifier's tests: a notification message as the engine sends
 * it, notifier deps over in-memory stores and queues, secrets from a map.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { NotificationSpec, PipelineSpec } from '../../shared/domain/pipeline.ts';
import type { RunState } from '../../shared/domain/run.ts';
import { NotFoundError } from '../../shared/domain/errors.ts';
import type { NotificationMessage } from '../../shared/ports/messages.ts';
import type { NotifierDeps } from '../../shared/notify/notifier.ts';
import type { NotificationQueue, PipelineRecord, SecretSource } from '../../shared/ports/index.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } from './memory-stores.ts';
import { fourJobPipeline } from './engine-fixtures.ts';

export const SHA = '0123456789abcdef0123456789abcdef01234567';
export const NOW = '2026-11-27T01:30:00.000Z';

export function notificationMessage(overrides: Partial<NotificationMessage> = {}): NotificationMessage {
  return {
    type: 'Notification',
    id: `R1:${overrides.kind ?? 'run_failed'}`,
    kind: 'run_failed',
    runId: 'R1',
    pipelineId: 'web',
    pipelineVersion: 1,
    status: 'failed',
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: SHA, message: 'Fix the login page\n\nlonger text', author: 'ada' },
    reason: 'job "test" failed: build failed',
    startedAt: '2026-11-27T01:00:00.000Z',
    finishedAt: '2026-11-27T01:02:05.000Z',
    at: '2026-11-27T01:02:05.000Z',
    ...overrides,
  };
}

export class MapSecrets implements SecretSource {
  readonly reads: string[] = [];
  constructor(readonly values: Record<string, string> = {}) {}
  async get(name: string): Promise<string> {
    this.reads.push(name);
    const v = this.values[name];
    if (v === undefined) throw new NotFoundError(`secret '${name}' does not exist`);
    return v;
  }
}

export class MemoryNotificationQueue implements NotificationQueue {
  readonly sent: Array<{ message: NotificationMessage; delaySeconds: number }> = [];
  async send(messages: NotificationMessage[], delaySeconds = 0): Promise<void> {
    for (const message of messages) this.sent.push({ message: structuredClone(message), delaySeconds });
  }
}

export interface NotifySetup {
  deps: NotifierDeps;
  pipelines: MemoryPipelineStore;
  runs: MemoryRunStore;
  queue: MemoryNotificationQueue;
  events: MemoryEventQueue;
  secrets: MapSecrets;
}

/** A pipeline `web` on github acme/web with the given notifications and token secret. */
export function notifySetup(opts: {
  notifications?: NotificationSpec[];
  tokenSecretName?: string;
  spec?: Partial<PipelineSpec>;
  secrets?: Record<string, string>;
  deps?: Partial<NotifierDeps>;
} = {}): NotifySetup {
  const pipelines = new MemoryPipelineStore();
  const record = pipelines.register('web', fourJobPipeline({ notifications: opts.notifications ?? [], ...opts.spec }));
  if (opts.tokenSecretName) (record as PipelineRecord).tokenSecretName = opts.tokenSecretName;
  pipelines.records.set('web', [record]);
  const runs = new MemoryRunStore();
  const queue = new MemoryNotificationQueue();
  const events = new MemoryEventQueue();
  const secrets = new MapSecrets(opts.secrets);
  const deps: NotifierDeps = {
    pipelines,
    runs,
    queue,
    events,
    secrets,
    sns: { send: async () => { throw new Error('no SNS in this test'); } } as unknown as Pick<SNSClient, 'send'>,
    timeoutMs: 1000,
    quickBackoffMs: () => 1,
    now: () => NOW,
    ...opts.deps,
  };
  return { deps, pipelines, runs, queue, events, secrets };
}

/** A finished run for the run list (run_fixed lookups). */
export function finishedRun(runId: string, status: RunState['status'], branch = 'main'): RunState {
  return {
    runId,
    pipelineId: 'web',
    pipelineVersion: 1,
    concurrency: 'superseded',
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch, commit: SHA },
    status,
    jobs: {},
    plan: {},
    createdAt: `2026-11-27T00:00:0${runId.slice(-1)}.000Z`,
    updatedAt: NOW,
    version: 1,
    appliedEventIds: [],
  };
}
