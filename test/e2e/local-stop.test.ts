/**
 * Defect 7a in the local mode itself: a build whose step ignores SIGTERM does not hold up a
 * cancel or a Ctrl-C (the local mode's stop): it is killed after the grace period, and the
 * job is recorded cancelled. Real local mode, real processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { followRun, sleep } from '../../cli/dev/follow.ts';
import { SAMPLE, startLocalMode, type LocalMode } from '../../cli/dev/local-mode.ts';
import { STOP_GRACE_MS } from '../../shared/local/build-runner.ts';
import { alive } from '../support/processes.ts';

let mode: LocalMode | undefined;
let dataDir: string;
const lines: string[] = [];

/** A pipeline on the sample repository with one job of one step, retried once if it fails. */
const oneStep = (name: string, job: string, step: string) => `name: ${name}
source:
  provider: github
  repository: ${SAMPLE.repository}
jobs:
  ${job}:
    template: node
    install: []
    retries: 1
    commands:
      - ${step}
`;

/** Its step ignores SIGTERM for two minutes. */
const STUBBORN = oneStep('stubborn', 'hang', 'trap "" TERM; sleep 120 & echo "sleeper $!"; wait');
/** Its step ends at once on SIGTERM: its STOPPED event would come while the local mode stops. */
const NAPPER = oneStep('napper', 'nap', 'echo napping; sleep 60');

/** Starts a run of `pipeline` and returns once its job's log has a line matching `line`. */
async function startRun(m: LocalMode, pipeline: string, job: string, line: RegExp): Promise<{ runId: string; line: string }> {
  const { runId } = await m.api.requestRun(pipeline, { branch: 'main' }, { by: 'test', requestId: `${pipeline}-${Date.now()}` });
  const t0 = Date.now();
  for (;;) {
    assert.ok(Date.now() - t0 < 60_000, `${pipeline}'s step did not start:\n${lines.slice(-30).join('\n')}`);
    const run = await m.api.getRun(runId).catch(() => undefined);
    if (run?.jobs[job]?.buildId) {
      const found = (await m.api.readLogs(runId, job, { limit: 1000 })).events.map((e) => e.message).find((l) => line.test(l));
      if (found) return { runId, line: found };
    }
    await sleep(200);
  }
}

/** A run of the stubborn pipeline whose step is running, with the sleeper's pid. */
async function startStubbornRun(m: LocalMode): Promise<{ runId: string; sleeper: number }> {
  const { runId, line } = await startRun(m, 'stubborn', 'hang', /^sleeper \d+$/);
  return { runId, sleeper: Number(line.split(' ')[1]) };
}

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-stop-'));
  mode = await startLocalMode({ dataDir, reset: true, quiet: true, reconcileSeconds: 0, onLog: (l) => lines.push(l) });
  await mode.api.registerPipeline('stubborn', { kind: 'definition', definition: STUBBORN });
  await mode.api.registerPipeline('napper', { kind: 'definition', definition: NAPPER });
}, { timeout: 120_000 });

after(async () => {
  await mode?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('cancelling a run whose build ignores SIGTERM: the job is recorded cancelled, and the build killed within seconds', { timeout: 120_000 }, async () => {
  const { runId, sleeper } = await startStubbornRun(mode!);
  const t0 = Date.now();
  await mode!.api.cancelRun(runId, { by: 'test', requestId: `cancel-${Date.now()}` });
  const run = await followRun(mode!.api, runId, () => {}, 60_000);
  assert.equal(run.status, 'cancelled');
  assert.equal(run.jobs.hang.status, 'cancelled', JSON.stringify(run.jobs.hang));
  // The engine's StopBuild: SIGTERM, which the step ignores, then SIGKILL after the grace period.
  while (alive(sleeper) && Date.now() - t0 < 60_000) await sleep(100);
  const took = Date.now() - t0;
  assert.ok(!alive(sleeper), 'the step\'s processes are gone');
  assert.ok(took >= STOP_GRACE_MS - 100 && took < STOP_GRACE_MS + 5000, `the build ended ${took} ms after the cancel`);
  await mode!.builds.idle();
  const log = (await mode!.api.readLogs(runId, 'hang', { limit: 1000 })).events.map((e) => e.message);
  assert.equal(log.at(-1), '== STOPPED', log.join('\n'));
});

test('Ctrl-C (the local mode\'s stop) with such a build running does not wait for it, and starts no retry', { timeout: 120_000 }, async () => {
  await startRun(mode!, 'napper', 'nap', /^napping$/);
  const { sleeper } = await startStubbornRun(mode!);
  const t0 = Date.now();
  await mode!.stop();
  const took = Date.now() - t0;
  mode = undefined;
  assert.ok(!alive(sleeper), 'the step\'s processes are gone');
  // The emulators and the artifacts' save take a few seconds; the step would have taken 120.
  assert.ok(took < 30_000, `the stop took ${took} ms`);
  // The build's STOPPED event is not handled during the stop: its attempt is not failed, nor retried.
  // The napper's build ends at once on SIGTERM; its STOPPED event is not handled during the stop:
  // the attempt is not failed, nor retried (the next start's recovery decides).
  assert.deepEqual(lines.filter((l) => /== (hang|nap) \(attempt 2/.test(l)), [], 'no retry started while stopping');
});
