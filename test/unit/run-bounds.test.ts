/**
 * A run item never passes DynamoDB's 400 KB limit: the definition bounds what
 * every run holds, decide cuts what arrives while it runs, and the largest run
 * those bounds allow fits with room to spare.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ITEM_BYTES, estimateItemSize, keys } from '../../shared/aws/table.ts';
import { decide } from '../../shared/domain/decide.ts';
import { parsePipelineObject } from '../../shared/domain/definition.ts';
import { MAX_JOBS } from '../../shared/domain/pipeline.ts';
import { planRun } from '../../shared/domain/plan.ts';
import {
  MAX_DEPLOY_JOBS, MAX_IMAGE_URI_BYTES, MAX_NEEDS_TOTAL, MAX_NOTICE_BYTES, MAX_OUTPUT_BYTES, MAX_REASON_BYTES, MAX_STEP_DETAIL_BYTES,
  MAX_TRIGGER_MESSAGE_BYTES, WORST_CASE, clip, largestPlan, largestRun,
} from '../../shared/domain/run-bounds.ts';
import { MAX_JOB_STEPS, type RunState } from '../../shared/domain/run.ts';
import { type EngineEvent } from '../../shared/domain/run-events.ts';
import { OUTBOX_EFFECTS_LIMIT } from '../../shared/services/apply-event.ts';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** The largest definition the bounds allow: MAX_JOBS jobs, 64-character names, MAX_NEEDS_TOTAL needs, MAX_DEPLOY_JOBS deploys, 10 retries each. */
function largestDefinition(needs = MAX_NEEDS_TOTAL, deploys = MAX_DEPLOY_JOBS): Record<string, unknown> {
  const name = (i: number) => `job-${String(i).padStart(3, '0')}-`.padEnd(64, 'x');
  const jobs: Record<string, unknown> = {};
  // Each deploy needs the image job before it; the other needs go three to a job from the start.
  let left = needs - deploys;
  for (let i = 0; i < MAX_JOBS; i++) {
    const deploy = i >= MAX_JOBS - deploys;
    const want: string[] = deploy ? [name(MAX_JOBS - deploys - 1)] : [];
    for (let k = 1; !deploy && k <= 3 && i - k >= 0 && left > 0; k++, left--) want.push(name(i - k));
    jobs[name(i)] = deploy
      ? { kind: 'deploy', needs: want, retries: 10, deploy: { target: 't'.repeat(64) } }
      : { kind: 'image', needs: want, retries: 10, docker: { repository: `acme/${'r'.repeat(40)}` } };
  }
  return { name: 'big', source: { provider: 'github', repository: 'acme/big' }, jobs };
}

describe('the run item bounds', () => {
  it('the largest definition the bounds allow fits in one item', () => {
    const parsed = parsePipelineObject(largestDefinition());
    assert.ok(parsed.ok, parsed.ok ? '' : JSON.stringify(parsed.problems.slice(0, 3)));
    const { plan } = planRun(parsed.spec, { event: 'push', branch: 'main', commit: 'c'.repeat(40) });
    assert.equal(Object.values(plan).reduce((n, p) => n + p.needs.length, 0), MAX_NEEDS_TOTAL);
    const run = largestRun(plan);
    const size = estimateItemSize({ ...keys.run(run.runId), state: run });
    // 4% headroom: the previous attempt's build id kept per job (logs --attempt) takes ~33 KB at
    // 200 jobs; the integration tier saves this same item to DynamoDB Local, which measures it.
    assert.ok(size < MAX_ITEM_BYTES * 0.96, `${size} bytes: less than 4% headroom under ${MAX_ITEM_BYTES}`);
    // largestPlan (the bench's figure) is at least as large as any definition at the bounds.
    const bench = largestRun(largestPlan());
    assert.ok(estimateItemSize({ ...keys.run(bench.runId), state: bench }) >= size);
  });

  it('refuses one need over the bound, naming it', () => {
    const parsed = parsePipelineObject(largestDefinition(MAX_NEEDS_TOTAL + 1));
    assert.equal(parsed.ok, false);
    assert.ok(!parsed.ok && parsed.problems.some((p) => p.path === 'jobs' && p.message.includes(`at most ${MAX_NEEDS_TOTAL}`) && /400 KB/.test(p.message)), JSON.stringify(!parsed.ok && parsed.problems));
  });

  it('refuses one deploy job over the bound, naming it', () => {
    const parsed = parsePipelineObject(largestDefinition(10, MAX_DEPLOY_JOBS + 1));
    assert.equal(parsed.ok, false);
    assert.ok(!parsed.ok && parsed.problems.some((p) => p.path === 'jobs' && p.message.includes(`at most ${MAX_DEPLOY_JOBS}`)), JSON.stringify(!parsed.ok && parsed.problems));
  });

  it('the largest run counts the outbox the engine keeps', () => {
    assert.equal(WORST_CASE.outboxEffects, OUTBOX_EFFECTS_LIMIT);
  });
});

