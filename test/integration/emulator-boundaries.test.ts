/**
 * The emulators the local mode keeps its state in behave as the services do where it matters,
 * and answer this machine's programs only: loopback, no browser page, no rebound host name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CreateTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../../shared/aws/clients.ts';
import { startEmulators } from '../../cli/dev/emulators.mjs';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';

/** Local addresses of the sockets listening on `port` (Linux: /proc/net/tcp and tcp6, hex). */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // st 0A is LISTEN
      if (cols.length > 3 && cols[3] === '0A' && cols[1]!.endsWith(`:${hexPort}`)) out.push(cols[1]!.split(':')[0]!);
    }
  }
  return out;
}

/** IPv4 127.0.0.0/8 (little-endian hex), ::1, or ::ffff:127.x.x.x. */
function isLoopback(hex: string): boolean {
  if (hex.length === 8) return hex.endsWith('7F');
  if (hex === '00000000000000000000000001000000') return true;
  return hex.startsWith('0000000000000000FFFF0000') && hex.endsWith('7F');
}

function request(endpoint: string, headers: Record<string, string>, body: string): Promise<number> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: '/', method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const emulators = (): Array<{ name: string; endpoint: string; headers: Record<string, string> }> => {
  const cfg = emulatorConfig();
  return [
    // DynamoDB Local wants a signature's shape (it checks no signature).
    { name: 'DynamoDB Local', endpoint: cfg.dynamoEndpoint!, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables', 'x-amz-date': '20261130T000000Z', authorization: 'AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000' } },
    { name: 'fauxqs', endpoint: cfg.awsEndpoint!, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' } },
  ];
};

test('both emulators listen on loopback only', { skip: process.platform !== 'linux' && 'reads /proc/net' }, () => {
  for (const e of emulators()) {
    const found = listeners(Number(new URL(e.endpoint).port));
    assert.ok(found.length > 0, `${e.name}: a listening socket on ${e.endpoint}`);
    assert.deepEqual(found.filter((a) => !isLoopback(a)), [], `${e.name} listens on loopback only`);
  }
});

test('both emulators refuse what a browser page sends (an Origin header) and a host name rebound to loopback', async () => {
  for (const e of emulators()) {
    const port = new URL(e.endpoint).port;
    assert.equal(await request(e.endpoint, { ...e.headers, host: `127.0.0.1:${port}` }, '{}'), 200, `${e.name} answers this machine's SDK`);
    assert.equal(await request(e.endpoint, { ...e.headers, host: `localhost:${port}` }, '{}'), 200, `${e.name} answers localhost`);
    assert.equal(await request(e.endpoint, { ...e.headers, host: `127.0.0.1:${port}`, origin: 'https://attacker.example' }, '{}'), 403, `${e.name} refuses a page's request`);
    assert.equal(await request(e.endpoint, { ...e.headers, host: `attacker.example:${port}` }, '{}'), 403, `${e.name} refuses a rebound host name`);
  }
});

test('a FIFO receive returns as many messages of a group as it can, in order, and returned messages keep that order', async () => {
  const sqs = createSqsClient(emulatorConfig());
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('fifo')}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }));
  const send = (entries: Array<[string, string]>) => sqs.send(new SendMessageBatchCommand({
    QueueUrl, Entries: entries.map(([group, body], i) => ({ Id: String(i), MessageBody: body, MessageGroupId: group, MessageDeduplicationId: `${body}-${Date.now()}` })),
  }));
  const receive = async (visibility?: number): Promise<Message[]> => (await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, ...(visibility !== undefined ? { VisibilityTimeout: visibility } : {}) }))).Messages ?? [];
  const bodies = (ms: Message[], prefix: string) => ms.map((m) => m.Body!).filter((b) => b.startsWith(prefix));

  await send([['a', 'a1'], ['b', 'b1'], ['a', 'a2'], ['a', 'a3'], ['b', 'b2']]);
  const first = await receive();
  assert.deepEqual(bodies(first, 'a'), ['a1', 'a2', 'a3'], 'all of group a, in order');
  assert.deepEqual(bodies(first, 'b'), ['b1', 'b2']);
  assert.deepEqual(await receive(), [], 'groups with messages in flight deliver nothing more');

  // Group a's messages made visible again one after another (as a consumer hands back a failed batch): the order holds.
  for (const m of first.filter((x) => x.Body!.startsWith('a'))) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
  const again = await receive(1);
  assert.deepEqual(bodies(again, 'a'), ['a1', 'a2', 'a3'], 'returned in send order');

  // Their visibility timeout ends together: the order holds too.
  await new Promise((r) => setTimeout(r, 1300));
  const third = await receive();
  assert.deepEqual(bodies(third, 'a'), ['a1', 'a2', 'a3'], 'back after the timeout, in send order');

  // The group stays held while any of its messages is in flight.
  await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: third[0]!.ReceiptHandle! }));
  await send([['a', 'a4']]);
  assert.deepEqual(bodies(await receive(), 'a'), [], 'a2 and a3 in flight hold a4 back');
  for (const m of third.slice(1)) await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle! }));
  assert.deepEqual(bodies(await receive(), 'a'), ['a4']);
});

test('DynamoDB Local on disk keeps its database in write-ahead-log mode, and its tables across a restart', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ddb-wal-'));
  try {
    const table = uniqueName('wal');
    for (const round of [1, 2]) {
      const emu = await startEmulators({ dataDir });
      try {
        const ddb = createDocumentClient({ region: 'us-east-1', dynamoEndpoint: emu.dynamoEndpoint, awsEndpoint: emu.awsEndpoint });
        if (round === 1) {
          await ddb.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'PK', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }] }));
        } else {
          assert.ok((await ddb.send(new ListTablesCommand({}))).TableNames?.includes(table), 'the table survived the restart');
        }
      } finally {
        await emu.stop();
        await Promise.all(emu.children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
      }
    }
    // SQLite's header: bytes 18 and 19 (write and read format versions) are 2 in WAL mode, 1 with a rollback journal.
    const fd = openSync(path.join(dataDir, 'shared-local-instance.db'), 'r');
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    closeSync(fd);
    assert.equal(header.subarray(0, 15).toString('latin1'), 'SQLite format 3');
    assert.deepEqual([header[18], header[19]], [2, 2]);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
