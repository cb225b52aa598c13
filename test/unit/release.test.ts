import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError } from '../../shared/domain/errors.ts';
import type { ReleaseMessage } from '../../shared/ports/messages.ts';
import { ReleaseActionError, type ReleaseActions } from '../../shared/ports/releases.ts';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CHECKER, deploySpec, harness, startMessage, TEST_RULE, TG, withSave } from '../support/fake-ecs.ts';

const okFetch = (async () => new Response('ok', { status: 200 })) as unknown as typeof fetch;
const badFetch = (async () => new Response('boom', { status: 500 })) as unknown as typeof fetch;

const polls = (n: number, lines: string[]) => Array.from({ length: n }, () => lines).flat();
const SHIFT_POLL = ['DescribeTargetHealth', 'DescribeAlarms'];

describe('blue-green release', () => {
  test('a happy release makes exactly these calls, every weight change adding up to 100', async () => {
    // Prepare
    const h = await harness({ target: { testListenerRuleArn: TEST_RULE, testUrl: 'http://alb.internal:8443' }, fetch: okFetch });
    const msg = startMessage({ deploy: deploySpec({ healthCheck: { path: '/health', expectedStatus: 200 } }) });
    // Act
    await h.releaser.handle(msg);
    await h.drive();
    // Assess
    assert.deepEqual(h.aws.callLines(), [
      'DescribeServices',
      'DescribeTaskDefinition',
      'RegisterTaskDefinition image=web:2',
      'UpdateService web-green td=web:2 desired=2',
      'ModifyRule test blue=0 green=100',
      // polls every 15 s; green settles after 30 s
      ...polls(2, ['DescribeServices', 'DescribeTargetHealth', 'DescribeAlarms']),
      'ModifyRule prod blue=90 green=10',
      ...polls(4, SHIFT_POLL),
      'ModifyRule prod blue=50 green=50',
      ...polls(4, SHIFT_POLL),
      'ModifyRule prod blue=0 green=100',
      ...polls(8, SHIFT_POLL),
      // 30 minutes later, when the rollback window ends
      'UpdateService web-blue desired=0',
    ]);
    assert.deepEqual(h.aws.violations, []);
    const finished = h.events.finished();
    assert.equal(finished.length, 1);
    assert.equal(finished[0].outcome, 'succeeded');
    assert.equal(
      finished[0].reason,
      'released web:2 to green, baked 120s (10% at 2026-01-01T00:00:30.000Z, 50% at 2026-01-01T00:01:30.000Z, 100% at 2026-01-01T00:02:30.000Z)',
    );
    // Progress steps go first (the run records them even while the job is queued); then ReleaseStarted.
    assert.equal(h.events.events.find((e) => e.type !== 'ReleaseProgressed')?.type, 'ReleaseStarted');
    const view = await h.releaser.getTarget('web');
    assert.equal(view.liveColour, 'green');
    assert.deepEqual(view.weights, { blue: 0, green: 100 });
    assert.equal(view.current, undefined);
    assert.equal(view.last?.outcome, 'succeeded');
    assert.ok(view.last!.history.some((e) => e.detail.includes('GET http://alb.internal:8443/health through the test listener returned 200')));
    assert.ok(view.last!.history.every((e) => !Number.isNaN(Date.parse(e.at))), 'every step has a timestamp');
  });

  test('a new colour that never turns healthy is rolled back without receiving traffic', async () => {
    const h = await harness();
    h.aws.behaviours.set('web:2', 'unhealthy');
    await h.releaser.handle(startMessage());
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /web-green not ready after 600s.*0\/2 targets healthy \(Target\.ResponseCodeMismatch\)/);
    assert.ok(!h.aws.callLines().some((l) => l.startsWith('ModifyRule prod')), 'no traffic ever moved');
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    assert.equal(h.aws.desiredOf('web-green'), 0);
    assert.equal((await h.releaser.getTarget('web')).liveColour, 'blue');
  });

  test('a circuit-breaker failure of the new colour rolls back before the timeout', async () => {
    const h = await harness({ circuitBreaker: { enable: true, rollback: false } });
    h.aws.behaviours.set('web:2', 'crash');
    await h.releaser.handle(startMessage());
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /deployment of .*web:2 to web-green failed: ECS deployment circuit breaker/);
    assert.ok(Date.parse(f.at) - Date.parse('2026-01-01T00:00:00Z') <= 120_000);
  });

  test('an alarm during the shift puts all traffic back on the old colour within one poll interval', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    let alarmAt = 0;
    await h.drive({
      before: () => {
        if (!alarmAt && h.aws.weights().green === 10) {
          h.aws.alarms.set('web-5xx', 'ALARM');
          alarmAt = h.aws.now;
        }
      },
    });
    const back = h.aws.calls.filter((c) => c.op === 'elbv2:ModifyRule').at(-1)!;
    assert.equal(back.input.Actions[0].ForwardConfig.TargetGroups[0].Weight, 100, 'blue back to 100');
    assert.ok(back.at - alarmAt <= 15_000, `rolled back ${(back.at - alarmAt) / 1000}s after the alarm`);
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    assert.ok(!h.aws.callLines().includes('ModifyRule prod blue=50 green=50'));
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /alarm web-5xx in ALARM with 10% of the traffic on green; 100% back on blue/);
  });

  test('an alarm already in ALARM stops the release before any traffic moves', async () => {
    const h = await harness();
    h.aws.alarms.set('web-5xx', 'ALARM');
    await h.releaser.handle(startMessage());
    await h.drive();
    assert.match(h.events.finished()[0].reason!, /alarm web-5xx in ALARM before any traffic moved/);
    assert.ok(!h.aws.callLines().some((l) => l.startsWith('ModifyRule prod')));
    assert.equal(h.aws.desiredOf('web-green'), 0);
  });

  test('an alarm during the bake rolls back too', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ before: () => { if (h.aws.weights().green === 100) h.aws.alarms.set('web-5xx', 'ALARM'); } });
    assert.equal(h.events.finished()[0].outcome, 'rolled_back');
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    assert.equal((await h.releaser.getTarget('web')).liveColour, 'blue');
  });

  test('tasks that die mid-shift take the traffic back to the old colour', async () => {
    const h = await harness();
    h.aws.behaviours.set('web:2', { diesAfterSeconds: 100 });
    await h.releaser.handle(startMessage());
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /green has no healthy targets/);
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    assert.deepEqual(h.aws.violations, []);
  });

  test('a failing HTTP check on the test listener stops the release before any traffic moves', async () => {
    const h = await harness({ target: { testListenerRuleArn: TEST_RULE, testUrl: 'http://alb.internal:8443' }, fetch: badFetch });
    await h.releaser.handle(startMessage({ deploy: deploySpec({ healthCheck: { path: '/health', expectedStatus: 200 } }) }));
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /health check GET http:\/\/alb\.internal:8443\/health through the test listener returned 500, expected 200 for 120s \(window 120s\)/);
    assert.ok(!h.aws.callLines().some((l) => l.startsWith('ModifyRule prod')));
  });

  test('an alarm that does not exist fails the release safely', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage({ deploy: deploySpec({ alarms: ['no-such-alarm'] }) }));
    await h.drive();
    assert.match(h.events.finished()[0].reason!, /alarm no-such-alarm does not exist/);
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
  });

  test('cancel during the shift puts 100% back on the old colour', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ before: () => h.aws.weights().green !== 50 });
    assert.deepEqual(h.aws.weights(), { blue: 50, green: 50 });
    const cancelledAt = h.aws.now;
    await h.releaser.handle({ type: 'CancelRelease', runId: '01RUN', job: 'deploy', target: 'web' });
    // The cancel is recorded; the release's own next step acts on it, so it cannot race a shift in flight.
    assert.deepEqual(h.aws.weights(), { blue: 50, green: 50 });
    await h.drive();
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    const back = h.aws.calls.filter((c) => c.op === 'elbv2:ModifyRule').at(-1)!;
    assert.ok(back.at - cancelledAt <= 15_000, 'acted on within one poll interval');
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /^cancelled; 100% back on blue/);
    assert.equal(h.aws.desiredOf('web-green'), 0);
  });

  test('a cancel repeated after the step chain stalled acts directly', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ before: () => h.aws.weights().green !== 10 });
    h.queue.pending.length = 0; // the next step message went to the DLQ
    await h.releaser.handle({ type: 'CancelRelease', runId: '01RUN', job: 'deploy', target: 'web' });
    h.aws.advance(60);
    await h.releaser.handle({ type: 'CancelRelease', runId: '01RUN', job: 'deploy', target: 'web' });
    assert.deepEqual(h.aws.weights(), { blue: 90, green: 10 }, 'too early to presume the chain dead');
    h.aws.advance(600);
    await h.releaser.handle({ type: 'CancelRelease', runId: '01RUN', job: 'deploy', target: 'web' });
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    assert.equal(h.events.finished()[0].outcome, 'rolled_back');
    assert.equal((await h.releaser.getTarget('web')).current, undefined);
  });

  test('cancel of a standard release puts the previous task definition back', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage({ deploy: deploySpec({ strategy: 'standard' }) }));
    await h.releaser.handle({ type: 'CancelRelease', runId: '01RUN', job: 'deploy', target: 'web' });
    await h.drive();
    assert.ok(h.aws.callLines().includes('UpdateService web-blue td=web:1'));
    assert.equal(h.events.finished()[0].outcome, 'rolled_back');
    assert.equal(h.aws.imageOf('web-blue'), 'web:1');
  });

  test('duplicated and reordered step messages shift nothing twice', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    const delivered: ReleaseMessage[] = [];
    let n = 0;
    // Deliver every message twice, and replay an old one now and then.
    for (;;) {
      const next = h.queue.take();
      if (!next || n++ > 500) break;
      h.aws.now = Math.max(h.aws.now, next.due);
      await h.releaser.handle(next.message);
      await h.releaser.handle(next.message);
      if (delivered.length > 3) await h.releaser.handle(delivered[delivered.length - 3]);
      delivered.push(next.message);
    }
    const shifts = h.aws.callLines().filter((l) => l.startsWith('ModifyRule'));
    assert.deepEqual(shifts, ['ModifyRule prod blue=90 green=10', 'ModifyRule prod blue=50 green=50', 'ModifyRule prod blue=0 green=100']);
    assert.equal(h.events.finished().length, 1);
    assert.equal(h.events.finished()[0].outcome, 'succeeded');
    assert.equal(h.aws.callLines().filter((l) => l.startsWith('RegisterTaskDefinition')).length, 1);
  });

  test('a duplicated start message starts one release', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.releaser.handle(startMessage());
    assert.equal(h.aws.callLines().filter((l) => l.startsWith('RegisterTaskDefinition')).length, 1);
    assert.equal(h.events.events.filter((e) => e.type === 'ReleaseStarted').length, 1);
    assert.equal((await h.releaser.getTarget('web')).waiting.length, 0);
  });

  test('a crash in the middle of a shift resumes from the saved step', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    let crashed = 0;
    for (let n = 0; n < 500; n++) {
      const next = h.queue.take();
      if (!next) break;
      h.aws.now = Math.max(h.aws.now, next.due);
      if (h.aws.weights().green === 10 && crashed === 0) {
        // The 50% ModifyRule fails after the state was saved; then the next poll cannot be scheduled either.
        h.aws.failNext.set('elbv2:ModifyRule', 1);
        crashed++;
      }
      try {
        await h.releaser.handle(next.message);
      } catch {
        // SQS redelivers the message after its visibility timeout.
        h.aws.advance(30);
        await h.releaser.handle(next.message, { redelivered: true });
      }
    }
    assert.equal(crashed, 1);
    const shifts = h.aws.callLines().filter((l) => l.startsWith('ModifyRule'));
    assert.deepEqual(shifts, ['ModifyRule prod blue=90 green=10', 'ModifyRule prod blue=50 green=50', 'ModifyRule prod blue=50 green=50', 'ModifyRule prod blue=0 green=100']);
    assert.equal(h.events.finished()[0].outcome, 'succeeded');
    assert.deepEqual(h.aws.weights(), { blue: 0, green: 100 });
  });

  test('a crash before the next poll is scheduled is resumed by the redelivered message', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    const realSend = h.queue.send.bind(h.queue);
    let failed = false;
    h.queue.send = async (m, d) => {
      if (!failed && m.type === 'ReleaseStep' && h.aws.weights().green === 50) {
        failed = true;
        throw new Error('SQS unavailable');
      }
      return realSend(m, d);
    };
    for (let n = 0; n < 500; n++) {
      const next = h.queue.take();
      if (!next) break;
      h.aws.now = Math.max(h.aws.now, next.due);
      try {
        await h.releaser.handle(next.message);
      } catch {
        const r = await h.releaser.handle(next.message, { redelivered: true });
        assert.equal(r.outcome, 'replayed');
      }
    }
    assert.ok(failed);
    assert.equal(h.events.finished()[0].outcome, 'succeeded');
  });
});

