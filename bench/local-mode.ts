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
import { SAMPLE, startLocalMode, type LocalMode } from '../cli/dev/local-mode.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms = (n: number) => `${Math.round(n)} ms`;

async function overhead(mode: LocalMode, run: RunState): Promise<{ total: number; inCommands: number; inRunner: number; inRelease: number; engine: number }> {
  const total = Date.parse(run.finishedAt!) - Date.parse(run.startedAt ?? run.createdAt);
  let inCommands = 0;
  let inBuilds = 0;
  for (const j of Object.values(run.jobs)) {
    if (!j.buildId) continue;
    inCommands += mode.builds.commandMs(j.buildId);
    inBuilds += mode.builds.wallMs(j.buildId);
  }
  const target = (await mode.api.getTarget(SAMPLE.target)) as { last?: { runId: string; startedAt: string; finishedAt?: string } };
  const rel = target.last?.runId === run.runId && target.last.finishedAt ? Date.parse(target.last.finishedAt) - Date.parse(target.last.startedAt) : 0;
  return { total, inCommands, inRunner: inBuilds - inCommands, inRelease: rel, engine: total - inBuilds - rel };
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

export async function benchLocalMode(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-'));
  try {
    console.log('\nLocal mode (sample pipeline test -> image -> deploy, blue-green 10/50/100 with 2 s intervals and 2 s bake):');
    let t0 = Date.now();
    let mode = await startLocalMode({ dataDir, reset: true, quiet: true });
    const readyCold = Date.now() - t0;
    let { runId } = await mode.api.requestRun(SAMPLE.pipelineId, { branch: 'main' }, { by: 'bench', requestId: randomUUID() });
    let run = await followRun(mode.api, runId, () => {});
    const liveCold = Date.now() - t0;
    if (run.status !== 'succeeded') throw new Error(`cold run ${run.status}: ${run.reason}`);
    const o1 = await overhead(mode, run);
    await mode.stop();

    t0 = Date.now();
    mode = await startLocalMode({ dataDir, quiet: true });
    const readyWarm = Date.now() - t0;
    mode.commit({ VERSION: '1.1.0\n' }, 'hello 1.1.0');
    ({ runId } = await mode.api.requestRun(SAMPLE.pipelineId, { branch: 'main' }, { by: 'bench', requestId: randomUUID() }));
    run = await followRun(mode.api, runId, () => {});
    const liveWarm = Date.now() - t0;
    if (run.status !== 'succeeded') throw new Error(`warm run ${run.status}: ${run.reason}`);
    const o2 = await overhead(mode, run);
    const lat = await emulatorLatency(mode);
    await mode.stop();

    console.log(`  cold: engine ready ${secs(readyCold)}, first release live ${secs(liveCold)} after start`);
    console.log(`  warm: engine ready ${secs(readyWarm)}, next release live ${secs(liveWarm)} after start`);
    for (const [name, o] of [['first run', o1], ['second run', o2]] as const) {
      console.log(`  ${name}: ${secs(o.total)} in all = ${secs(o.inCommands)} in job commands + ${secs(o.inRelease)} releasing (incl. 4 x 2 s configured waits) + ${ms(o.inRunner)} build runner around the commands (checkout, toolchain, cache, packaging) + ${ms(o.engine)} engine (queue hops, decide, writes)`);
    }
    console.log(`  the emulators' round trips (median of 25): DynamoDB Local GetItem ${lat.get.toFixed(1)} ms, PutItem ${lat.put.toFixed(1)} ms; fauxqs ReceiveMessage ${lat.receive.toFixed(1)} ms`);
    console.log('  (each engine hop is at least a receive, a read, a conditional write and a delete; a run of the sample has four hops on its critical path, more when a short build\'s own events queue ahead of its end)');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchLocalMode();
