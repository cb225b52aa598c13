import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEngineMessage, processRecords, retrySooner, type QueueRecord } from '../../shared/services/run-engine.ts';
import { ConflictError, RetryableError, ValidationError } from '../../shared/domain/errors.ts';
import type { EngineMessage } from '../../shared/ports/messages.ts';

function record(id: string, group: string, body: object | string): QueueRecord {
  return { messageId: id, body: typeof body === 'string' ? body : JSON.stringify(body), attributes: { MessageGroupId: group } };
}

const event = (id: string, runId: string) => ({ type: 'RunDequeued', id, runId, at: '2026-11-27T01:00:00Z' });

function logger() {
  const lines: Array<{ level: string; message: string; extra: Record<string, unknown> }> = [];
  return {
    lines,
    error: (message: string, extra: Record<string, unknown>) => void lines.push({ level: 'error', message, extra }),
    warn: (message: string, extra: Record<string, unknown>) => void lines.push({ level: 'warn', message, extra }),
  };
}

test('a batch that succeeds reports no failures and handles each group in order', async () => {
  const seen: string[] = [];
  const out = await processRecords(
    [record('m1', 'run#A', event('e1', 'A')), record('m2', 'run#B', event('e2', 'B')), record('m3', 'run#A', event('e3', 'A'))],
    async (m) => void seen.push(m.id),
    logger(),
  );
  assert.deepEqual(out, { batchItemFailures: [] });
  assert.ok(seen.indexOf('e1') < seen.indexOf('e3'));
  assert.equal(seen.length, 3);
});

test('once a record fails, the rest of its group fails unprocessed while other groups go on', async () => {
  const seen: string[] = [];
  const log = logger();
  const out = await processRecords(
    [
      record('m1', 'run#A', event('e1', 'A')),
      record('m2', 'run#A', event('e2', 'A')),
      record('m3', 'run#B', event('e3', 'B')),
      record('m4', 'run#A', event('e4', 'A')),
      record('m5', 'run#B', event('e5', 'B')),
    ],
    async (m: EngineMessage) => {
      if (m.id === 'e2') throw new ConflictError('lost the race 5 times');
      seen.push(m.id);
    },
    log,
  );
  assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm4' }]);
  assert.deepEqual(seen.sort(), ['e1', 'e3', 'e5']);
  assert.equal(log.lines[0].level, 'warn');
  assert.deepEqual(log.lines[0].extra.heldBack, ['m4']);
  assert.equal(log.lines[0].extra.permanent, false);
});

test('a malformed message is a permanent failure: logged as an error with its id and reported, never dropped', async () => {
  const log = logger();
  const out = await processRecords([record('m1', 'run#A', 'not json'), record('m2', 'run#A', event('e2', 'A'))], async () => {}, log);
  assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }]);
  assert.equal(log.lines[0].level, 'error');
  assert.equal(log.lines[0].extra.messageId, 'm1');
  assert.equal(log.lines[0].extra.permanent, true);
});

test('retryable and unknown errors are reported for redelivery', async () => {
  for (const err of [new RetryableError('throttled'), new Error('bug')]) {
    const log = logger();
    const out = await processRecords([record('m1', 'run#A', event('e1', 'A'))], async () => { throw err; }, log);
    assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: 'm1' }]);
    assert.equal(log.lines[0].level, 'warn');
  }
});

test('engine messages are checked before they reach the engine', () => {
  assert.equal(parseEngineMessage(JSON.stringify(event('e1', 'A'))).type, 'RunDequeued');
  // Every event the releaser and the notifier send back is taken (a refused type would block its run's group).
  for (const type of ['ReleaseStarted', 'ReleaseProgressed', 'ReleaseFinished', 'NotificationFailed']) {
    assert.equal(parseEngineMessage(JSON.stringify({ type, id: 'x', runId: 'r', at: '2026-01-01T00:00:00Z', job: 'deploy', attempt: 1, releaseId: 'rel', detail: 'd', outcome: 'succeeded', channel: 'slack', message: 'm' })).type, type);
  }
  assert.throws(() => parseEngineMessage('{'), (e: unknown) => e instanceof ValidationError && /not JSON/.test(e.message));
  assert.throws(() => parseEngineMessage('[]'), /not an object/);
  assert.throws(() => parseEngineMessage(JSON.stringify({ type: 'Nope', id: 'x', runId: 'r', at: 't' })), /unknown message type "Nope"/);
  assert.throws(() => parseEngineMessage(JSON.stringify({ type: 'JobStarted', id: 'x', runId: 'r', at: 't', job: 'a', attempt: '1' })), /attempt: must be an integer/);
  assert.throws(() => parseEngineMessage(JSON.stringify({ type: 'RunRequest', id: 'x', runId: 'r', at: 't', trigger: {} })), /pipelineId: required; trigger.commit: required/);
});

test('a failed run request comes back in seconds, sooner on each receive, while a failed run event keeps the queue\'s timeout', async () => {
  const request = (runId: string) => ({ type: 'RunRequest', id: `req:${runId}`, runId, pipelineId: 'web', at: '2026-11-27T01:00:00Z', trigger: { commit: 'c' } });
  const records: QueueRecord[] = [
    { ...record('m1', 'pipeline#web', request('R1')), receiptHandle: 'h1', attributes: { MessageGroupId: 'pipeline#web', ApproximateReceiveCount: '1' } },
    { ...record('m2', 'pipeline#api', request('R2')), receiptHandle: 'h2', attributes: { MessageGroupId: 'pipeline#api', ApproximateReceiveCount: '3' } },
    { ...record('m3', 'run#A', event('e3', 'A')), receiptHandle: 'h3', attributes: { MessageGroupId: 'run#A', ApproximateReceiveCount: '1' } },
    { ...record('m4', 'pipeline#ok', request('R4')), receiptHandle: 'h4', attributes: { MessageGroupId: 'pipeline#ok', ApproximateReceiveCount: '1' } },
  ];
  const log = logger();
  const out = await processRecords(records, async (m) => {
    if (m.id !== 'req:R4') throw new RetryableError('DynamoDB: ThrottlingException');
  }, log);
  const asked: Array<{ receiptHandle: string; seconds: number }> = [];
  await retrySooner({ send: async () => {}, retryAfter: async (m) => void asked.push(...m) }, records, out, log);
  assert.deepEqual(asked, [{ receiptHandle: 'h1', seconds: 15 }, { receiptHandle: 'h2', seconds: 60 }]);

  // A queue that cannot change visibility leaves the failures as they are: logged, never thrown.
  await retrySooner({ send: async () => {}, retryAfter: async () => { throw new RetryableError('SQS down'); } }, records, out, log);
  assert.match(log.lines.at(-1)!.message, /could not shorten/);
});
