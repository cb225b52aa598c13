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
 * Long-poll wait of a receive. fauxqs answers a waiting receive as soon as a message is sent (or a
 * FIFO group it holds back is released), as SQS does: a hop costs no extra round trip after the
 * send. One second keeps a stop quick: the pollers end within it.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
 */
const WAIT_SECONDS = 1;

/** Long-polls one queue, as Lambda's event source mapping does, and hands batches to `handle`, which returns the ids that failed. */
export async function poll(sqs: SQSClient, queueUrl: string, handle: (msgs: Message[]) => Promise<string[]>, alive: () => boolean): Promise<void> {
  while (alive()) {
    let msgs: Message[] = [];
    try {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: WAIT_SECONDS, MessageSystemAttributeNames: ['All'] }));
      msgs = out.Messages ?? [];
    } catch {
      if (!alive()) return;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (msgs.length === 0) continue;
    // What a receive brings back is handled, even as the stop begins (as Lambda finishes a batch):
    // fauxqs keeps no message over a restart, and a release's ReleaseFinished dropped here would
    // leave its deploy job running for good. The builds the stop ends report nothing (build-runner.ts).
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
