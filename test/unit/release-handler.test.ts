import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { makeInner, parseReleaseMessage } from '../../functions/releaser.ts';
import { harness, startMessage } from '../support/fake-ecs.ts';

function record(id: string, body: unknown, receiveCount = 1): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123:release-steps',
    awsRegion: 'us-east-1',
  };
}

test('a batch reports only the records that failed, and handles the others', async () => {
  const h = await harness();
  const inner = makeInner(() => h.releaser);
  const event: SQSEvent = {
    Records: [
      record('ok', startMessage()),
      record('garbage', 'not json'),
      record('wrong-shape', { type: 'ReleaseStep', target: 'web' }),
      record('dup', startMessage()),
    ],
  };
  const out = await inner(event);
  assert.deepEqual(out.batchItemFailures.map((f) => f.itemIdentifier), ['garbage', 'wrong-shape']);
  assert.equal((await h.releaser.getTarget('web')).current?.runId, '01RUN');
});

test('a throttled AWS call fails the record so SQS retries it, and the retry replays the saved effects', async () => {
  const h = await harness();
  const inner = makeInner(() => h.releaser);
  h.aws.failNext.set('ecs:UpdateService', 1);
  const first = await inner({ Records: [record('m1', startMessage())] });
  assert.deepEqual(first.batchItemFailures, [{ itemIdentifier: 'm1' }]);
  const again = await inner({ Records: [record('m1', startMessage(), 2)] });
  assert.deepEqual(again.batchItemFailures, []);
  assert.equal(h.aws.callLines().filter((l) => l === 'UpdateService web-green td=web:2 desired=2').length, 2);
  assert.equal(h.aws.callLines().filter((l) => l.startsWith('RegisterTaskDefinition')).length, 1, 'the saved task definition is reused');
  assert.equal(h.queue.pending.length, 1, 'the first poll is scheduled');
});

test('parseReleaseMessage names what is wrong', () => {
  assert.throws(() => parseReleaseMessage('{"type":"Nope","target":"web"}'), /not a release message: Nope for web/);
  assert.equal(parseReleaseMessage(JSON.stringify({ type: 'Rollback', target: 'web', requestedBy: 'al' })).type, 'Rollback');
});

test('records are handled one at a time, in the batch\'s order, and a batch that failed whole is reported record by record', async () => {
  const seen: string[] = [];
  let running = 0;
  const releaser = {
    handle: async (m: { type: string; target: string }) => {
      running++;
      assert.equal(running, 1, 'never two records at once: the target record is the lock');
      seen.push(m.target);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (m.target.startsWith('bad')) throw new Error(`${m.target} failed`);
      return {};
    },
  } as unknown as Parameters<typeof makeInner>[0] extends () => infer R ? R : never;
  const inner = makeInner(() => releaser);
  const rollback = (target: string) => ({ type: 'Rollback', target, requestedBy: 'al' });
  const mixed = await inner({ Records: [record('a', rollback('one')), record('b', rollback('bad-two')), record('c', rollback('three'))] });
  assert.deepEqual(seen, ['one', 'bad-two', 'three']);
  assert.deepEqual(mixed.batchItemFailures, [{ itemIdentifier: 'b' }]);
  const whole = await inner({ Records: [record('d', rollback('bad-1')), record('e', rollback('bad-2'))] });
  assert.deepEqual(whole.batchItemFailures, [{ itemIdentifier: 'd' }, { itemIdentifier: 'e' }]);
});
