import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobOrder, runView } from '../../cli/format.ts';
import type { RunState } from '../../shared/domain/run.ts';

test('the run view lists jobs in dependency order, by name within a level, whatever order the store returned', () => {
  const plan = {
    deploy: { kind: 'deploy', needs: ['image'], maxAttempts: 1 },
    lint: { kind: 'build', needs: ['build'], maxAttempts: 1 },
    image: { kind: 'image', needs: ['test', 'lint'], maxAttempts: 1 },
    build: { kind: 'build', needs: [], maxAttempts: 1 },
    docs: { kind: 'build', needs: [], maxAttempts: 1 },
    test: { kind: 'build', needs: ['build'], maxAttempts: 1 },
  } as RunState['plan'];
  const jobs = Object.fromEntries(Object.keys(plan).map((n) => [n, { status: 'pending', attempt: 0 }])) as RunState['jobs'];
  assert.deepEqual(jobOrder({ plan, jobs }), ['build', 'docs', 'lint', 'test', 'image', 'deploy']);
  const run = { runId: 'r', pipelineId: 'p', pipelineVersion: 1, status: 'running', trigger: { event: 'manual', branch: 'main', commit: 'abcdef12' }, createdAt: '2026-01-01T00:00:00Z', plan, jobs } as unknown as RunState;
  const lines = runView(run).split('\n');
  const rows = lines.slice(lines.findIndex((l) => l.startsWith('JOB')) + 1).map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(rows, ['build', 'docs', 'lint', 'test', 'image', 'deploy']);
});