describe('when AWS fails', () => {
  test('a crash before the task definition is registered resumes on redelivery', async () => {
    const h = await harness();
    h.aws.failNext.set('ecs:RegisterTaskDefinition', 1);
    await assert.rejects(h.releaser.handle(startMessage()), /RegisterTaskDefinition|injected/);
    const r = await h.releaser.handle(startMessage(), { redelivered: true });
    assert.equal(r.outcome, 'replayed');
    await h.drive();
    assert.equal(h.events.finished()[0].outcome, 'succeeded');
    assert.equal(h.events.events.filter((e) => e.type === 'ReleaseStarted').length, 2, 'the engine dedupes the replayed ReleaseStarted by id');
    assert.equal(new Set(h.events.events.filter((e) => e.type === 'ReleaseStarted').map((e) => e.id)).size, 1);
  });

  test('a permanent refusal (the idle service is gone) ends the release instead of holding the target', async () => {
    const h = await harness();
    h.aws.services.delete('web-green');
    // Scaling the missing service down fails too: the message goes back to SQS (and on to the DLQ), but only after
    // the traffic is safe, the engine knows, and the target is free.
    await assert.rejects(h.releaser.handle(startMessage()), /ServiceNotFoundException/);
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /AWS refused a release action: updating service web-green: ServiceNotFoundException/);
    const view = await h.releaser.getTarget('web');
    assert.equal(view.current, undefined);
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
  });

  test('a task definition that cannot be copied fails the release with the reason', async () => {
    const h = await harness({ target: { containerName: 'sidecar' } });
    await h.releaser.handle(startMessage());
    assert.match(h.events.finished()[0].reason!, /could not register a task definition: .*no container named sidecar/);
    assert.equal((await h.releaser.getTarget('web')).current, undefined);
  });
});

