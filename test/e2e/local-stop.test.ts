/**
 * Defect 7a in the local mode itself: a build whose step ignores SIGTERM does not hold up a
 * cancel or a Ctrl-C (the local mode's stop): it is killed after the grace period, and the
 * job is recorded cancelled. Real local mode, real processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { followRun, sleep } from '../../cli/dev/follow.ts';
import { SAMPLE, startLocalMode, type LocalMode } from '../../cli/dev/local-mode.ts';
import { STOP_GRACE_MS } from '../../shared/local/build-runner.ts';

let mode: LocalMode | undefined;
let dataDir: string;
const lines: string[] = [];

/** A pipeline on the sample repository whose one job's step ignores SIGTERM for two minutes (and would be retried once). */
const STUBBORN = `name: stubborn
source:
  provider: github
  repository: ${SAMPLE.repository}
jobs:
  hang:
    template: node
    install: []
    retries: 1
    commands:
      - trap "" TERM; sleep 120 & echo "sleeper $!"; wait
`;

/** One whose step ends at once on SIGTERM (its STOPPED event comes while the local mode stops), retried once on failure. */
const NAPPER = `name: napper
source:
  provider: github
  repository: ${SAMPLE.repository}
jobs:
  nap:
    template: node
    install: []
    retries: 1
    commands:
      - echo napping; sleep 60
`;

/** Running: it exists and is not a zombie waiting to be reaped. */
const alive = (pid: number) => {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
};

/** Starts a run of the stubborn pipeline and returns once its step is running, with the sleeper's pid. */
async function startStubbornRun(m: LocalMode): Promise<{ runId: string; sleeper: number }> {
  const { runId } = await m.api.requestRun('stubborn', { branch: 'main' }, { by: 'test', requestId: `stubborn-${Date.now()}` });
  const t0 = Date.now();
  for (;;) {
    assert.ok(Date.now() - t0 < 60_000, `the step did not start:\n${lines.slice(-30).join('\n')}`);
    const run = await m.api.getRun(runId).catch(() => undefined);
    if (run?.jobs.hang?.buildId) {
      const page = await m.api.readLogs(runId, 'hang', { limit: 1000 });
      const line = page.events.map((e) => e.message).find((l) => /^sleeper \d+$/.test(l));
      if (line) return { runId, sleeper: Number(line.split(' ')[1]) };
    }
    await sleep(200);
  }
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
  const napper = await mode!.api.requestRun('napper', { branch: 'main' }, { by: 'test', requestId: `napper-${Date.now()}` });
  for (const t0 = Date.now(); ;) {
    assert.ok(Date.now() - t0 < 60_000, `the napper did not start:\n${lines.slice(-30).join('\n')}`);
    const run = await mode!.api.getRun(napper.runId).catch(() => undefined);
    if (run?.jobs.nap?.buildId && (await mode!.api.readLogs(napper.runId, 'nap', { limit: 1000 })).events.some((e) => e.message === 'napping')) break;
    await sleep(200);
  }
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
