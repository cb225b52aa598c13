/** Scheduled runs: cron in a time zone, a fake clock, and the run request a schedule makes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dueTimes, parseCron, toEventBridgeCron } from '../../shared/domain/schedule.ts';
import { parsePipeline } from '../../shared/domain/definition.ts';
import { fireDueSchedules, type ScheduleDeps } from '../../shared/services/schedules.ts';
import { describeProvenance } from '../../shared/domain/run.ts';
import type { PipelineRecord, RunSummary } from '../../shared/ports/index.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { MemoryEventQueue } from '../support/memory-stores.ts';

const HEAD = 'a'.repeat(40);

const DEFINITION = `
name: web
source: { provider: github, repository: acme/web }
schedules:
  - name: nightly
    cron: "0 2 * * 1-5"
    timezone: Europe/Berlin
    branch: main
    parameters: { SUITE: full }
  - name: weekly
    cron: "30 6 * * SUN"
    branch: release
    onlyIfChanged: true
jobs:
  test: { template: node }
`;

function record(): PipelineRecord {
  const spec = parsePipeline(DEFINITION);
  if (!spec.ok) throw new Error(spec.problems.map((p) => p.message).join('; '));
  return { id: 'web', version: 1, spec: spec.spec, definitionSource: { kind: 'registered' }, createdAt: '2026-11-01T00:00:00Z' };
}

function deps(runs: RunSummary[] = []) {
  const queue = new MemoryEventQueue();
  const d: ScheduleDeps = {
    pipelines: { list: async () => ({ items: [record()] }) },
    runs: { listByPipeline: async () => ({ items: runs }) },
    queue,
    resolveBranch: async () => HEAD,
    newRunId: () => '01JSCHEDULED0000000000000001',
  };
  return { d, queue };
}

test('the definition keeps schedules with their defaults (UTC, no parameters, onlyIfChanged false)', () => {
  const spec = record().spec;
  assert.deepEqual(spec.schedules, [
    { name: 'nightly', cron: '0 2 * * 1-5', timezone: 'Europe/Berlin', branch: 'main', parameters: { SUITE: 'full' }, onlyIfChanged: false },
    { name: 'weekly', cron: '30 6 * * SUN', timezone: 'UTC', branch: 'release', parameters: {}, onlyIfChanged: true },
  ]);
});

test('a bad cron or time zone is refused with the schedule\'s path and the reason', () => {
  const bad = parsePipeline(DEFINITION.replace('"0 2 * * 1-5"', '"0 25 * *"').replace('Europe/Berlin', 'Mars/Olympus'));
  assert.equal(bad.ok, false);
  const text = bad.ok ? '' : bad.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  assert.match(text, /schedules\[0\]\.cron: .*4 fields/);
  assert.match(text, /schedules\[0\]\.timezone: must be an IANA time zone/);
});

test('a schedule fires at its wall-clock time in its time zone (fake clock), and its run says schedule', async () => {
  const { d, queue } = deps();
  // Tuesday 1 December 2026, 02:00 in Berlin is 01:00 UTC (CET, UTC+1).
  const before = Date.parse('2026-12-01T00:59:00Z');
  assert.deepEqual(await fireDueSchedules(d, before - 60_000, before), []);
  const fired = await fireDueSchedules(d, before, Date.parse('2026-12-01T01:00:30Z'));
  assert.deepEqual(fired.map((f) => [f.schedule, f.scheduledTime]), [['nightly', '2026-12-01T01:00:00.000Z']]);
  const request = queue.sent[0] as RunRequest;
  assert.equal(request.trigger.event, 'schedule');
  assert.equal(request.trigger.schedule, 'nightly');
  assert.equal(request.trigger.branch, 'main');
  assert.equal(request.trigger.commit, HEAD);
  assert.deepEqual(request.trigger.parameters, { SUITE: 'full' });
  assert.equal(request.id, 'req:schedule:web:nightly:2026-12-01T01:00:00.000Z');
  assert.equal(describeProvenance(request.trigger), 'schedule nightly on main by slipway (schedule): trusted');
  // Nothing more is due in the next minutes; Saturday's 02:00 is not a weekday.
  assert.deepEqual(await fireDueSchedules(d, Date.parse('2026-12-01T01:00:30Z'), Date.parse('2026-12-01T01:10:00Z')), []);
  assert.deepEqual(dueTimes({ cron: '0 2 * * 1-5', timezone: 'Europe/Berlin' }, Date.parse('2026-12-05T00:00:00Z'), Date.parse('2026-12-05T23:59:00Z')), []);
});

test('summer time moves the UTC instant, not the wall clock', () => {
  // 1 July 2026 is CEST (UTC+2): 02:00 in Berlin is 00:00 UTC.
  assert.deepEqual(dueTimes({ cron: '0 2 * * 1-5', timezone: 'Europe/Berlin' }, Date.parse('2026-06-30T23:00:00Z'), Date.parse('2026-07-01T02:00:00Z')), ['2026-07-01T00:00:00.000Z']);
});

test('onlyIfChanged skips a branch head that already ran green, and runs a new one', async () => {
  const green: RunSummary = { runId: 'r1', pipelineId: 'web', status: 'succeeded', branch: 'release', commit: HEAD, createdAt: '2026-12-05T00:00:00Z' };
  const sunday = [Date.parse('2026-12-06T06:29:00Z'), Date.parse('2026-12-06T06:31:00Z')] as const;
  const unchanged = deps([green]);
  const fired = await fireDueSchedules(unchanged.d, ...sunday);
  assert.deepEqual(fired.map((f) => f.outcome), [{ started: false, why: 'unchanged', commit: HEAD }]);
  assert.equal(unchanged.queue.sent.length, 0);
  const changed = deps([{ ...green, commit: 'b'.repeat(40) }]);
  await fireDueSchedules(changed.d, ...sunday);
  assert.equal(changed.queue.sent.length, 1);
  assert.equal((changed.queue.sent[0] as RunRequest).trigger.schedule, 'weekly');
});

test('cron expressions become EventBridge Scheduler expressions (? in one day field, weekdays 1-7 from Sunday)', () => {
  assert.equal(toEventBridgeCron('0 2 * * 1-5'), 'cron(0 2 ? * 2,3,4,5,6 *)');
  assert.equal(toEventBridgeCron('15 3 1 * *'), 'cron(15 3 1 * ? *)');
  assert.throws(() => toEventBridgeCron('0 0 1 * 1'), /cannot restrict both/);
  assert.throws(() => parseCron('61 * * * *'), /minute: 61 is outside 0-59/);
});

test('a disabled pipeline\'s schedules start nothing and read no branch; enabled again, the next time due fires', async () => {
  const queue = new MemoryEventQueue();
  const lookups: string[] = [];
  const infos: Array<[string, Record<string, unknown> | undefined]> = [];
  let pipeline: PipelineRecord = { ...record(), disabled: { by: 'alice', at: '2026-11-30T00:00:00Z' } };
  const d: ScheduleDeps = {
    pipelines: { list: async () => ({ items: [pipeline] }) },
    runs: { listByPipeline: async () => ({ items: [] }) },
    queue,
    resolveBranch: async (_p, _r, branch) => { lookups.push(branch); return HEAD; },
    logger: { info: (m, x) => infos.push([m, x]), warn: () => undefined },
  };
  // Tuesday 1 December 2026, 02:00 in Berlin (01:00 UTC): nightly is due.
  assert.deepEqual(await fireDueSchedules(d, Date.parse('2026-12-01T00:59:00Z'), Date.parse('2026-12-01T01:00:30Z')), []);
  assert.equal(queue.sent.length, 0);
  assert.deepEqual(lookups, []);
  assert.deepEqual(infos, [['scheduled run not requested: the pipeline is disabled', { pipelineId: 'web', schedule: 'nightly', scheduledTimes: ['2026-12-01T01:00:00.000Z'], disabledBy: 'alice' }]]);

  pipeline = record();
  const fired = await fireDueSchedules(d, Date.parse('2026-12-02T00:59:00Z'), Date.parse('2026-12-02T01:00:30Z'));
  assert.deepEqual(fired.map((f) => [f.schedule, f.scheduledTime]), [['nightly', '2026-12-02T01:00:00.000Z']]);
  assert.equal(queue.sent.length, 1);
});
