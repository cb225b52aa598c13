import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesWhen, planRun } from '../../shared/domain/plan.ts';
import type { JobSpec, PipelineSpec, WhenFilter } from '../../shared/domain/pipeline.ts';
import type { Trigger } from '../../shared/domain/run.ts';

const when = (w: Partial<WhenFilter> = {}): WhenFilter => ({ branches: [], tags: [], events: [], ...w });

function job(name: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, kind: 'build', needs: [], when: when(), install: [], commands: ['make'], cache: [], env: {},
    outputs: [], inputs: [], timeoutMinutes: 30, retries: 0, compute: 'small', ...over,
  };
}

function spec(...jobs: JobSpec[]): PipelineSpec {
  return {
    name: 'svc',
    source: { provider: 'github', repository: 'acme/svc', triggers: { events: ['push'], branches: ['**'], tags: [], paths: { include: [], exclude: [] } } },
    concurrency: 'superseded',
    jobs: Object.fromEntries(jobs.map((j) => [j.name, j])),
    notifications: [],
  };
}

const push = (branch: string): Trigger => ({ event: 'push', branch, commit: 'abc' });
const tag = (t: string): Trigger => ({ event: 'tag', tag: t, commit: 'abc' });

describe('planning a run', () => {
  it('keeps kind and needs, turns retries into attempts and carries the deploy target', () => {
    const deploy = job('prod', {
      kind: 'deploy', needs: ['test'], retries: 2,
      deploy: { target: 'prod-eu', strategy: 'blue-green', steps: [10, 100], intervalSeconds: 60, bakeSeconds: 300, alarms: [], rollbackWindowMinutes: 60 },
    });
    const { plan, skippedByWhen } = planRun(spec(job('test', { retries: 1 }), deploy), push('main'));
    assert.deepEqual(plan, {
      test: { kind: 'build', needs: [], maxAttempts: 2 },
      prod: { kind: 'deploy', needs: ['test'], maxAttempts: 3, target: 'prod-eu' },
    });
    assert.deepEqual(skippedByWhen, []);
  });

  it('lists the jobs whose when filter does not match the trigger', () => {
    const s = spec(job('test'), job('release', { when: when({ tags: ['v*'] }) }), job('main-only', { when: when({ branches: ['main'] }) }));
    assert.deepEqual(planRun(s, push('main')).skippedByWhen, ['release']);
    assert.deepEqual(planRun(s, tag('v1.2.0')).skippedByWhen, ['main-only']);
    assert.deepEqual(planRun(s, push('feature/x')).skippedByWhen, ['release', 'main-only']);
  });

  it('does not share needs arrays with the spec', () => {
    const s = spec(job('a'), job('b', { needs: ['a'] }));
    const { plan } = planRun(s, push('main'));
    assert.notEqual(plan.b.needs, s.jobs.b.needs);
  });

  it('throws for a deploy job without a target', () => {
    assert.throws(() => planRun(spec(job('d', { kind: 'deploy' })), push('main')), /deploy job "d" has no target/);
  });
});

describe('when filters', () => {
  const cases: Array<[string, Partial<WhenFilter>, Trigger, boolean]> = [
    ['an empty filter matches any run', {}, tag('v1'), true],
    ['a branch glob matches within one path segment', { branches: ['release/*'] }, push('release/1.0'), true],
    ['a single star does not cross a slash', { branches: ['feature/*'] }, push('feature/a/b'), false],
    ['a double star crosses slashes', { branches: ['feature/**'] }, push('feature/a/b'), true],
    ['a branch filter skips tag runs', { branches: ['main'] }, tag('v1'), false],
    ['a tag filter skips branch runs', { tags: ['v*'] }, push('main'), false],
    ['branches or tags: either may match', { branches: ['main'], tags: ['v*'] }, tag('v2.0.1'), true],
    ['an event filter skips other events', { events: ['tag'] }, push('main'), false],
    ['an event filter admits manual runs when listed', { events: ['manual'] }, { event: 'manual', branch: 'main', commit: 'abc' }, true],
    ['event and branch must both match', { events: ['pull_request'], branches: ['main'] }, push('main'), false],
    ['a later negation excludes', { branches: ['**', '!main'] }, push('main'), false],
    ['a later negation leaves other branches in', { branches: ['**', '!main'] }, push('dev'), true],
    ['only negations include everything else', { branches: ['!wip/**'] }, push('dev'), true],
    ['a later include wins over an earlier negation', { branches: ['!release/*', 'release/1.0'] }, push('release/1.0'), true],
    ['a run without branch or tag fails a ref filter', { branches: ['**'] }, { event: 'manual', commit: 'abc' }, false],
  ];
  for (const [name, w, trigger, expected] of cases) {
    it(name, () => assert.equal(matchesWhen(when(w), trigger), expected));
  }
});
