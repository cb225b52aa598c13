/**
 * The local mode's queue poller (cli/dev/lambda-shim.ts), as Lambda's event source mapping: batches
 * go to the handler, handled ones are deleted, failed ones come back; a stop ends the loop after the
 * batch in hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { poll } from '../../cli/dev/lambda-shim.ts';

/** An SQS client that answers receives from a script and records what else it is sent. */
function scripted(receives: Array<() => Promise<Array<{ MessageId: string; ReceiptHandle: string; Body: string }>>>) {
  const sent: Array<{ command: string; input: Record<string, unknown> }> = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name;
      if (name === 'ReceiveMessageCommand') {
        const next = receives.shift();
        return { Messages: next ? await next() : [] };
      }
      sent.push({ command: name, input: command.input });
      return {};
    },
  } as unknown as SQSClient;
  return { client, sent };
}

const message = (id: string) => ({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: '{}' });

test('batches go to the handler; handled ones are deleted, failed ones made visible again soon', async () => {
  let alive = true;
  const { client, sent } = scripted([async () => [message('a'), message('b')], async () => { alive = false; return []; }]);
  const handled: string[][] = [];
  await poll(client, 'q', async (msgs) => { handled.push(msgs.map((m) => m.MessageId!)); return ['b']; }, () => alive);
  assert.deepEqual(handled, [['a', 'b']]);
  assert.deepEqual(sent.map((s) => s.command), ['DeleteMessageBatchCommand', 'ChangeMessageVisibilityCommand']);
  assert.deepEqual((sent[0]!.input.Entries as Array<{ ReceiptHandle: string }>).map((e) => e.ReceiptHandle), ['rh-a']);
  assert.equal(sent[1]!.input.ReceiptHandle, 'rh-b');
});

test('a batch a waiting receive brings back as the stop begins is handled, then the poller ends', async () => {
  let alive = true;
  let receives = 0;
  // The stop begins while the receive waits; a release's ReleaseFinished then answers it.
  const { client, sent } = scripted([async () => { receives++; alive = false; return [message('finished')]; }, async () => { receives++; return []; }]);
  const handled: string[] = [];
  await poll(client, 'q', async (msgs) => { handled.push(...msgs.map((m) => m.MessageId!)); return []; }, () => alive);
  assert.deepEqual(handled, ['finished'], 'fauxqs keeps no message over a restart: dropped, it would be lost');
  assert.deepEqual(sent.map((s) => s.command), ['DeleteMessageBatchCommand']);
  assert.equal(receives, 1, 'no receive after the stop');
});
