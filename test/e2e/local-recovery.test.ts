/**
 * The local mode end to end, missed-webhook recovery: a commit to the sample repository,
 * announced by no webhook, gets a run within the local reconcile period, marked
 * `recovered: webhook missed`; a commit announced by its webhook is not run twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLE, startLocalMode, type LocalMode } from '../../cli/dev/local-mode.ts';

const PERIOD_SECONDS = 2;
let mode: LocalMode;
let dataDir: string;
const lines: string[] = [];

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-recovery-'));
  mode = await startLocalMode({ dataDir, reset: true, quiet: true, reconcileSeconds: PERIOD_SECONDS, onLog: (l) => lines.push(l) });
}, { timeout: 120_000 });

after(async () => {
  await mode?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function runsFor(commit: string) {
  const page = await mode.api.listRuns(SAMPLE.pipelineId, {});
  return page.items.filter((r) => r.commit === commit);
}

async function waitForRun(commit: string, withinMs: number) {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const found = await runsFor(commit);
    if (found.length > 0) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  return [];
}

test('the sample repository as registered is not a missed push: no run on start', { timeout: 30_000 }, async () => {
  await new Promise((r) => setTimeout(r, 3 * PERIOD_SECONDS * 1000));
  assert.equal((await mode.api.listRuns(SAMPLE.pipelineId, {})).items.length, 0, lines.slice(-20).join('\n'));
});

test('a commit without any webhook gets a run within the local reconcile period, marked recovered', { timeout: 60_000 }, async (t) => {
  // The commit's date has one-second resolution: start on a fresh second, so the delay below is the recovery's.
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000)));
  const committedAt = Date.now();
  const sha = mode.commit({ VERSION: '1.0.1\n' }, 'hello 1.0.1, no webhook');
  // grace (one period) + the next pass (one period) + the engine writing the run
  const found = await waitForRun(sha, 3 * PERIOD_SECONDS * 1000 + 5000);
  const seenAfterMs = Date.now() - committedAt;
  assert.equal(found.length, 1, lines.slice(-20).join('\n'));
  const run = await mode.api.getRun(found[0].runId);
  assert.equal(run.trigger.event, 'push');
  assert.equal(run.trigger.branch, 'main');
  assert.equal(run.trigger.recovered?.reason, 'webhook missed');
  assert.ok((run.trigger.recovered?.delaySeconds ?? -1) >= 0 && (run.trigger.recovered?.delaySeconds ?? 99) <= 3 * PERIOD_SECONDS + 1, `delay ${run.trigger.recovered?.delaySeconds}`);
  t.diagnostic(`recovery delay in the local mode (period ${PERIOD_SECONDS} s): run visible ${seenAfterMs} ms after the commit; recorded delaySeconds=${run.trigger.recovered?.delaySeconds}`);
  // Cancelled: this test is about the run starting, not the release (the other e2e file releases).
  await mode.api.cancelRun(found[0].runId, { by: 'e2e', requestId: randomUUID() }).catch(() => undefined);
  // Later passes recover it no second time.
  await new Promise((r) => setTimeout(r, 2 * PERIOD_SECONDS * 1000));
  assert.equal((await runsFor(sha)).length, 1);
});

test('a commit announced by its webhook gets that run only: the reconciler adds none', { timeout: 60_000 }, async () => {
  const sha = mode.commit({ VERSION: '1.0.2\n' }, 'hello 1.0.2');
  const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, repository: { full_name: SAMPLE.repository }, head_commit: { id: sha, message: 'hello 1.0.2' }, commits: [{ id: sha, added: [], modified: ['VERSION'], removed: [] }] });
  const res = await fetch(`${mode.apiUrl}/webhooks/github`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', mode.webhookSecret).update(body).digest('hex')}` },
  });
  assert.equal(res.status, 202);
  await new Promise((r) => setTimeout(r, 3 * PERIOD_SECONDS * 1000 + 1000));
  const found = await runsFor(sha);
  assert.equal(found.length, 1);
  assert.equal((await mode.api.getRun(found[0].runId)).trigger.recovered, undefined);
});