describe('standard release', () => {
  test('after a blue-green release it scales the colour kept for rollback down', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ until: Date.parse('2026-01-01T00:10:00Z') });
    assert.equal(h.aws.desiredOf('web-blue'), 2, 'blue kept for the rollback window');
    await h.releaser.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3', deploy: deploySpec({ strategy: 'standard' }) }));
    await h.drive();
    assert.equal(h.aws.desiredOf('web-blue'), 0);
    assert.equal(h.aws.imageOf('web-green'), 'web:3');
    assert.deepEqual(h.events.finished().map((f) => f.outcome), ['succeeded', 'succeeded']);
  });

  test('updates the live service in place and waits until it is steady', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage({ deploy: deploySpec({ strategy: 'standard' }) }));
    await h.drive();
    assert.deepEqual(h.aws.callLines(), [
      'DescribeServices',
      'DescribeTaskDefinition',
      'RegisterTaskDefinition image=web:2',
      'UpdateService web-blue td=web:2',
      'DescribeServices',
      'DescribeServices',
    ]);
    assert.equal(h.events.finished()[0].outcome, 'succeeded');
    assert.equal(h.aws.imageOf('web-blue'), 'web:2');
  });

  test('when the circuit breaker rolls the service back by itself, the release reports rolled_back', async () => {
    const h = await harness({ circuitBreaker: { enable: true, rollback: true } });
    h.aws.behaviours.set('web:2', 'crash');
    await h.releaser.handle(startMessage({ deploy: deploySpec({ strategy: 'standard' }) }));
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /circuit breaker rolled web-blue back to .*web:1/);
    assert.equal(h.aws.callLines().filter((l) => l.startsWith('UpdateService')).length, 1, 'ECS rolled back; Slipway did not');
    assert.equal(h.aws.imageOf('web-blue'), 'web:1');
  });

  test('a failed deployment without circuit-breaker rollback is put back on the previous task definition', async () => {
    const h = await harness({ circuitBreaker: { enable: true, rollback: false } });
    h.aws.behaviours.set('web:2', 'crash');
    await h.releaser.handle(startMessage({ deploy: deploySpec({ strategy: 'standard' }) }));
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.ok(h.aws.callLines().includes('UpdateService web-blue td=web:1'));
    assert.equal(h.aws.imageOf('web-blue'), 'web:1');
  });

  test('a deployment that never settles times out and is rolled back', async () => {
    const h = await harness();
    h.aws.behaviours.set('web:2', 'unhealthy');
    await h.releaser.handle(startMessage({ deploy: deploySpec({ strategy: 'standard' }) }));
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f.outcome, 'rolled_back');
    assert.match(f.reason!, /did not reach a steady state .* within 1800s/);
    assert.equal(h.aws.imageOf('web-blue'), 'web:1');
  });
});

