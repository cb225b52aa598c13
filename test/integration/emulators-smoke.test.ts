import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../../shared/aws/clients.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';

test('the emulators answer through the real SDK', async () => {
  const cfg = emulatorConfig();
  const ddb = createDocumentClient(cfg);
  const tables = await ddb.send(new ListTablesCommand({}));
  assert.ok(Array.isArray(tables.TableNames));
  const sqs = createSqsClient(cfg);
  const name = `${uniqueName('smoke')}.fifo`;
  const q = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } }));
  await sqs.send(new SendMessageCommand({ QueueUrl: q.QueueUrl, MessageBody: 'hello', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }));
  await sqs.send(new SendMessageCommand({ QueueUrl: q.QueueUrl, MessageBody: 'hello', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }));
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  assert.equal(got.Messages?.length, 1, 'FIFO deduplication drops the second send with the same id');
});
