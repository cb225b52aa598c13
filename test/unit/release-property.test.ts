import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decideRelease, newTargetState, type Observation, type ReleaseEffect, type ReleaseInput, type TargetState } from '../../shared/domain/release.ts';
import { colourAtFull, type Colour } from '../../shared/domain/traffic.ts';
import type { DeploySpec } from '../../shared/domain/pipeline.ts';

type FailureKind = 'none' | 'alarm' | 'unhealthy' | 'dies' | 'deploy-failed' | 'http' | 'cancel';

const scenario = fc.record({
  steps: fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 5 }).map((s) => [...s.sort((a, b) => a - b), 100]),
  intervalSeconds: fc.integer({ min: 0, max: 120 }),
  bakeSeconds: fc.integer({ min: 0, max: 120 }),
  pollSeconds: fc.integer({ min: 5, max: 30 }),
  alarms: fc.boolean(),
  healthCheck: fc.boolean(),
  live: fc.constantFrom<Colour>('blue', 'green'),
  failure: fc.constantFrom<FailureKind>('none', 'alarm', 'unhealthy', 'dies', 'deploy-failed', 'http', 'cancel'),
  failAtPoll: fc.nat({ max: 30 }),
});

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Runs one release through the pure state machine against a tiny model of the world. */
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;
function simulate(sc: Scenario) {
  let state: TargetState = newTargetState({
    name: 't', cluster: 'c', services: { blue: 'sb', green: 'sg' }, targetGroups: { blue: 'tb', green: 'tg' },
    listenerRuleArn: 'rule', testUrl: 'http://test', desiredCount: 2, liveColour: sc.live, timing: { pollSeconds: sc.pollSeconds },
  }, new Date(T0).toISOString());
  const from = sc.live;
  const to: Colour = from === 'blue' ? 'green' : 'blue';
  const deploy: DeploySpec = {
    target: 't', strategy: 'blue-green', steps: sc.steps, intervalSeconds: sc.intervalSeconds, bakeSeconds: sc.bakeSeconds,
    alarms: sc.alarms ? ['a'] : [], rollbackWindowMinutes: 0, ...(sc.healthCheck ? { healthCheck: { path: '/h', expectedStatus: 200 } } : {}),
  };
  let now = T0;
  let polls = 0;
  let failureSeen = false;
  let cancelled = false;
  const finished: string[] = [];
  const queue: Array<{ due: number; input: () => ReleaseInput }> = [
    { due: now, input: () => ({ type: 'Start', now: iso(), request: { runId: 'r', pipelineId: 'p', job: 'd', attempt: 1, token: 'r:d:1', target: 't', image: 'img:2', deploy } }) },
  ];
  function iso() { return new Date(now).toISOString(); }
  const failing = () => sc.failure !== 'none' && polls >= sc.failAtPoll;
  const newHealthy = () => !(failing() && (sc.failure === 'unhealthy' || sc.failure === 'dies' || sc.failure === 'deploy-failed'));

  function apply(input: ReleaseInput): void {
    const d = decideRelease(state, input);
    if (d.changed) state = { ...d.state, version: state.version + 1 };
    let follow: ReleaseInput | undefined;
    for (const e of d.effects as ReleaseEffect[]) {
      switch (e.type) {
        case 'ModifyRule':
          assert.equal(e.weights.blue + e.weights.green, 100, 'weights add up to 100');
          if (e.weights[to] > 0) assert.ok(newHealthy(), `${e.weights[to]}% sent to ${to} while it has no healthy target`);
          break;
        case 'RegisterTaskDefinition':
          follow = { type: 'TaskDefinitionRegistered', releaseId: e.releaseId, taskDefinition: 'td:2', previousTaskDefinition: 'td:1', now: iso() };
          break;
        case 'Observe': {
          polls++;
          const o: Observation = {};
          const f = failing();
          if (e.spec.service) {
            const failed = f && sc.failure === 'deploy-failed';
            const stuck = f && (sc.failure === 'unhealthy' || sc.failure === 'dies');
            if (failed || stuck) failureSeen = true;
            o.service = { taskDefinition: 'td:2', rolloutState: failed ? 'FAILED' : stuck ? 'IN_PROGRESS' : 'COMPLETED', deployments: 1, running: stuck ? 0 : 2, desired: 2, failedTaskDefinitions: failed ? ['td:2'] : [] };
          }
          if (e.spec.targetGroupArn) {
            const bad = f && (sc.failure === 'unhealthy' || sc.failure === 'dies' || sc.failure === 'deploy-failed');
            if (bad) failureSeen = true;
            o.targets = bad ? { healthy: 0, total: sc.failure === 'dies' ? 0 : 2, unhealthyReasons: [] } : { healthy: 2, total: 2, unhealthyReasons: [] };
          }
          if (e.spec.alarms) {
            const inAlarm = f && sc.failure === 'alarm';
            if (inAlarm) failureSeen = true;
            o.alarms = { inAlarm: inAlarm ? ['a'] : [], missing: [] };
          }
          follow = { type: 'Observed', releaseId: e.releaseId, step: e.step, observation: o, now: iso() };
          break;
        }
        case 'HttpCheck': {
          const bad = failing() && sc.failure === 'http';
          if (bad) failureSeen = true;
          follow = { type: 'HttpChecked', releaseId: e.releaseId, step: e.step, status: bad ? 500 : 200, now: iso() };
          break;
        }
        case 'ScheduleStep':
          queue.push({ due: now + e.delaySeconds * 1000, input: () => ({ type: 'Tick', releaseId: e.releaseId, step: e.step, now: iso() }) });
          break;
        case 'EmitReleaseFinished':
          finished.push(e.outcome);
          break;
        default:
          break;
      }
    }
    if (follow) apply(follow);
  }

  for (let i = 0; i < 5000 && queue.length > 0; i++) {
    queue.sort((a, b) => a.due - b.due);
    const next = queue.shift()!;
    now = Math.max(now, next.due);
    if (sc.failure === 'cancel' && !cancelled && failing() && state.current) {
      cancelled = true;
      failureSeen = true;
      apply({ type: 'Cancel', runId: 'r', job: 'd', now: iso() });
    }
    apply(next.input());
  }
  return { state, finished, failureSeen, from, to };
}

