import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, nextQueued } from '../../shared/domain/concurrency.ts';
import type { RunSummary } from '../../shared/ports/index.ts';
import type { RunStatus } from '../../shared/domain/run.ts';

let n = 0;
const run = (runId: string, status: RunStatus, branch?: string): RunSummary => ({
  runId, pipelineId: 'p', status, branch, commit: 'c', createdAt: `2026-01-01T00:00:${String(++n).padStart(2, '0')}Z`,
});

describe('admitting a run', () => {
  it('superseded: starts and supersedes the newest active run of the same branch (the older ones were superseded by it)', () => {
    const active = [run('r1', 'running', 'main'), run('r2', 'running', 'dev'), run('r3', 'queued', 'main')];
    assert.deepEqual(admit('superseded', active, { runId: 'r4', branch: 'main' }), { admission: 'start', supersede: ['r3'] });
  });

  it('superseded: a run without a branch supersedes nothing', () => {
    assert.deepEqual(admit('superseded', [run('r1', 'running', 'main')], { runId: 'r2' }), { admission: 'start', supersede: [] });
  });

  it('superseded: never supersedes the incoming run itself or runs listed after it; a run listed after it supersedes it', () => {
    const active = [run('r1', 'running', 'main'), run('r2', 'running', 'main'), run('r3', 'running', 'main')];
    assert.deepEqual(admit('superseded', active, { runId: 'r2', branch: 'main' }), { admission: 'start', supersede: [], supersededBy: 'r3' });
    assert.deepEqual(admit('superseded', active.slice(0, 2), { runId: 'r2', branch: 'main' }), { admission: 'start', supersede: ['r1'] });
  });

  it('superseded: an older run arriving late supersedes no newer run and is superseded by the newest on arrival', () => {
    const newer = [run('r8', 'running', 'main'), run('r9', 'running', 'main'), run('r10', 'running', 'dev')];
    assert.deepEqual(admit('superseded', newer, { runId: 'r1', branch: 'main', createdAt: '2025-12-31T00:00:00Z' }), { admission: 'start', supersede: [], supersededBy: 'r9' });
  });

  it('queued: queues behind any other active run', () => {
    assert.deepEqual(admit('queued', [run('r1', 'running', 'dev')], { runId: 'r2', branch: 'main' }), { admission: 'queue', supersede: [] });
  });

  it('queued: starts when no other run is active, even if the store already lists it', () => {
    assert.deepEqual(admit('queued', [], { runId: 'r1' }), { admission: 'start', supersede: [] });
    assert.deepEqual(admit('queued', [run('r1', 'queued')], { runId: 'r1' }), { admission: 'start', supersede: [] });
  });

  it('parallel: always starts and supersedes nothing', () => {
    assert.deepEqual(admit('parallel', [run('r1', 'running', 'main')], { runId: 'r2', branch: 'main' }), { admission: 'start', supersede: [] });
  });
});

describe('the next queued run', () => {
  it('is the oldest queued run once nothing runs', () => {
    assert.equal(nextQueued([run('r2', 'queued'), run('r3', 'queued')]), 'r2');
  });

  it('is none while another run is still running', () => {
    assert.equal(nextQueued([run('r1', 'running'), run('r2', 'queued')]), undefined);
  });

  it('ignores the run that just finished even if it is still listed as running', () => {
    assert.equal(nextQueued([run('r1', 'running'), run('r2', 'queued')], 'r1'), 'r2');
  });

  it('is none when nothing is queued', () => {
    assert.equal(nextQueued([]), undefined);
  });
});
