/**
 * DynamoDB requests per job transition: drives the five-job example run
 * (test -> image -> deploy-staging -> approval -> deploy-production) through
 * `applyEvent` with the real `decide` against DynamoDB, counting every request
 * the SDK sends by command name, then redelivers every event once. Then the
 * same for a 200-job run, where the item is largest.
 *
 * Alone: `node --import tsx bench/dynamo.ts` (starts DynamoDB Local unless
 * SLIPWAY_DYNAMODB_ENDPOINT points at one).
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { pathToFileURL } from 'node:url';
import { ulid } from 'ulid';
import { awsConfigFromEnv, createDocumentClient, type AwsConfig } from '../shared/aws/clients.ts';
import { DynamoRunStore } from '../shared/aws/run-store.ts';
import { MAX_ITEM_BYTES, ensureTable, estimateItemSize, keys } from '../shared/aws/table.ts';
import { decide } from '../shared/domain/decide.ts';
import type { Effect } from '../shared/domain/run-effects.ts';
import type { EngineEvent } from '../shared/domain/run-events.ts';
import type { JobPlan } from '../shared/domain/run.ts';
import { largestPlan } from '../shared/domain/run-bounds.ts';
import { applyEvent, HeldGroup, RecentRuns } from '../shared/services/apply-event.ts';
import { engineMessageGroup } from '../shared/ports/messages.ts';
import type { RequestCounter } from '../shared/ports/index.ts';

/** Counts requests by SDK command name, and the capacity units DynamoDB reports for them. */
class CommandTally implements RequestCounter {
  counts = new Map<string, number>();
  units = new Map<string, number>();
  count(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }
  addUnits(operation: string, units: number): void {
    this.units.set(operation, (this.units.get(operation) ?? 0) + units);
  }
  take(): { counts: Map<string, number>; units: Map<string, number> } {
    const out = { counts: this.counts, units: this.units };
    this.counts = new Map();
    this.units = new Map();
    return out;
  }
}

/** A middleware on the client sees every request the adapters send; it also asks DynamoDB what each one cost. */
function countRequests(client: DynamoDBDocumentClient, tally: CommandTally): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      tally.count(name);
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
      if (consumed?.CapacityUnits !== undefined) tally.addUnits(name, consumed.CapacityUnits);
      return result;
    },
    { step: 'initialize', name: 'slipwayRequestCounter' },
  );
}

const EXAMPLE_PLAN: Record<string, JobPlan> = {
  test: { kind: 'build', needs: [], maxAttempts: 1 },
  image: { kind: 'image', needs: ['test'], maxAttempts: 1 },
  'deploy-staging': { kind: 'deploy', needs: ['image'], maxAttempts: 1, target: 'staging' },
  approval: { kind: 'approval', needs: ['deploy-staging'], maxAttempts: 1 },
  'deploy-production': { kind: 'deploy', needs: ['approval'], maxAttempts: 1, target: 'production' },
};

