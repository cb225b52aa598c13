/**
 * What Lambda and API Gateway hand a handler, built locally: the invocation context, the HTTP API's payload 2.0 event, and the SQS event source mapping's long-poll loop.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { ChangeMessageVisibilityCommand,DeleteMessageBatchCommand,ReceiveMessageCommand,type Message,type SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2,Context } from 'aws-lambda';

/** What Lambda hands a handler besides the event (the parts Powertools reads). */
export function lambdaContext(name: string, requestId = randomBytes(8).toString('hex')): Context {
  return {
    functionName: `slipway-local-${name}`, functionVersion: '$LATEST', invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:slipway-local-${name}`,
    memoryLimitInMB: '512', awsRequestId: requestId, logGroupName: 'local', logStreamName: 'local', callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000, done: () => undefined, fail: () => undefined, succeed: () => undefined,
  };
}

/**
 * Wakes a queue's poller when something in this process sends to the queue. The emulator answers a
 * long poll only when its wait ends (each hop of a run waited up to the whole `WaitTimeSeconds`:
 * most of the local engine's overhead), so with a doorbell the poller asks without waiting and,
 * when the queue is empty, sleeps until the next send or `idleMs` (delayed messages, redeliveries).
 */
export class Doorbells {
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly rung = new Set<string>();

  ring(queueUrl: string): void {
    const waiters = this.waiting.get(queueUrl) ?? [];
    this.waiting.delete(queueUrl);
    if (waiters.length === 0) this.rung.add(queueUrl);
    for (const w of waiters) w();
  }

  /** Resolves at the next ring of `queueUrl` (at once if one came since the last wait), or after `ms`. */
  wait(queueUrl: string, ms: number): Promise<void> {
    if (this.rung.delete(queueUrl)) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref?.();
      const list = this.waiting.get(queueUrl) ?? [];
      list.push(done);
      this.waiting.set(queueUrl, list);
      function done() { clearTimeout(t); resolve(); }
    });
  }

  /** Rings a queue's bell after every successful send through `sqs` (SendMessage, SendMessageBatch). */
  attach(sqs: SQSClient): void {
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const url = (args.input as { QueueUrl?: string }).QueueUrl;
        if (url && /^SendMessage/.test(context.commandName ?? '')) this.ring(url);
        return out;
      },
      { step: 'initialize', name: 'slipwayLocalDoorbell' },
    );
  }
}

/** Idle wait of a poller with a doorbell: picks up delayed messages and redeliveries. */
const IDLE_MS = 1000;

/** Long-polls one queue and hands batches to `handle`, which returns the ids that failed. With `bells`, polls without waiting and sleeps on the queue's doorbell. */
export async function poll(sqs: SQSClient, queueUrl: string, handle: (msgs: Message[]) => Promise<string[]>, alive: () => boolean, bells?: Doorbells): Promise<void> {
  while (alive()) {
    let msgs: Message[] = [];
    try {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: bells ? 0 : 1, MessageSystemAttributeNames: ['All'] }));
      msgs = out.Messages ?? [];
    } catch {
      if (!alive()) return;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (msgs.length === 0) {
      if (bells) await bells.wait(queueUrl, IDLE_MS);
      continue;
    }
    let failed: string[];
    try { failed = await handle(msgs); } catch { failed = msgs.map((m) => m.MessageId!); }
    const ok = msgs.filter((m) => !failed.includes(m.MessageId!));
    if (ok.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: ok.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    // Failed ones come back soon, as after a short visibility timeout.
    for (const m of msgs.filter((x) => failed.includes(x.MessageId!))) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 2 })).catch(() => undefined);
    }
  }
}

export function toApiGatewayEvent(req: http.IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    body: body.length > 0 ? body.toString('base64') : undefined,
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: 'local', apiId: 'local', domainName: 'localhost', domainPrefix: 'localhost', requestId: randomBytes(8).toString('hex'),
      routeKey: '$default', stage: '$default', time: new Date().toUTCString(), timeEpoch: Date.now(),
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
    },
  } as APIGatewayProxyEventV2;
}
