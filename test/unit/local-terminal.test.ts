/**
 * Defect 8a: the local mode's terminal printed a job's build log before the job's status
 * line ("test running" came after test's output), because the status is polled and the log
 * lines are not. Real builds (LocalBuildRunner) and a stand-in engine that, like the real one
 * behind its queue, records a build's state change a moment after the build reported it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { JobSpec } from '../../shared/domain/pipeline.ts';
import type { JobState, RunState } from '../../shared/domain/run.ts';
import { LocalBuildRunner } from '../../shared/local/build-runner.ts';
import { followRun, RunTerminal } from '../../cli/dev/follow.ts';

const ENGINE_LAG_MS = 300;

function repo(): { dir: string; sha: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-repo-'));
  writeFileSync(path.join(dir, 'README'), 'x\n');
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...a], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'x');
  return { dir, sha: git('rev-parse', 'HEAD') };
}

const spec = (name: string, commands: string[], over: Partial<JobSpec> = {}): JobSpec => ({
  name, kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, install: [], commands, cache: [], env: {},
  outputs: [], inputs: [], timeoutMinutes: 5, retries: 0, compute: 'small', ...over,
});

/** Runs build, then test (which fails once and is retried), and returns the terminal's lines. */
async function terminalOfRun(): Promise<string[]> {
  const { dir, sha } = repo();
  const lines: string[] = [];
  const terminal = new RunTerminal((l) => lines.push(l));
  const jobs: Record<string, JobState> = { build: { status: 'queued', attempt: 1 }, test: { status: 'pending', attempt: 0 } };
  const run = (): RunState => ({ runId: 'R1', status: Object.values(jobs).every((j) => j.status === 'succeeded') ? 'succeeded' : 'running', jobs: structuredClone(jobs) }) as unknown as RunState;
  const specs: Record<string, JobSpec> = {
    build: spec('build', ['echo compiling']),
    test: spec('test', ['[ "$SLIPWAY_ATTEMPT" = 2 ] || { echo flaky; exit 1; }', 'echo all tests passed'], { needs: ['build'], retries: 1 }),
  };
  const runner: LocalBuildRunner = new LocalBuildRunner({
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'slipway-data-')),
    repositoryPath: () => dir,
    s3: {} as S3Client,
    artifactBucket: 'bucket',
    onLog: (_id, line, build) => terminal.buildLog(build, line),
    // The engine: the event reaches it through a queue, then it records the state and starts what comes next.
    onStateChange: (e) => {
      const vars = Object.fromEntries((e.detail['additional-information']?.environment?.['environment-variables'] ?? []).map((v) => [v.name, v.value]));
      const job = vars.SLIPWAY_JOB;
      const attempt = Number(vars.SLIPWAY_ATTEMPT);
      setTimeout(() => {
        const status = e.detail['build-status'];
        if (status === 'IN_PROGRESS') jobs[job] = { status: 'running', attempt };
        else if (status === 'SUCCEEDED') jobs[job] = { status: 'succeeded', attempt };
        else jobs[job] = { status: 'queued', attempt: attempt + 1 };
        const next = status === 'SUCCEEDED' ? (job === 'build' ? 'test' : undefined) : status === 'IN_PROGRESS' ? undefined : job;
        if (next) {
          jobs[next] = { status: 'queued', attempt: next === job ? attempt + 1 : 1 };
          void runner.start({ runId: 'R1', pipelineId: 'p', job: next, attempt: jobs[next].attempt, token: `R1:${next}:${jobs[next].attempt}`, commit: sha, branch: 'main', repository: 'acme/x', provider: 'github', spec: specs[next] });
        }
      }, ENGINE_LAG_MS);
    },
  });
  await runner.start({ runId: 'R1', pipelineId: 'p', job: 'build', attempt: 1, token: 'R1:build:1', commit: sha, branch: 'main', repository: 'acme/x', provider: 'github', spec: specs.build });
  const ended = await followRun({ getRun: async () => run() }, 'R1', terminal, 30_000);
  assert.equal(ended.status, 'succeeded', lines.join('\n'));
  return lines;
}

test('the terminal prints each job\'s status line before its build\'s log lines, and each status once', { timeout: 60_000 }, async () => {
  const lines = await terminalOfRun();
  const at = (re: RegExp) => {
    const i = lines.findIndex((l) => re.test(l));
    assert.ok(i >= 0, `${re} not in:\n${lines.join('\n')}`);
    return i;
  };
  const shown = lines.join('\n');
  assert.ok(at(/\] build\s+running$/) < at(/^ {2}\| compiling$/), shown);
  assert.ok(at(/\] test\s+running$/) < at(/^ {2}\| flaky$/), shown);
  assert.ok(at(/\] test\s+running \(attempt 2\)$/) < at(/^ {2}\| all tests passed$/), shown);
  assert.ok(at(/^ {2}\| flaky$/) < at(/\] test\s+running \(attempt 2\)$/), 'the retry\'s line comes after the first attempt\'s output');
  // The poll sees the same changes later: they are not printed again.
  for (const status of [/\] build\s+running$/, /\] test\s+running$/, /\] test\s+running \(attempt 2\)$/, /\] test\s+succeeded/]) {
    assert.equal(lines.filter((l) => status.test(l)).length, 1, `${status} once:\n${shown}`);
  }
  assert.ok(at(/\] build\s+succeeded/) < at(/\] test\s+succeeded/), shown);
});

test('a status line is not printed for a state the job has already left', () => {
  const lines: string[] = [];
  const t = new RunTerminal((l) => lines.push(l));
  t.status('R', 'test', { status: 'running', attempt: 1 });
  t.status('R', 'test', { status: 'queued', attempt: 1 });
  t.status('R', 'test', { status: 'running', attempt: 1 });
  t.status('R', 'test', { status: 'queued', attempt: 2 });
  t.status('R', 'test', { status: 'failed', attempt: 2, reason: 'build failed' });
  t.status('R', 'test', { status: 'running', attempt: 1 });
  t.status('R2', 'test', { status: 'running', attempt: 1 });
  assert.deepEqual(lines.map((l) => l.replace(/^\[\s*[\d.]+s\] /, '')), [
    'test         running',
    'test         queued (attempt 2)',
    'test         failed (attempt 2) - build failed',
    'test         running',
  ]);
});
