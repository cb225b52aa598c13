/**
 * DynamoDB requests per job transition: drives the five-job example run
 * (test -> image -> deploy-staging -> approval -> deploy-production) through
 * `applyEvent` with the real `decide` against DynamoDB, counting every request
 * the SDK sends by command name, then redelivers every event once.
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
import type { Effect, EngineEvent, JobPlan } from '../shared/domain/run.ts';
import { applyEvent } from '../shared/engine/apply-event.ts';
import type { RequestCounter } from '../shared/ports.ts';

/** Counts requests by SDK command name; a middleware on the client sees every one. */
class CommandTally implements RequestCounter {
  counts = new Map<string, number>();
  count(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }
  take(): Map<string, number> {
    const out = this.counts;
    this.counts = new Map();
    return out;
  }
}

function countRequests(client: DynamoDBDocumentClient, counter: RequestCounter): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counter.count(String(context.commandName ?? 'unknown').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'slipwayRequestCounter' },
  );
}

const PLAN: Record<string, JobPlan> = {
  test: { kind: 'build', needs: [], maxAttempts: 1 },
  image: { kind: 'image', needs: ['test'], maxAttempts: 1 },
  'deploy-staging': { kind: 'deploy', needs: ['image'], maxAttempts: 1, target: 'staging' },
  approval: { kind: 'approval', needs: ['deploy-staging'], maxAttempts: 1 },
  'deploy-production': { kind: 'deploy', needs: ['approval'], maxAttempts: 1, target: 'production' },
};

/** What the outside world answers to each effect, as events (in the order they would arrive). */
function eventsFor(effect: Effect, at: () => string): EngineEvent[] {
  switch (effect.type) {
    case 'StartBuild': {
      const buildId = `slipway-small:${effect.token}`;
      const base = { runId: effect.runId, job: effect.job, attempt: effect.attempt, buildId };
      return [
        { type: 'JobStarted', id: `${effect.token}:started`, at: at(), ...base },
        { type: 'BuildStateChanged', id: `${buildId}:IN_PROGRESS`, at: at(), state: 'IN_PROGRESS', ...base },
        {
          type: 'BuildStateChanged', id: `${buildId}:SUCCEEDED`, at: at(), state: 'SUCCEEDED', ...base,
          ...(PLAN[effect.job]?.kind === 'image' ? { outputs: { imageUri: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:${'a'.repeat(40)}` } } : {}),
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

export async function benchDynamo(cfg: AwsConfig): Promise<void> {
  if (!cfg.dynamoEndpoint) throw new Error('benchDynamo creates a scratch table: point SLIPWAY_DYNAMODB_ENDPOINT at DynamoDB Local');
  const client = createDocumentClient(cfg);
  const tableName = `slipway-bench-${ulid().toLowerCase()}`;
  await ensureTable(client, tableName);
  try {
    const tally = new CommandTally();
    countRequests(client, tally);
    const runs = new DynamoRunStore(client, tableName);
    const runId = ulid();
    let clock = Date.parse('2026-06-01T12:00:00.000Z');
    const at = () => new Date((clock += 1000)).toISOString();

    const queue: EngineEvent[] = [{
      type: 'RunRequested', id: `${runId}:requested`, runId, at: at(), pipelineId: 'shop', pipelineVersion: 1, concurrency: 'superseded',
      trigger: { event: 'push', provider: 'github', repository: 'acme/shop', branch: 'main', commit: 'a'.repeat(40) },
      plan: PLAN, skippedByWhen: [], admission: 'start',
    }];
    const delivered: EngineEvent[] = [];
    const rows: Array<{ event: string; counts: Map<string, number>; applied: boolean; effects: string }> = [];
    const total = new Map<string, number>();
    let writes = 0;
    let transitions = 0;

    while (queue.length > 0) {
      const event = queue.shift()!;
      tally.take();
      const result = await applyEvent({ runs, decide }, event);
      const counts = tally.take();
      for (const [k, v] of counts) total.set(k, (total.get(k) ?? 0) + v);
      if (result.applied) transitions++;
      writes += (counts.get('PutItem') ?? 0) + (counts.get('UpdateItem') ?? 0) + (counts.get('TransactWriteItems') ?? 0);
      const label = 'job' in event ? `${event.type} ${event.job}${event.type === 'BuildStateChanged' ? ` ${event.state}` : ''}` : event.type;
      rows.push({ event: label, counts, applied: result.applied, effects: result.effects.map((e) => e.type).join(', ') || '-' });
      delivered.push(event);
      for (const effect of result.effects) queue.push(...eventsFor(effect, at));
    }

    const final = await runs.get(runId);
    tally.take();
    const redelivery = new Map<string, number>();
    let replayedEffects = 0;
    for (const event of delivered) {
      const r = await applyEvent({ runs, decide }, event);
      replayedEffects += r.effects.length;
      for (const [k, v] of tally.take()) redelivery.set(k, (redelivery.get(k) ?? 0) + v);
    }

    console.log('\nDynamoDB requests, 5-job run (test -> image -> deploy-staging -> approval -> deploy-production) through applyEvent + decide');
    console.log(`  ${'event'.padEnd(40)} ${'requests'.padEnd(22)} effects`);
    for (const r of rows) console.log(`  ${r.event.padEnd(40)} ${describe(r.counts).padEnd(22)} ${r.effects}${r.applied ? '' : ' (not written)'}`);
    console.log(`  run ended ${final.status}; ${delivered.length} events, ${transitions} state transitions, ${rows.length - transitions} events that changed nothing`);
    console.log(`  total: ${describe(total)} = ${sum(total)} requests; ${writes} conditional writes`);
    const reads = total.get('GetItem') ?? 0;
    console.log(`  per event: ${(reads / delivered.length).toFixed(2)} reads; per state transition: ${(writes / transitions).toFixed(2)} conditional writes (${(sum(total) / transitions).toFixed(2)} requests all told)`);
    console.log(`  redelivering all ${delivered.length} events: ${describe(redelivery)}, no writes; ${replayedEffects} effects repeated (last event's outbox only)`);
    console.log(`  final run item: ~${estimateItemSize({ ...keys.run(runId), state: final })} bytes (limit ${MAX_ITEM_BYTES})\n`);
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
    const mod = (await import(new URL('../scripts/emulators.mjs', import.meta.url).href)) as { startEmulators: () => Promise<Emulators> };
    emulators = await mod.startEmulators();
    cfg.dynamoEndpoint = emulators.dynamoEndpoint;
  }
  try {
    await benchDynamo(cfg);
  } finally {
    await emulators?.stop();
  }
}