describe('the target is the lock', () => {
  test('a second release waits its turn and starts when the first finishes', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.releaser.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3' }));
    const during = await h.releaser.getTarget('web');
    assert.equal(during.current?.runId, '01RUN');
    assert.deepEqual(during.waiting.map((w) => w.runId), ['02RUN']);
    assert.equal(h.aws.callLines().filter((l) => l.startsWith('RegisterTaskDefinition')).length, 1);
    await h.drive();
    const finished = h.events.finished();
    assert.deepEqual(finished.map((f) => [f.runId, f.outcome]), [['01RUN', 'succeeded'], ['02RUN', 'succeeded']]);
    const view = await h.releaser.getTarget('web');
    assert.equal(view.liveColour, 'blue', 'the second release went to the colour the first left idle');
    assert.equal(h.aws.imageOf('web-blue'), 'web:3');
  });

  test('a very late duplicate of an old start message releases nothing again', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ until: Date.parse('2026-01-01T00:10:00Z') });
    await h.releaser.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3' }));
    await h.drive({ until: Date.parse('2026-01-01T00:20:00Z') });
    const calls = h.aws.calls.length;
    const r = await h.releaser.handle(startMessage());
    assert.equal(r.outcome, 'ignored');
    assert.equal(h.aws.calls.length, calls);
    assert.equal(h.aws.imageOf('web-blue'), 'web:3');
  });

  test('a superseded release waiting for the target is dropped with a clear reason', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.releaser.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1' }));
    await h.releaser.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', supersededBy: '03RUN' }));
    const dropped = h.events.finished();
    assert.equal(dropped.length, 1);
    assert.equal(dropped[0].runId, '02RUN');
    assert.equal(dropped[0].outcome, 'failed');
    assert.match(dropped[0].reason!, /superseded by run 03RUN/);
    assert.equal((await h.releaser.getTarget('web')).waiting.length, 0);
  });

  test('cancel of a waiting release removes it from the queue', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.releaser.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1' }));
    await h.releaser.handle({ type: 'CancelRelease', runId: '02RUN', job: 'deploy', target: 'web' });
    assert.match(h.events.finished()[0].reason!, /cancelled while waiting/);
    assert.equal((await h.releaser.getTarget('web')).current?.runId, '01RUN');
  });

  test('a release for an unregistered target fails at once', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage({ target: 'nope', deploy: deploySpec({ target: 'nope' }) }));
    assert.match(h.events.finished()[0].reason!, /target nope is not registered/);
  });

  test('an invalid step list fails the release before anything changes', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage({ deploy: deploySpec({ steps: [50, 20] }) }));
    assert.match(h.events.finished()[0].reason!, /steps\[1\]: must be greater.*the last step must be 100/);
    assert.equal(h.aws.calls.length, 0);
  });
});

