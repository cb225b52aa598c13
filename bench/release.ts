/**
 * AWS API calls per blue-green release with 3 traffic steps (10, 50, 100;
 * 60 s apart; 120 s bake; one alarm), against the minimum the flow needs, and
 * decideRelease time per step (median). The release runs through the real
 * releaser and ECS/ELBv2/CloudWatch adapter against the stateful fake
 * (test/support/fake-ecs.ts) on a fake clock, so no time passes.
 *
 * The minimum, per release (new colour healthy at the first look, no failure):
 *   ECS/ELBv2/CloudWatch 17 = copy the task definition 3 (DescribeServices for
 *     the live task definition, DescribeTaskDefinition, RegisterTaskDefinition)
 *     + UpdateService of the idle colour 1 + one look at it being steady and
 *     healthy with no alarm firing 3 (DescribeServices, DescribeTargetHealth,
 *     DescribeAlarms) + ModifyRule per step 3
 *     + one alarm and health look before each next step and at the end of the
 *     bake 3 x 2 + scaling the old colour down 1;
 *   SQS 7 = one delayed message per wait (healthy, 2 intervals, bake, rollback
 *     window) 5 + ReleaseStarted and ReleaseFinished to the engine 2;
 *   DynamoDB: one read and one conditional write per state change.
 * Every extra call is the price of watching: a poll every `pollSeconds` is what
 * bounds the time an alarm goes unnoticed. The second row polls once per
 * interval (60 s): the flow then adds only one look (2 calls, 1 message) in the
 * middle of the 120 s bake.
 *
 * Alone: `node --import tsx bench/release.ts`
 */
import { pathToFileURL } from 'node:url';
import { FakeAws, FakeEventQueue, FakeReleaseQueue, deploySpec, startMessage, targetConfig } from '../test/support/fake-ecs.ts';
import { Releaser } from '../shared/services/releaser.ts';
import type { ReleaseInput } from '../shared/domain/release.ts';
import { MemoryTargetStore } from '../test/support/memory-stores.ts';

const MINIMUM = { control: 17, sqs: 7 };

async function oneRelease(pollSeconds: number, timings?: number[]) {
  const aws = new FakeAws();
  aws.alarms.set('web-5xx', 'OK');
  const store = new MemoryTargetStore();
  const queue = new FakeReleaseQueue(aws);
  const events = new FakeEventQueue();
  let eventSends = 0;
  const countingEvents = { send: async (m: Parameters<FakeEventQueue['send']>[0]) => { eventSends++; await events.send(m); } };
  const releaser = new Releaser({
    targets: store,
    actions: aws.adapter(),
    releaseQueue: queue,
    events: countingEvents,
    now: () => new Date(aws.now),
    ...(timings ? { onDecision: (_i: ReleaseInput, _d: unknown, ms: number) => { timings.push(ms); } } : {}),
  });
  await store.create(targetConfig({ timing: { pollSeconds } }), new Date(aws.now).toISOString());
  const reads0 = store.reads;
  const writes0 = store.writes;
  await releaser.handle(startMessage({ deploy: deploySpec({ steps: [10, 50, 100], intervalSeconds: 60, bakeSeconds: 120, alarms: ['web-5xx'], rollbackWindowMinutes: 10 }) }));
  let messages = 1;
  for (let next = queue.take(); next; next = queue.take()) {
    aws.now = Math.max(aws.now, next.due);
    await releaser.handle(next.message);
    messages++;
  }
  if (events.finished()[0]?.outcome !== 'succeeded') throw new Error('the benchmark release did not succeed');
  const byOp = new Map<string, number>();
  for (const c of aws.calls) byOp.set(c.op, (byOp.get(c.op) ?? 0) + 1);
  return {
    control: aws.calls.length,
    byOp,
    sqs: queue.sent.length + eventSends,
    ddbReads: store.reads - reads0,
    ddbWrites: store.writes - writes0,
    messages,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchRelease(): Promise<void> {
  const rows = [];
  for (const poll of [15, 60]) {
    const r = await oneRelease(poll);
    rows.push({
      pollSeconds: poll,
      'ECS/ELBv2/CW calls': r.control,
      'min ECS/ELBv2/CW': MINIMUM.control,
      'SQS sends': r.sqs,
      'min SQS': MINIMUM.sqs,
      'DynamoDB reads': r.ddbReads,
      'DynamoDB writes': r.ddbWrites,
      'messages handled': r.messages,
    });
    if (poll === 15) {
      console.log('AWS calls of one blue-green release (steps 10/50/100, 60 s apart, 120 s bake, 1 alarm), pollSeconds 15, by operation:');
      console.table(Object.fromEntries([...r.byOp.entries()].sort()));
    }
  }
  console.log('AWS API calls per blue-green release with 3 traffic steps, against the minimum the flow needs');
  console.table(rows);

  const timings: number[] = [];
  for (let i = 0; i < 40; i++) await oneRelease(15, i >= 5 ? timings : undefined); // first releases warm the JIT
  console.log('decideRelease time per step (one input -> next state and effects)');
  console.table([{ decisions: timings.length, 'median µs': Math.round(median(timings) * 1000 * 10) / 10, 'p99 µs': Math.round(timings.sort((a, b) => a - b)[Math.floor(timings.length * 0.99)] * 1000 * 10) / 10 }]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href || import.meta.url === `file://${process.argv[1]}`) {
  await benchRelease();
}