test('for any steps and any failure point: weights add up to 100, and the release ends with all traffic on one colour — the new one only if every check passed', () => {
  fc.assert(
    fc.property(scenario, (sc) => {
      const { state, finished, failureSeen, from, to } = simulate(sc);
      assert.equal(finished.length, 1, 'exactly one ReleaseFinished');
      assert.equal(state.current, undefined, 'the lock is released');
      const full = colourAtFull(state.weights);
      assert.ok(full, `ends at 100% on one colour, got ${JSON.stringify(state.weights)}`);
      if (finished[0] === 'succeeded') {
        assert.equal(failureSeen, false, 'succeeded although a check failed');
        assert.equal(full, to);
        assert.equal(state.liveColour, to);
      } else {
        assert.equal(failureSeen, true, `${finished[0]} although every check passed`);
        assert.equal(full, from);
        assert.equal(state.liveColour, from);
      }
    }),
    { numRuns: 300 },
  );
});

test('standard releases: whatever fails and whenever a cancel comes, the service ends on the new image only if the release succeeded', async () => {
  const { harness, startMessage, deploySpec } = await import('../support/fake-ecs.ts');
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        behaviour: fc.constantFrom('healthy', 'unhealthy', 'crash'),
        circuitBreaker: fc.constantFrom({ enable: false, rollback: false }, { enable: true, rollback: false }, { enable: true, rollback: true }),
        cancelAt: fc.option(fc.nat({ max: 12 }), { nil: undefined }),
      }),
      async ({ behaviour, circuitBreaker, cancelAt }) => {
        const h = await harness({ circuitBreaker });
        h.aws.behaviours.set('web:2', behaviour as 'healthy' | 'unhealthy' | 'crash');
        await h.releaser.handle(startMessage({ deploy: deploySpec({ strategy: 'standard' }) }));
        let cancelled = false;
        await h.drive({
          before: async (_m, n) => {
            if (n === cancelAt && h.events.finished().length === 0) {
              cancelled = true;
              await h.releaser.handle({ type: 'CancelRelease', runId: '01RUN', job: 'deploy', target: 'web' });
            }
          },
        });
        const finished = h.events.finished();
        assert.equal(finished.length, 1);
        const image = h.aws.imageOf('web-blue');
        if (finished[0].outcome === 'succeeded') {
          assert.equal(behaviour, 'healthy');
          assert.equal(image, 'web:2');
        } else {
          assert.ok(behaviour !== 'healthy' || cancelled, `${finished[0].outcome}: ${finished[0].reason}`);
          assert.equal(finished[0].outcome, 'rolled_back');
          assert.equal(image, 'web:1');
        }
        assert.equal((await h.releaser.getTarget('web')).current, undefined);
      },
    ),
    { numRuns: 40 },
  );
});