describe('a warm releaser remembers its targets', () => {
  test('a whole release reads the target once; every step after it is decided on what the instance wrote', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    const steps = await h.drive();
    assert.equal(h.events.finished()[0]?.outcome, 'succeeded');
    assert.ok(steps > 10, `the release took ${steps} messages`);
    assert.equal(h.store.reads, 1, 'only the start message read the target');
  });

  test('a step that another instance already moved past is decided again on a fresh read, not dropped', async () => {
    const h = await harness();
    const other = h.instance();
    // This instance starts release 1 and remembers the target with it in progress.
    await h.releaser.handle(startMessage());
    // Another instance takes it from there to the end, and starts release 2.
    await h.drive({ by: other });
    await other.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3' }));
    await h.drive({ by: other, max: 2 });
    const reads = h.store.reads;
    // Release 2's next step comes back to this instance: its memory still has release 1 in progress,
    // where the step would be ignored; the store has release 2 at that step.
    const next = h.queue.take()!;
    h.aws.now = Math.max(h.aws.now, next.due);
    const result = await h.releaser.handle(next.message);
    assert.equal(result.outcome, 'applied');
    assert.equal(h.store.reads, reads + 1, 'one fresh read before letting the step go');
    await h.drive();
    assert.deepEqual(h.events.finished().map((f) => [f.runId, f.outcome]), [['01RUN', 'succeeded'], ['02RUN', 'succeeded']]);
    assert.equal(h.aws.imageOf('web-blue'), 'web:3');
  });

  test('a decision on the memory that writes nothing but acts is made again on a fresh read', async () => {
    const h = await harness();
    const other = h.instance();
    await h.releaser.handle(startMessage());
    // Release 2 starts waiting on another instance; this one still remembers an empty waiting list.
    await other.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3' }));
    // Run 2 is superseded: on the memory there is nothing to drop, only the run to tell.
    await h.releaser.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3', supersededBy: '03RUN' }));
    assert.deepEqual((await h.store.get('web')).waiting, [], 'the superseded release no longer waits for the target');
    await h.drive();
    assert.deepEqual(h.events.finished().map((f) => [f.runId, f.outcome]), [['02RUN', 'failed'], ['01RUN', 'succeeded']]);
    assert.equal(h.aws.callLines().filter((l) => l.startsWith('RegisterTaskDefinition')).length, 1, 'web:3 was never released');
  });

  test('a look on the memory that AWS refuses ends nothing when the release has moved on (a late duplicate step)', async () => {
    const h = await harness();
    const base = h.aws.adapter();
    let refuse = false;
    const actions: ReleaseActions = Object.assign(Object.create(base) as ReleaseActions, {
      observe: async (spec: Parameters<ReleaseActions['observe']>[0]) => {
        if (refuse) throw new ReleaseActionError(`describing service ${spec.service}: AccessDeniedException: not authorized to perform ecs:DescribeServices`);
        return base.observe(spec);
      },
    });
    // The warm instance starts the release and remembers it at its first step.
    const warm = h.instance({ actions });
    await warm.handle(startMessage());
    // SQS delivers the first step twice: the other instance handles one copy and takes the release on to its bake.
    const tick = h.queue.take()!;
    h.aws.now = Math.max(h.aws.now, tick.due);
    await h.releaser.handle(tick.message);
    await h.drive({ before: async () => (await h.store.get('web')).current?.phase !== 'baking' });
    // The late copy reaches the warm instance: its look, made for a step long past, is refused.
    refuse = true;
    const result = await warm.handle(tick.message);
    assert.equal(result.outcome, 'ignored');
    const after = await h.store.get('web');
    assert.equal(after.current?.phase, 'baking', 'the release goes on');
    assert.deepEqual(after.weights, { blue: 0, green: 100 });
    assert.deepEqual(h.events.finished(), []);
  });

  test('progress is sent from the state a decision was made on: what another instance sent is not sent again', async () => {
    const h = await harness();
    const warm = h.instance();
    await warm.handle(startMessage());
    await h.drive({ before: async () => (await h.store.get('web')).current?.phase !== 'baking' });
    const progress = () => h.events.events.filter((e) => e.type === 'ReleaseProgressed').map((e) => e.id);
    const before = progress();
    // A message for the release reaches the warm instance, whose memory is steps behind.
    await warm.handle({ type: 'CancelRelease', target: 'web', runId: '01RUN', job: 'deploy' });
    assert.deepEqual(progress().slice(before.length).filter((id) => before.includes(id)), []);
  });

  test('a write on a memory that fell behind is decided again on a fresh read, and is no lost race', async () => {
    const h = await harness();
    // Two attempts: the memory's conflict does not count, so one conflict from contention is still survived.
    let contention = 0;
    const targets = withSave(h.store, async (state, expected) => {
      const stored = await h.store.get(state.name);
      // Another writer wins once, right after this instance read the target afresh.
      if (stored.version === expected && state.waiting.length > 0 && contention++ === 0) throw new ConflictError(`target ${state.name} changed since version ${expected}`);
      return h.store.save(state, expected);
    });
    const warm = h.instance({ maxAttempts: 2, targets });
    await warm.handle(startMessage());
    // Another instance handles the release's next step: the stored version moves on.
    await h.drive({ max: 1 });
    const before = await h.store.get('web');
    // A second release asks for the target on the warm instance's out-of-date memory.
    const result = await warm.handle(startMessage({ runId: '02RUN', token: '02RUN:deploy:1', image: 'web:3' }));
    assert.equal(result.outcome, 'applied');
    assert.equal(contention, 2, 'the fresh decision lost once to contention, then won');
    const after = await h.store.get('web');
    assert.equal(after.version, before.version + 1);
    assert.deepEqual(after.waiting.map((w) => w.runId), ['02RUN']);
    assert.deepEqual(after.current?.step, before.current?.step, "the other instance's step is kept");
  });
});

