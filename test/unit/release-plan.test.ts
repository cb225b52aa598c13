import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { colourAtFull, releaseSpecProblems, weightsFor } from '../../shared/domain/traffic.ts';
import { decideRelease, newTargetState, type ReleaseRequest, type TargetState } from '../../shared/domain/release.ts';
import type { DeploySpec } from '../../shared/domain/pipeline.ts';

const NOW = '2026-01-01T00:00:00.000Z';
const deploy = (o: Partial<DeploySpec> = {}): DeploySpec => ({ target: 't', strategy: 'blue-green', steps: [25, 100], intervalSeconds: 30, bakeSeconds: 0, alarms: [], rollbackWindowMinutes: 0, ...o });
const request = (o: Partial<ReleaseRequest> = {}): ReleaseRequest => ({ runId: 'r1', pipelineId: 'p', job: 'd', attempt: 1, token: 'r1:d:1', target: 't', image: 'img:2', deploy: deploy(), ...o });
const target = (): TargetState => newTargetState({ name: 't', cluster: 'c', services: { blue: 'sb', green: 'sg' }, targetGroups: { blue: 'tb', green: 'tg' }, listenerRuleArn: 'rule', desiredCount: 1 }, NOW);

function started(): TargetState {
  let s = decideRelease(target(), { type: 'Start', request: request(), now: NOW }).state;
  s = decideRelease(s, { type: 'TaskDefinitionRegistered', releaseId: 'r1:d:1', taskDefinition: 'td:2', previousTaskDefinition: 'td:1', now: NOW }).state;
  return s;
}

describe('release plan', () => {
  test('weights put the percent on the colour and the rest on the other', () => {
    assert.deepEqual(weightsFor('green', 10), { blue: 90, green: 10 });
    assert.deepEqual(weightsFor('blue', 100), { blue: 100, green: 0 });
    assert.throws(() => weightsFor('blue', 101), RangeError);
    assert.equal(colourAtFull({ blue: 0, green: 100 }), 'green');
    assert.equal(colourAtFull({ blue: 50, green: 50 }), undefined);
  });

  test('step lists must rise strictly to 100', () => {
    assert.deepEqual(releaseSpecProblems(deploy({ steps: [10, 50, 100] }), {}), []);
    assert.match(releaseSpecProblems(deploy({ steps: [] }), {}).join(), /at least one traffic step/);
    assert.match(releaseSpecProblems(deploy({ steps: [10, 10, 100] }), {}).join(), /steps\[1\]: must be greater/);
    assert.match(releaseSpecProblems(deploy({ steps: [10, 90] }), {}).join(), /last step must be 100/);
    assert.match(releaseSpecProblems(deploy({ healthCheck: { path: '/h', expectedStatus: 200 } }), {}).join(), /neither a health checker in its VPC \(healthCheckFunction\) nor a test listener URL/);
    assert.deepEqual(releaseSpecProblems(deploy({ healthCheck: { path: '/h', expectedStatus: 200 } }), { healthCheckFunction: 'arn:aws:lambda:us-east-1:123456789012:function:c' }), []);
    assert.deepEqual(releaseSpecProblems(deploy({ strategy: 'standard', steps: [] }), {}), []);
  });
});

describe('decideRelease', () => {
  test('a start on a free target takes the lock and registers a task definition from the live colour', () => {
    const d = decideRelease(target(), { type: 'Start', request: request(), now: NOW });
    assert.equal(d.changed, true);
    assert.equal(d.state.current?.phase, 'registering');
    assert.deepEqual(d.effects.map((e) => e.type), ['EmitReleaseStarted', 'RegisterTaskDefinition']);
    assert.equal((d.effects[1] as { fromService: string }).fromService, 'sb');
  });

  test('a step message for a step already past changes nothing', () => {
    const s = started();
    const step = s.current!.step;
    const stale = decideRelease(s, { type: 'Tick', releaseId: 'r1:d:1', step: step - 1, now: NOW });
    assert.equal(stale.changed, false);
    assert.deepEqual(stale.effects, []);
    assert.match(stale.ignored!, /stale step/);
    const future = decideRelease(s, { type: 'Tick', releaseId: 'r1:d:1', step: step + 1, now: NOW });
    assert.deepEqual(future.effects, []);
    const other = decideRelease(s, { type: 'Tick', releaseId: 'other', step, now: NOW });
    assert.match(other.ignored!, /not in progress/);
  });

  test('the current step asks for a look, without changing the state', () => {
    const s = started();
    const d = decideRelease(s, { type: 'Tick', releaseId: 'r1:d:1', step: s.current!.step, now: NOW });
    assert.equal(d.changed, false);
    assert.deepEqual(d.effects, [{ type: 'Observe', releaseId: 'r1:d:1', step: s.current!.step, spec: { cluster: 'c', service: 'sg', targetGroupArn: 'tg' } }]);
  });

  test('decideRelease does not mutate the state it is given', () => {
    const s = started();
    const copy = structuredClone(s);
    decideRelease(s, { type: 'Cancel', runId: 'r1', job: 'd', now: NOW });
    assert.deepEqual(s, copy);
  });

  test('a superseded start that never got the target is dropped with the reason', () => {
    const d = decideRelease(target(), { type: 'Start', request: request({ supersededBy: 'r9' }), now: NOW });
    assert.equal(d.state.current, undefined);
    assert.equal(d.effects.length, 1);
    assert.match((d.effects[0] as { reason: string }).reason, /superseded by run r9/);
  });

  test('a superseded start for the release holding the target does not cut it in half', () => {
    const s = started();
    const d = decideRelease(s, { type: 'Start', request: request({ supersededBy: 'r9' }), now: NOW });
    assert.equal(d.state.current?.id, 'r1:d:1');
    assert.deepEqual(d.effects, []);
  });
});
