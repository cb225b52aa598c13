// fauxqs (SQS, S3, SNS), started the way the local mode and the tests need it:
//  - on loopback only: fauxqs's own start listens on every interface, and whoever reaches the
//    engine's queue can send it any event (an approval, a finished build);
//  - for this machine's programs only: a request with a browser's Origin header, or addressed to a
//    host name other than loopback's (DNS rebinding), is refused;
//  - with SQS's FIFO delivery: a receive returns as many messages of a group as it can, in order,
//    and messages that come back (visibility timeout, ChangeMessageVisibility 0) keep that order.
//    fauxqs 1.9.2 returns one message per group per receive. AWS: "When you specify a
//    MaxNumberOfMessages parameter in the ReceiveMessage API call, SQS returns as many messages
//    with the same message group ID as possible."
//    https://repost.aws/knowledge-center/sqs-fifo-messages-not-returned
// Run as a program (FAUXQS_PORT, FAUXQS_DEFAULT_REGION); test/integration/emulator-boundaries.test.ts
// checks all three through the SDK and raw HTTP.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

/** The fauxqs version the FIFO delivery below replaces methods of; another one is refused, not guessed at. */
const FAUXQS_VERSION = '1.9.2';

/** Replaces `SqsQueue.prototype.dequeueFifo` and keeps every FIFO group in send order when messages come back. */
function withSqsFifoDelivery(SqsQueue) {
  const proto = SqsQueue.prototype;
  for (const m of ['dequeueFifo', 'processTimers', 'changeVisibility']) {
    if (typeof proto[m] !== 'function') throw new Error(`fauxqs: SqsQueue.${m} is missing; cli/dev/fauxqs.mjs was written for fauxqs ${FAUXQS_VERSION}`);
  }

  proto.dequeueFifo = function dequeueFifo(maxCount, visibilityTimeoutOverride, dlqResolver) {
    this.processTimers();
    const visibilityTimeout = visibilityTimeoutOverride ?? parseInt(this.attributes.VisibilityTimeout);
    const { maxReceiveCount, dlqArn } = redrive(this.attributes.RedrivePolicy);
    const result = [];
    const count = Math.min(maxCount, 10);
    for (const [groupId, groupMsgs] of this.fifoMessages) {
      if (result.length >= count) break;
      // A group with a message in flight delivers nothing more until it is deleted or visible again.
      if (this.fifoLockedGroups.has(groupId)) continue;
      while (result.length < count && groupMsgs.length > 0) {
        const msg = groupMsgs.shift();
        msg.approximateReceiveCount++;
        msg.approximateFirstReceiveTimestamp ||= Date.now();
        if (dlqArn && dlqResolver && msg.approximateReceiveCount > maxReceiveCount) {
          const dlq = dlqResolver(dlqArn);
          if (dlq) {
            this.spy?.addMessage({ service: 'sqs', queueName: this.name, messageId: msg.messageId, body: msg.body, messageAttributes: msg.messageAttributes, status: 'dlq', timestamp: Date.now() });
            dlq.enqueue(msg);
            continue;
          }
        }
        const receiptHandle = randomUUID();
        this.inflightMessages.set(receiptHandle, { message: msg, receiptHandle, visibilityDeadline: Date.now() + visibilityTimeout * 1000 });
        const received = { MessageId: msg.messageId, ReceiptHandle: receiptHandle, MD5OfBody: msg.md5OfBody, Body: msg.body };
        if (msg.md5OfMessageAttributes) received.MD5OfMessageAttributes = msg.md5OfMessageAttributes;
        if (Object.keys(msg.messageAttributes).length > 0) received.MessageAttributes = msg.messageAttributes;
        result.push(received);
        // Each message in flight holds the group; deleteMessage and the timers release one each.
        this.fifoLockedGroups.set(groupId, (this.fifoLockedGroups.get(groupId) ?? 0) + 1);
      }
      if (groupMsgs.length === 0) this.fifoMessages.delete(groupId);
    }
    return result;
  };

  // fauxqs puts each returning message at the front of its group, one at a time: two of a group
  // coming back together would swap places. Sorting by sequence number restores the send order.
  for (const m of ['processTimers', 'changeVisibility']) {
    const original = proto[m];
    proto[m] = function (...args) {
      const out = original.apply(this, args);
      if (this.isFifo()) for (const group of this.fifoMessages.values()) inSequence(group);
      return out;
    };
  }
}

function redrive(policy) {
  if (!policy) return { maxReceiveCount: Infinity, dlqArn: undefined };
  try {
    const p = JSON.parse(policy);
    return { maxReceiveCount: p.maxReceiveCount ?? Infinity, dlqArn: p.deadLetterTargetArn };
  } catch {
    return { maxReceiveCount: Infinity, dlqArn: undefined };
  }
}

function inSequence(group) {
  // Zero-padded to 20 digits: the strings sort as the numbers do.
  const seq = (m) => m.sequenceNumber ?? '';
  if (group.some((m, i) => i > 0 && seq(group[i - 1]) > seq(m))) group.sort((a, b) => (seq(a) < seq(b) ? -1 : seq(a) > seq(b) ? 1 : 0));
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Host names this server answers to: loopback's, and S3's virtual-hosted style under localhost. */
function isLoopbackHost(hostHeader) {
  const host = String(hostHeader ?? '').toLowerCase().replace(/:\d+$/, '');
  return LOOPBACK_HOSTS.has(host) || host.endsWith('.localhost');
}

async function main() {
  const { readFileSync } = await import('node:fs');
  const entry = import.meta.resolve('fauxqs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', entry), 'utf8'));
  if (pkg.version !== FAUXQS_VERSION) throw new Error(`fauxqs ${pkg.version} is installed; cli/dev/fauxqs.mjs was written for ${FAUXQS_VERSION} (package.json pins it): check its FIFO delivery and update FAUXQS_VERSION`);
  const { SqsQueue } = await import(new URL('./sqs/sqsStore.js', entry).href);
  withSqsFifoDelivery(SqsQueue);
  const { buildApp } = await import(entry);
  const port = Number(process.env.FAUXQS_PORT ?? '4566');
  const app = buildApp({ logger: false, host: '127.0.0.1', defaultRegion: process.env.FAUXQS_DEFAULT_REGION });
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.origin !== undefined || !isLoopbackHost(request.headers.host)) {
      reply.code(403).send({ error: 'fauxqs of the Slipway local mode answers this machine\'s programs only' });
    }
  });
  await app.listen({ port, host: '127.0.0.1' });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
