/**
 * The local mode's figures: time from start to the first release live, cold
 * (empty data folder: emulators, table, sample repository, first run) and warm
 * (restart on the kept state, then a run of a new commit); and where a run's time
 * goes: job commands (measured by the local build runner), the release (the
 * target's release record, which includes its configured intervals and bake), the
 * build runner's own work around the commands (checkout, toolchain checks,
 * dependency cache, image packaging: CodeBuild's DOWNLOAD_SOURCE and friends), and
 * what is left, the engine: queue hops, decide and conditional writes on DynamoDB
 * Local, release hand-over.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunState } from '../shared/domain/run.ts';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../shared/aws/clients.ts';
import { followRun } from '../cli/dev/follow.ts';
import { earlyCheckoutByDefault, SAMPLE, startLocalMode, type LocalMode } from '../cli/dev/local-mode.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms = (n: number) => `${Math.round(n)} ms`;

interface Overhead { total: number; inCommands: number; inRunner: number; inRelease: number; engine: number; hops: Array<[string, number]> }

async function overhead(mode: LocalMode, run: RunState): Promise<Overhead> {
  const created = Date.parse(run.startedAt ?? run.createdAt);
  const total = Date.parse(run.finishedAt!) - created;
  let inCommands = 0;
  let inBuilds = 0;
  const builds: Array<{ job: string; start: number; end: number }> = [];
  for (const [job, j] of Object.entries(run.jobs)) {
    if (!j.buildId) continue;
    inCommands += mode.builds.commandMs(j.buildId);
    inBuilds += mode.builds.wallMs(j.buildId);
    const start = mode.builds.startedAtMs(j.buildId);
    if (start !== undefined) builds.push({ job, start, end: start + mode.builds.wallMs(j.buildId) });
  }
  const target = (await mode.api.getTarget(SAMPLE.target)) as { last?: { runId: string; startedAt: string; finishedAt?: string } };
  const release = target.last?.runId === run.runId && target.last.finishedAt ? { start: Date.parse(target.last.startedAt), end: Date.parse(target.last.finishedAt) } : undefined;
  const rel = release ? release.end - release.start : 0;
  // The engine's share, hop by hop along the run's critical path (the sample's jobs run one after another).
  builds.sort((a, b) => a.start - b.start);
  const hops: Array<[string, number]> = [];
  let last = { name: 'request', at: created };
  for (const b of builds) {
    hops.push([`${last.name} -> ${b.job} running`, b.start - last.at]);
    last = { name: `${b.job} end`, at: b.end };
  }
  if (release) {
    hops.push([`${last.name} -> release started`, release.start - last.at]);
    last = { name: 'release end', at: release.end };
  }
  hops.push([`${last.name} -> run ended`, Date.parse(run.finishedAt!) - last.at]);
  return { total, inCommands, inRunner: inBuilds - inCommands, inRelease: rel, engine: total - inBuilds - rel, hops };
}

/** Median round trips of the calls every engine hop makes, on the emulators the local mode runs. */
async function emulatorLatency(mode: LocalMode, n = 25): Promise<{ get: number; put: number; receive: number }> {
  const ddb = createDocumentClient(mode.aws);
  const sqs = createSqsClient(mode.aws);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'slipway-bench-probe' }));
  const time = async (f: () => Promise<unknown>) => { const t = performance.now(); await f(); return performance.now() - t; };
  const get: number[] = [];
  const put: number[] = [];
  const receive: number[] = [];
  for (let i = 0; i < n; i++) {
    put.push(await time(() => ddb.send(new PutCommand({ TableName: mode.aws.tableName, Item: { PK: 'bench#probe', SK: 'probe', n: i } }))));
    get.push(await time(() => ddb.send(new GetCommand({ TableName: mode.aws.tableName, Key: { PK: 'bench#probe', SK: 'probe' }, ConsistentRead: true }))));
    receive.push(await time(() => sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }))));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { get: med(get), put: med(put), receive: med(receive) };
}