describe('a write whose answer was lost', () => {
  test('stands: the retry that found it carries its effects out, and the release goes on', async () => {
    const h = await harness();
    // The write is made, its answer is lost, and the SDK's retry finds the version it wrote.
    let lose = 0;
    const targets = withSave(h.store, async (state, expected) => {
      const saved = await h.store.save(state, expected);
      if (lose > 0 && lose-- > 0) throw new ConflictError(`target ${state.name} changed since version ${expected}`);
      return saved;
    });
    const releaser = h.instance({ targets, maxAttempts: 1 });
    await releaser.handle(startMessage());
    lose = 3;
    await h.drive({ by: releaser });
    assert.equal(lose, 0, 'three answers were lost');
    assert.equal(h.events.finished()[0]?.outcome, 'succeeded');
    assert.deepEqual(h.aws.weights(), { blue: 0, green: 100 });
  });
});

describe('release progress on the run', () => {
  test('every recorded step of a release reaches the run as ReleaseProgressed, once and in order', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive();
    const target = await h.releaser.getTarget('web');
    const progressed = h.events.events.filter((e) => e.type === 'ReleaseProgressed') as Array<{ id: string; detail: string; job: string }>;
    assert.deepEqual(progressed.map((e) => e.detail), target.last!.history.map((x) => x.detail));
    assert.equal(new Set(progressed.map((e) => e.id)).size, progressed.length, 'deterministic, distinct ids');
    assert.ok(progressed.some((e) => /10%/.test(e.detail)) && progressed.some((e) => /100%/.test(e.detail)), progressed.map((e) => e.detail).join(' | '));
  });
});