describe('decide cuts what arrives from outside to the bounds', () => {
  const RUN = 'R1';
  let n = 0;
  const base = () => ({ id: `e${++n}`, runId: RUN, at: '2026-11-30T09:00:00.000Z' });
  const requested = (message: string): EngineEvent => ({
    ...base(), type: 'RunRequested', pipelineId: 'p', pipelineVersion: 1, concurrency: 'superseded',
    trigger: { event: 'push', branch: 'main', commit: 'c', message, author: 'a'.repeat(10_000) },
    plan: { b: { kind: 'build', needs: [], maxAttempts: 1 }, img: { kind: 'image', needs: [], maxAttempts: 1 }, d: { kind: 'deploy', needs: [], maxAttempts: 1, target: 't' } },
    skippedByWhen: [], admission: 'start',
  });
  const huge = 'ü'.repeat(50_000);

  it('a megabyte of commit message, reasons, outputs, steps and notices stays within the caps', () => {
    let state: RunState = decide(undefined, requested(huge)).state;
    const apply = (e: EngineEvent) => { state = decide(state, e).state; };
    apply({ ...base(), type: 'BuildStateChanged', job: 'b', attempt: 1, buildId: 'b1', state: 'FAILED', reason: huge });
    apply({ ...base(), type: 'BuildStateChanged', job: 'img', attempt: 1, buildId: 'i1', state: 'SUCCEEDED', outputs: { imageUri: huge, imageDigest: huge } });
    for (let i = 0; i < 100; i++) apply({ ...base(), type: 'ReleaseProgressed', job: 'd', attempt: 1, releaseId: 'r', detail: `${i} ${huge}` });
    apply({ ...base(), type: 'ReleaseFinished', job: 'd', attempt: 1, releaseId: 'r', outcome: 'rolled_back', reason: huge });
    for (let i = 0; i < 30; i++) apply({ ...base(), type: 'NotificationFailed', channel: 'slack', message: huge });

    assert.ok(bytes(state.trigger.message!) <= MAX_TRIGGER_MESSAGE_BYTES);
    assert.ok(state.trigger.message!.endsWith('…'));
    assert.ok(bytes(state.jobs.b.reason!) <= MAX_REASON_BYTES);
    assert.ok(bytes(state.jobs.img.outputs!.imageUri) <= MAX_IMAGE_URI_BYTES);
    assert.ok(bytes(state.jobs.img.outputs!.imageDigest) <= MAX_OUTPUT_BYTES);
    assert.equal(state.jobs.d.steps!.length, MAX_JOB_STEPS);
    assert.ok(state.jobs.d.steps!.every((s) => bytes(s.detail) <= MAX_STEP_DETAIL_BYTES));
    assert.ok(bytes(state.jobs.d.reason!) <= MAX_REASON_BYTES);
    assert.ok(state.notices!.every((x) => bytes(x.message) <= MAX_NOTICE_BYTES));
    assert.ok(bytes(state.reason!) <= MAX_REASON_BYTES);
    assert.ok(estimateItemSize({ state }) < 20_000, 'a few kilobytes, not megabytes');
  });

  it('leaves text within the caps exactly as it is', () => {
    const state = decide(undefined, requested('fix: the checkout')).state;
    assert.equal(state.trigger.message, 'fix: the checkout');
  });

  it('never cuts inside a character', () => {
    assert.equal(clip('€€€€', 9), '€€…');
    assert.equal(clip('😀😀😀', 10), '😀…');
    assert.equal(clip('short', 5), 'short');
  });
});