/** What the outside world answers to each effect, as events (in the order they would arrive). */
function eventsFor(effect: Effect, at: () => string, plan: Record<string, JobPlan>): EngineEvent[] {
  switch (effect.type) {
    case 'StartBuild': {
      const buildId = `slipway-small:${effect.token}`;
      const base = { runId: effect.runId, job: effect.job, attempt: effect.attempt, buildId };
      return [
        { type: 'JobStarted', id: `${effect.token}:started`, at: at(), ...base },
        { type: 'BuildStateChanged', id: `${buildId}:IN_PROGRESS`, at: at(), state: 'IN_PROGRESS', ...base },
        {
          type: 'BuildStateChanged', id: `${buildId}:SUCCEEDED`, at: at(), state: 'SUCCEEDED', ...base,
          ...(plan[effect.job]?.kind === 'image' ? { outputs: { imageUri: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:${'a'.repeat(40)}` } } : {}),
        },
      ];
    }
    case 'StartRelease': {
      const base = { runId: effect.runId, job: effect.job, attempt: effect.attempt, releaseId: effect.token };
      return [
        { type: 'ReleaseStarted', id: `${effect.token}:release-started`, at: at(), ...base },
        { type: 'ReleaseFinished', id: `${effect.token}:release-finished`, at: at(), outcome: 'succeeded', ...base },
      ];
    }
    case 'RequestApproval':
      return [{ type: 'ApprovalGiven', id: `${effect.runId}:${effect.job}:approved`, runId: effect.runId, at: at(), job: effect.job, by: 'release-manager' }];
    default:
      return [];
  }
}

function describe(counts: Map<string, number>): string {
  const parts = [...counts.entries()].sort().map(([k, v]) => `${v} ${k}`);
  return parts.length > 0 ? parts.join(' + ') : 'none';
}

function sum(counts: Map<string, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

interface DriveResult {
  rows: Array<{ event: string; counts: Map<string, number>; applied: boolean; effects: string }>;
  status: string;
  events: number;
  transitions: number;
  requests: Map<string, number>;
  units: Map<string, number>;
  writes: number;
  redelivery: Map<string, number>;
  replayedEffects: number;
  itemBytes: number;
}

/**
 * Plays the outside world: every effect's answers become events, applied one at a time as the FIFO
 * group would. `batches`: the events waiting when the engine asks are received together, as SQS
 * returns a group's messages, each batch holding its group (HeldGroup).
 */
async function driveRun(runs: DynamoRunStore, tally: CommandTally, plan: Record<string, JobPlan>, pipelineId: string, recent?: RecentRuns, batches = false): Promise<DriveResult> {
  const runId = ulid();
  let clock = Date.parse('2026-06-01T12:00:00.000Z');
  const at = () => new Date((clock += 1000)).toISOString();
  const queue: EngineEvent[] = [{
    type: 'RunRequested', id: `${runId}:requested`, runId, at: at(), pipelineId, pipelineVersion: 1, concurrency: 'superseded',
    trigger: { event: 'push', provider: 'github', repository: 'acme/shop', branch: 'main', commit: 'a'.repeat(40) },
    plan, skippedByWhen: [], admission: 'start',
  }];
  const delivered: EngineEvent[] = [];
  const rows: DriveResult['rows'] = [];
  const requests = new Map<string, number>();
  const units = new Map<string, number>();
  let writes = 0;
  let transitions = 0;
  tally.take();
  let holds = new Map<string, HeldGroup>();
  let batchLeft = 0;
  while (queue.length > 0) {
    // A new receive: what is waiting now arrives together; what its effects send, in the next one.
    if (batchLeft === 0) { batchLeft = queue.length; holds = new Map(); }
    batchLeft--;
    const event = queue.shift()!;
    const group = engineMessageGroup(event);
    const hold = batches ? holds.get(group) ?? holds.set(group, new HeldGroup(group)).get(group) : undefined;
    const result = await applyEvent({ runs, decide, ...(recent ? { recent } : {}) }, event, undefined, hold);
    const taken = tally.take();
    merge(requests, taken.counts);
    merge(units, taken.units);
    if (result.applied) transitions++;
    writes += (taken.counts.get('PutItem') ?? 0) + (taken.counts.get('UpdateItem') ?? 0) + (taken.counts.get('TransactWriteItems') ?? 0);
    const label = 'job' in event ? `${event.type} ${event.job}${event.type === 'BuildStateChanged' ? ` ${event.state}` : ''}` : event.type;
    rows.push({ event: label, counts: taken.counts, applied: result.applied, effects: result.effects.map((e) => e.type).join(', ') || '-' });
    delivered.push(event);
    for (const effect of result.effects) queue.push(...eventsFor(effect, at, plan));
  }
  const final = await runs.get(runId);
  tally.take();
  const redelivery = new Map<string, number>();
  let replayedEffects = 0;
  for (const event of delivered) {
    const r = await applyEvent({ runs, decide }, event);
    replayedEffects += r.effects.length;
    merge(redelivery, tally.take().counts);
  }
  return {
    rows, status: final.status, events: delivered.length, transitions, requests, units, writes, redelivery, replayedEffects,
    itemBytes: estimateItemSize({ ...keys.run(runId), state: final }),
  };
}

function merge(into: Map<string, number>, from: Map<string, number>): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

function summarize(r: DriveResult): void {
  const reads = r.requests.get('GetItem') ?? 0;
  console.log(`  run ended ${r.status}; ${r.events} events: ${r.transitions} state transitions, ${r.events - r.transitions} that changed nothing (not written)`);
  console.log(`  total: ${describe(r.requests)} = ${sum(r.requests)} requests, ${r.writes} of them conditional writes`);
  console.log(`  per event: ${(reads / r.events).toFixed(2)} read; per state transition: ${(r.writes / r.transitions).toFixed(2)} conditional write`);
  console.log(`  capacity units (DynamoDB's report): ${describe(r.units)}; mean ${((r.units.get('PutItem') ?? 0) / Math.max(1, r.writes)).toFixed(1)} write units per transition`);
  console.log(`  redelivering all ${r.events} events: ${describe(r.redelivery)}, no writes; ${r.replayedEffects} effects repeated from the run's outbox`);
  console.log(`  final run item: ~${(r.itemBytes / 1024).toFixed(1)} KB of DynamoDB's ${MAX_ITEM_BYTES / 1024} KB limit`);
}


/**
 * Prints the figures. `largeRunStages` > 0 (default 10) adds the large run: the
 * largest plan the definition bounds allow, 200 jobs (a minute or two on DynamoDB
 * Local, which is slow with 100 KB items); 0 skips it.
 */
export async function benchDynamo(cfg: AwsConfig, opts: { largeRunStages?: number } = {}): Promise<void> {
  const stages = opts.largeRunStages ?? 10;
  if (!cfg.dynamoEndpoint) throw new Error('benchDynamo creates a scratch table: point SLIPWAY_DYNAMODB_ENDPOINT at DynamoDB Local');
  const client = createDocumentClient(cfg);
  const tableName = `slipway-bench-${ulid().toLowerCase()}`;
  await ensureTable(client, tableName);
  try {
    const tally = new CommandTally();
    countRequests(client, tally);
    const runs = new DynamoRunStore(client, tableName);

    const small = await driveRun(runs, tally, EXAMPLE_PLAN, 'shop');
    console.log('\nDynamoDB, 5-job example run (test -> image -> deploy-staging -> approval -> deploy-production), applyEvent + decide:');
    console.log(`  ${'event'.padEnd(40)} ${'requests'.padEnd(22)} effects`);
    for (const r of small.rows) console.log(`  ${r.event.padEnd(40)} ${describe(r.counts).padEnd(22)} ${r.effects}${r.applied ? '' : ' (not written)'}`);
    summarize(small);
    // The same run handled by one warm engine instance, which decides on what it wrote last (RecentRuns).
    const warm = await driveRun(runs, tally, EXAMPLE_PLAN, 'shop', new RecentRuns());
    const warmReads = warm.requests.get('GetItem') ?? 0;
    console.log(`  the same run, every event handled by one warm engine instance (it remembers what it wrote): ${describe(warm.requests)} = ${sum(warm.requests)} requests (${warmReads} reads instead of ${small.requests.get('GetItem') ?? 0}: the run request's look for the run, and the ${warm.events - warm.transitions} events that change nothing, read again to be sure of it)`);
    // And receiving the events that wait together, as SQS does: a no-op next to what the same batch wrote needs no read.
    const held = await driveRun(runs, tally, EXAMPLE_PLAN, 'shop', new RecentRuns(), true);
    console.log(`  ... and receiving a run's waiting events together, as SQS returns a FIFO group's messages (the batch holds the group): ${describe(held.requests)} = ${sum(held.requests)} requests`);

    if (stages > 0) {
      const started = Date.now();
      // The largest plan the definition bounds allow (stages of 20 needing the whole stage before have too many needs now).
      const big = await driveRun(runs, tally, largestPlan(), 'monorepo');
      console.log('\nDynamoDB, the largest plan the definition bounds allow (200 jobs with 64-character names: 180 image jobs, 20 deploys, 500 needs):');
      summarize(big);
      console.log(`  (${((Date.now() - started) / 1000).toFixed(0)} s against ${cfg.dynamoEndpoint})`);
    }
    console.log('');
  } finally {
    await client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    client.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cfg = awsConfigFromEnv();
  type Emulators = { dynamoEndpoint: string; stop: () => Promise<void> };
  let emulators: Emulators | undefined;
  if (!cfg.dynamoEndpoint) {
    const mod = (await import(new URL('../cli/dev/emulators.mjs', import.meta.url).href)) as { startEmulators: () => Promise<Emulators> };
    emulators = await mod.startEmulators();
    cfg.dynamoEndpoint = emulators.dynamoEndpoint;
  }
  try {
    await benchDynamo(cfg);
  } finally {
    await emulators?.stop();
  }
}