describe('manual rollback', () => {
  test('puts the traffic back on the previous colour within the window, and refuses after it', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ until: Date.parse('2026-01-01T00:10:00Z') });
    assert.equal((await h.releaser.getTarget('web')).liveColour, 'green');
    const view = await h.releaser.rollbackTarget('web', 'alice');
    assert.equal(view.liveColour, 'blue');
    assert.deepEqual(view.weights, { blue: 100, green: 0 });
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    assert.equal(view.last?.rolledBackBy, 'alice');
    assert.equal(h.aws.desiredOf('web-green'), 0);
  });

  test('a rollback whose traffic change failed is carried out by the retry', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ until: Date.parse('2026-01-01T00:10:00Z') });
    h.aws.failNext.set('elbv2:ModifyRule', 1);
    await assert.rejects(h.releaser.rollbackTarget('web', 'alice'), /ModifyRule|injected/);
    assert.deepEqual(h.aws.weights(), { blue: 0, green: 100 }, 'recorded, but the traffic has not moved yet');
    const view = await h.releaser.rollbackTarget('web', 'alice');
    assert.equal(view.liveColour, 'blue');
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
  });

  test('a second rollback is refused with the reason: it was already rolled back, and by whom', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ until: Date.parse('2026-01-01T00:10:00Z') });
    await h.releaser.rollbackTarget('web', 'alice');
    await assert.rejects(h.admin.requestRollback('web', 'bob'), (e: Error) => e instanceof ConflictError && /already rolled back by alice; blue is live again/.test(e.message) && !/window has ended/.test(e.message));
  });

  test('is refused once the rollback window has ended', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage({ deploy: deploySpec({ rollbackWindowMinutes: 5 }) }));
    await h.drive();
    await assert.rejects(h.releaser.rollbackTarget('web', 'bob'), (e: Error) => e instanceof ConflictError && /rollback window has ended/.test(e.message));
    assert.deepEqual(h.aws.weights(), { blue: 0, green: 100 });
  });

  test('requested through the API, it moves no traffic itself and hands the rollback to the releaser', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await h.drive({ until: Date.parse('2026-01-01T00:10:00Z') });
    const modifyRulesBefore = h.aws.calls.filter((c) => c.op === 'elbv2:ModifyRule').length;
    const view = await h.admin.requestRollback('web', 'alice');
    assert.equal(view.liveColour, 'green', 'nothing moved yet');
    assert.equal(h.aws.calls.filter((c) => c.op === 'elbv2:ModifyRule').length, modifyRulesBefore);
    const sent = h.queue.sent.at(-1)?.message;
    assert.deepEqual(sent, { type: 'Rollback', target: 'web', requestedBy: 'alice' });
    await h.releaser.handle(sent!);
    assert.deepEqual(h.aws.weights(), { blue: 100, green: 0 });
    assert.equal((await h.releaser.getTarget('web')).liveColour, 'blue');
  });

  test('a rollback requested outside its window is refused at once and nothing is queued', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage({ deploy: deploySpec({ rollbackWindowMinutes: 5 }) }));
    await h.drive();
    const queued = h.queue.sent.length;
    await assert.rejects(h.admin.requestRollback('web', 'bob'), ConflictError);
    assert.equal(h.queue.sent.length, queued);
  });

  test('is refused while a release is in progress', async () => {
    const h = await harness();
    await h.releaser.handle(startMessage());
    await assert.rejects(h.releaser.rollbackTarget('web', 'bob'), /in progress.*cancel it instead/);
  });
});

/**
 * Failure 3 of the first real deployment: the releaser (outside any VPC) could not reach a
 * target's test listener, and one failed fetch rolled the release back. The check now runs in the
 * target's VPC through its health checker, against every task of the new colour, and is retried
 * within its window.
 */
