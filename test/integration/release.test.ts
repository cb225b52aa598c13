import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../../shared/aws/clients.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { DynamoTargetStore } from '../../shared/aws/target-store.ts';
import { SqsReleaseQueue } from '../../shared/aws/release-queue.ts';
import { Releaser } from '../../shared/services/releaser.ts';
import { ConflictError, NotFoundError } from '../../shared/domain/errors.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { FakeAws, FakeEventQueue, FakeReleaseQueue, startMessage, targetConfig, withSave } from '../support/fake-ecs.ts';

describe('target store on DynamoDB Local', () => {
  const cfg = emulatorConfig();
  const ddb = createDocumentClient(cfg);
  const table = uniqueName('release');
  before(async () => {
    await ensureTable(ddb, table);
  });

  test('a target is created once, read back whole, and saved only on the version it was read at', async () => {
    const store = new DynamoTargetStore(ddb, table);
    const created = await store.create(targetConfig({ name: 'svc-a' }), '2026-01-01T00:00:00.000Z');
    await assert.rejects(store.create(targetConfig({ name: 'svc-a' }), '2026-01-01T00:00:00.000Z'), ConflictError);
    const got = await store.get('svc-a');
    assert.deepEqual(got, created);
    const saved = await store.save({ ...got, liveColour: 'green', weights: { blue: 0, green: 100 } }, got.version);
    assert.equal(saved.version, got.version + 1);
    await assert.rejects(store.save({ ...got, liveColour: 'blue' }, got.version), /changed since version/);
    assert.equal((await store.get('svc-a')).liveColour, 'green');
    await assert.rejects(store.get('nope'), NotFoundError);
  });

  test('two releases for one target at the same time: one holds the lock, the other waits its turn', async () => {
    const aws = new FakeAws();
    aws.alarms.set('web-5xx', 'OK');
    const store = new DynamoTargetStore(ddb, table);
    const queue = new FakeReleaseQueue(aws);
    const events = new FakeEventQueue();
    const mk = () => new Releaser({ targets: store, actions: aws.adapter(), releaseQueue: queue, events, now: () => new Date(aws.now) });
    const [r1, r2] = [mk(), mk()];
    await store.create(targetConfig({ name: 'web' }), new Date(aws.now).toISOString());
    const a = startMessage();
    const b = startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3' });
    await Promise.all([r1.handle(a), r2.handle(b)]);
    const view = await r1.getTarget('web');
    assert.ok(view.current, 'one release holds the target');
    assert.equal(view.waiting.length, 1, 'the other waits');
    assert.notEqual(view.current.releaseId, view.waiting[0].releaseId);
    assert.equal(aws.callLines().filter((l) => l.startsWith('RegisterTaskDefinition')).length, 1);

    // Drive both to the end through the real store: the waiting one starts when the first finishes.
    for (let n = 0; n < 500; n++) {
      const next = queue.take();
      if (!next) break;
      aws.now = Math.max(aws.now, next.due);
      await (n % 2 ? r1 : r2).handle(next.message);
    }
    const outcomes = events.finished().map((f) => f.outcome);
    assert.deepEqual(outcomes, ['succeeded', 'succeeded']);
    const end = await r1.getTarget('web');
    assert.equal(end.current, undefined);
    assert.equal(end.waiting.length, 0);
    assert.equal(end.liveColour, 'blue', 'two releases: green, then back to blue');
    assert.deepEqual(aws.violations, []);
  });
  test('a write whose answer was lost is known by the state DynamoDB gives back, and the release goes on', async () => {
    const aws = new FakeAws();
    aws.alarms.set('web-5xx', 'OK');
    const dynamo = new DynamoTargetStore(ddb, table);
    // Every write is made; the answers of some are lost, as when the SDK's retry finds the first attempt's write.
    let lost = 0;
    const store = withSave(dynamo, async (state, expected) => {
      const saved = await dynamo.save(state, expected);
      if (lost < 5 && expected % 3 === 0) {
        lost += 1;
        throw new ConflictError(`target ${state.name} changed since version ${expected}`);
      }
      return saved;
    });
    const queue = new FakeReleaseQueue(aws);
    const events = new FakeEventQueue();
    const releaser = new Releaser({ targets: store, actions: aws.adapter(), releaseQueue: queue, events, now: () => new Date(aws.now), maxAttempts: 1 });
    await dynamo.create(targetConfig({ name: 'lost-answers' }), new Date(aws.now).toISOString());
    await releaser.handle(startMessage({ target: 'lost-answers', deploy: { ...startMessage().deploy, target: 'lost-answers' } }));
    for (let next = queue.take(); next; next = queue.take()) {
      aws.now = Math.max(aws.now, next.due);
      await releaser.handle(next.message);
    }
    assert.equal(lost, 5);
    assert.deepEqual(events.finished().map((f) => f.outcome), ['succeeded']);
    assert.equal((await dynamo.get('lost-answers')).current, undefined);
  });
});

describe('release queue on fauxqs', () => {
  test('a release message goes out as JSON on the standard queue', async () => {
    const sqs = createSqsClient(emulatorConfig());
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('release-steps') }));
    const queue = new SqsReleaseQueue(sqs, QueueUrl!);
    await queue.send({ type: 'ReleaseStep', target: 'web', releaseId: 'r:d:1', step: 3 }, 0);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }));
    assert.equal(got.Messages?.length, 1);
    assert.deepEqual(JSON.parse(got.Messages![0].Body!), { type: 'ReleaseStep', target: 'web', releaseId: 'r:d:1', step: 3 });
  });

  test('a delayed message is not delivered before its delay', async () => {
    const sqs = createSqsClient(emulatorConfig());
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('release-steps') }));
    const queue = new SqsReleaseQueue(sqs, QueueUrl!);
    await queue.send({ type: 'ReleaseStep', target: 'web', releaseId: 'r:d:1', step: 4 }, 2);
    const early = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    assert.equal(early.Messages?.length ?? 0, 0);
    const later = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
    assert.equal(later.Messages?.length, 1);
  });
});