/** Runs of the sample after the first, in the same local mode, whose overhead is given as a median. */
const WARM_RUNS = 5;

export async function benchLocalMode(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-'));
  const runOnce = async (mode: LocalMode, label: string): Promise<Overhead> => {
    const { runId } = await mode.api.requestRun(SAMPLE.pipelineId, { branch: 'main' }, { by: 'bench', requestId: randomUUID() });
    const run = await followRun(mode.api, runId, () => {});
    if (run.status !== 'succeeded') throw new Error(`${label} run ${run.status}: ${run.reason}`);
    return overhead(mode, run);
  };
  try {
    console.log(`\nLocal mode (sample pipeline test -> image -> deploy, blue-green 10/50/100 with 2 s intervals and 2 s bake; ${os.availableParallelism()} cores, so the early checkout is ${earlyCheckoutByDefault() ? 'on' : 'off'}):`);
    let t0 = Date.now();
    let mode = await startLocalMode({ dataDir, reset: true, quiet: true });
    const readyCold = Date.now() - t0;
    const first = await runOnce(mode, 'cold');
    const liveCold = Date.now() - t0;
    // The same local mode, kept running: what each further run costs once its code paths are warm.
    const warm: Overhead[] = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      mode.commit({ VERSION: `1.0.${i + 1}\n` }, `hello 1.0.${i + 1}`);
      warm.push(await runOnce(mode, `warm ${i + 1}`));
    }
    await mode.stop();

    t0 = Date.now();
    mode = await startLocalMode({ dataDir, quiet: true });
    const readyWarm = Date.now() - t0;
    mode.commit({ VERSION: '1.1.0\n' }, 'hello 1.1.0');
    const restarted = await runOnce(mode, 'after restart');
    const liveWarm = Date.now() - t0;
    const lat = await emulatorLatency(mode);
    await mode.stop();

    console.log(`  cold: engine ready ${secs(readyCold)}, first release live ${secs(liveCold)} after start`);
    console.log(`  warm: engine ready ${secs(readyWarm)}, next release live ${secs(liveWarm)} after start`);
    const line = (name: string, o: Overhead) => console.log(`  ${name}: ${secs(o.total)} in all = ${secs(o.inCommands)} in job commands + ${secs(o.inRelease)} releasing (incl. 4 x 2 s configured waits) + ${ms(o.inRunner)} build runner around the commands (checkout, toolchain, cache, packaging) + ${ms(o.engine)} engine (queue hops, decide, writes)`);
    line('first run after a fresh start', first);
    for (const [i, o] of warm.entries()) line(`run ${i + 2}, same local mode`, o);
    line('first run after a restart', restarted);
    const mid = median(warm.map((o) => o.engine));
    const runner = median(warm.map((o) => o.inRunner));
    console.log(`  local engine overhead per run, median of the ${WARM_RUNS} runs after the first: ${ms(mid)} (goal: 100 ms); build runner around the commands: ${ms(runner)}; first run after a fresh start: ${ms(first.engine)}, after a restart: ${ms(restarted.engine)}`);
    // Where the engine's share goes, hop by hop (median of the same runs).
    const hopNames = warm[0]!.hops.map(([n]) => n);
    console.log(`  the engine's hops on the critical path (median of the ${WARM_RUNS}): ${hopNames.map((n, i) => `${n} ${ms(median(warm.map((o) => o.hops[i]?.[1] ?? NaN)))}`).join(', ')}`);
    console.log(`  the emulators' round trips (median of 25): DynamoDB Local GetItem ${lat.get.toFixed(1)} ms, PutItem ${lat.put.toFixed(1)} ms; fauxqs ReceiveMessage ${lat.receive.toFixed(1)} ms`);
    console.log('  (each engine hop is at least a receive, a conditional write and a delete on the emulators, and a read when the engine did not write the run last or the event changes nothing; a short build\'s own JobStarted and IN_PROGRESS are handled ahead of its end)');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchLocalMode();