describe('health checks from inside the target\'s VPC', () => {
  const checked = { healthCheckFunction: CHECKER };
  const withCheck = (window?: number) => startMessage({ deploy: deploySpec({ healthCheck: { path: '/health', expectedStatus: 200, ...(window !== undefined ? { windowSeconds: window } : {}) } }) });
  const unreachableFetch = (async () => { throw new TypeError('fetch failed'); }) as unknown as typeof fetch;

  test('the checker GETs the path on every task of the new colour, and the release goes on', async () => {
    const h = await harness({ target: checked, fetch: unreachableFetch });
    await h.releaser.handle(withCheck());
    await h.drive();
    assert.equal(h.events.finished()[0]!.outcome, 'succeeded');
    assert.deepEqual(h.aws.checks, ['10.2.0.0:8080/health -> 200', '10.2.0.1:8080/health -> 200']);
    const invoke = h.aws.calls.find((c) => c.op === 'lambda:Invoke')!;
    assert.equal(invoke.input.FunctionName, CHECKER);
  });

  test('tasks unreachable for a while, then healthy: the check is retried within its window and the release succeeds', async () => {
    const h = await harness({ target: checked, fetch: unreachableFetch });
    // green settles 30 s after its deployment; its tasks refuse connections for 40 s more.
    h.aws.unreachableUntil = h.aws.now + 70_000;
    await h.releaser.handle(withCheck(120));
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f!.outcome, 'succeeded', f!.reason);
    assert.ok(h.aws.checks.some((c) => c.endsWith('ECONNREFUSED')), 'some tries failed');
    assert.ok(h.aws.checks.at(-1)!.endsWith('-> 200'));
    const view = await h.releaser.getTarget('web');
    assert.ok(view.last!.history.some((e) => /failed: 10\.2\.0\.0:8080: ECONNREFUSED; .*trying again/.test(e.detail)));
    assert.deepEqual(h.aws.violations, []);
  });

  test('a failure that lasts the whole window rolls back before any user traffic moves', async () => {
    const h = await harness({ target: checked, fetch: unreachableFetch });
    h.aws.unreachableUntil = Number.MAX_SAFE_INTEGER;
    await h.releaser.handle(withCheck(60));
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f!.outcome, 'rolled_back');
    assert.match(f!.reason!, /health check GET \/health on every task of green .* failed: .*ECONNREFUSED for 6\ds \(window 60s\)/);
    assert.ok(!h.aws.callLines().some((l) => l.startsWith('ModifyRule prod')));
    assert.ok(h.aws.checks.length >= 2 * 6, `tried about every 10 s: ${h.aws.checks.length}`);
  });

  test('tasks answering a wrong status for the whole window roll back with the status', async () => {
    const h = await harness({ target: checked });
    h.aws.healthStatus = () => 503;
    await h.releaser.handle(withCheck(30));
    await h.drive();
    assert.match(h.events.finished()[0]!.reason!, /returned 503, expected 200/);
  });

  test('a checker the releaser cannot invoke (not found) ends the release: AWS refused the action', async () => {
    const h = await harness({ target: { healthCheckFunction: 'arn:aws:lambda:us-east-1:123456789012:function:gone' } });
    await h.releaser.handle(withCheck());
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f!.outcome, 'rolled_back');
    assert.match(f!.reason!, /invoking the health checker .*gone: ResourceNotFoundException/);
  });
});

describe('target health as ELBv2 reports it', () => {
  test('initial and draining targets never count as healthy, and draining ones are not counted at all', async () => {
    const h = await harness();
    const elb = h.aws.adapter();
    await h.releaser.handle(startMessage({ deploy: deploySpec({ healthCheck: undefined }) }));
    // 20 s into green's deployment (settles at 30 s): registered and health-checked, not yet healthy.
    h.aws.advance(20);
    const initial = await elb.observe({ targetGroupArn: TG.green });
    assert.deepEqual(initial.targets, { healthy: 0, total: 2, unhealthyReasons: ['Elb.InitialHealthChecking', 'Elb.InitialHealthChecking'] });
    // Blue scaled down: its tasks drain for the deregistration delay and are not counted.
    await elb.updateService({ cluster: 'prod', service: 'web-blue', desiredCount: 0 });
    const raw = await h.aws.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: TG.blue }));
    assert.ok(raw.TargetHealthDescriptions!.some((d) => d.TargetHealth!.State === 'draining'));
    assert.deepEqual((await elb.observe({ targetGroupArn: TG.blue })).targets, { healthy: 0, total: 0, unhealthyReasons: [] });
  });

  test('a target group the load balancer does not use reports unused targets: the release waits, then rolls back', async () => {
    const h = await harness();
    h.aws.unusedTargetGroups.add(TG.green);
    await h.releaser.handle(startMessage());
    await h.drive();
    const [f] = h.events.finished();
    assert.equal(f!.outcome, 'rolled_back');
    assert.match(f!.reason!, /0\/2 targets healthy \(Target\.NotInUse\)/);
  });

  test('errors carry the SDK\'s $metadata and $fault; a server fault is retried, a missing service is not', async () => {
    const h = await harness();
    h.aws.failNext.set('ecs:UpdateService', 1);
    const elb = h.aws.adapter();
    const retry = await elb.updateService({ cluster: 'prod', service: 'web-green', desiredCount: 1 }).catch((e: unknown) => e as Error);
    assert.equal(retry!.constructor.name, 'RetryableError');
    const cause = (retry as Error & { cause: any }).cause;
    assert.equal(cause.$fault, 'server');
    assert.equal(cause.$metadata.httpStatusCode, 500);
    const missing = await elb.updateService({ cluster: 'prod', service: 'nope', desiredCount: 1 }).catch((e: unknown) => e as Error);
    assert.equal(missing!.constructor.name, 'ReleaseActionError');
    assert.equal((missing as Error & { cause: any }).cause.$fault, 'client');
    assert.match(missing!.message, /ServiceNotFoundException: Service not found\./);
  });
});
