/**
 * One semantics for outputs and inputs: the same cases run through the
 * generated buildspec (its post_build and pre_build commands under bash, with a
 * fake `aws` that stores objects as S3 does, without file modes) and through the
 * local build runner (against an in-memory bucket), and must give the same
 * artifacts, the same failures and the same executable bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generateBuildspec } from '../../shared/services/buildspec.ts';
import { toBuildStateChanged, type BuildStateChangeEvent } from '../../shared/services/build-events.ts';
import { LocalBuildRunner } from '../../shared/local/build-runner.ts';
import { jobSpec } from '../support/engine-fixtures.ts';

/** stdin from /dev/null, as CodeBuild runs commands: bash reads ~/.bashrc when stdin is a socket and SHLVL is unset (Debian's build), which costs seconds a command on a machine with a heavy one. */
const NO_STDIN: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];

/** A workspace file: its content, and whether it is executable. */
type Files = Record<string, { exec?: boolean }>;

interface Case {
  name: string;
  files: Files;
  outputs: string[];
  /** Keys under runs/<run>/build/, or the pattern that matched nothing. */
  expected: { keys: string[]; executables: string[] } | { unmatched: string };
}

const CASES: Case[] = [
  {
    name: 'a ** wildcard takes every file below, a binary stays executable',
    files: { 'dist/app.js': {}, 'dist/bin/tool': { exec: true }, 'src/main.c': {} },
    outputs: ['dist/**'],
    expected: { keys: ['dist/app.js', 'dist/bin/tool'], executables: ['dist/bin/tool'] },
  },
  {
    name: 'a directory named plainly is taken whole',
    files: { 'target/app.jar': {}, 'target/classes/A.class': {}, 'target/run.sh': { exec: true }, 'pom.xml': {} },
    outputs: ['target'],
    expected: { keys: ['target/app.jar', 'target/classes/A.class', 'target/run.sh'], executables: ['target/run.sh'] },
  },
  {
    name: 'a single * stays in its directory; plain files and dotfiles are matched',
    files: { 'dist/a.js': {}, 'dist/sub/b.js': {}, '.env.example': {}, 'bin/run': { exec: true } },
    outputs: ['dist/*', '.env.*', './bin/run'],
    expected: { keys: ['.env.example', 'bin/run', 'dist/a.js'], executables: ['bin/run'] },
  },
  {
    name: 'an output that matches nothing fails the job',
    files: { 'src/index.ts': {} },
    outputs: ['src/**', 'dist/**'],
    expected: { unmatched: 'dist/**' },
  },
  {
    name: 'a plain path that does not exist fails the job',
    files: { 'a.txt': {} },
    outputs: ['a.txt', 'report.xml'],
    expected: { unmatched: 'report.xml' },
  },
];

function writeFiles(dir: string, files: Files): void {
  for (const [f, { exec }] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), `content of ${f}\n`);
    chmodSync(path.join(dir, f), exec ? 0o755 : 0o644);
  }
}

/** Relative files under `dir` (without .git), with their executable bit. */
function survey(dir: string, rel = ''): { files: string[]; executables: string[] } {
  const out = { files: [] as string[], executables: [] as string[] };
  for (const name of readdirSync(path.join(dir, rel))) {
    if (name === '.git') continue;
    const r = rel ? `${rel}/${name}` : name;
    const st = statSync(path.join(dir, r));
    if (st.isDirectory()) {
      const sub = survey(dir, r);
      out.files.push(...sub.files);
      out.executables.push(...sub.executables);
    } else {
      out.files.push(r);
      if (st.mode & 0o100) out.executables.push(r);
    }
  }
  return { files: out.files.sort(), executables: out.executables.sort() };
}

/** `aws s3 cp [--recursive]` onto a folder: objects keep their bytes and lose their modes, as in S3. */
const FAKE_AWS = `#!/bin/bash
rec=0; args=()
for a in "$@"; do case "$a" in s3|cp|--only-show-errors) ;; --recursive) rec=1 ;; *) args+=("$a") ;; esac; done
map() { case "$1" in s3://*) echo "$S3ROOT/\${1#s3://}" ;; *) echo "$1" ;; esac; }
S=$(map "\${args[0]}"); D=$(map "\${args[1]}")
if [ "$rec" = 1 ]; then
  [ -d "$S" ] || exit 0
  (cd "$S" && find . -type f) | while IFS= read -r f; do mkdir -p "$(dirname "$D/$f")"; cat "$S/$f" > "$D/$f"; done
else
  [ -f "$S" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation" >&2; exit 1; }
  mkdir -p "$(dirname "$D")"; cat "$S" > "$D"
fi
`;

interface Outcome { keys?: string[]; executables?: string[]; unmatched?: boolean }

/** The buildspec side: the producer's post_build, then a consumer's pre_build in a fresh workspace. */
function throughBuildspec(c: Case, root = 'runs'): Outcome {
  const dir = mkdtempSync(path.join(tmpdir(), 'semantics-cb-'));
  const bin = path.join(dir, 'bin');
  const s3 = path.join(dir, 's3');
  const work = path.join(dir, 'work');
  const next = path.join(dir, 'next');
  for (const d of [bin, s3, work, next]) mkdirSync(d);
  writeFileSync(path.join(bin, 'aws'), FAKE_AWS);
  chmodSync(path.join(bin, 'aws'), 0o755);
  writeFiles(work, c.files);
  const env = { PATH: `${bin}:/usr/bin:/bin`, S3ROOT: s3, SLIPWAY_ARTIFACT_BUCKET: 'bucket', SLIPWAY_ARTIFACT_ROOT: root, SLIPWAY_RUN_ID: 'R1', CODEBUILD_BUILD_SUCCEEDING: '1', TMPDIR: dir };
  const phases = (job: ReturnType<typeof jobSpec>) => (parse(generateBuildspec(job)) as { phases: Record<string, { commands: string[] }> }).phases;
  // Like CodeBuild: one command after the other, the phase failing at the first that fails.
  for (const command of phases(jobSpec('build', { outputs: c.outputs })).post_build.commands) {
    const r = spawnSync('bash', ['-c', command], { cwd: work, env, encoding: 'utf8', stdio: NO_STDIN });
    if (r.status !== 0) return { unmatched: /matched no file/.test(r.stderr) };
  }
  const prefix = path.join(s3, 'bucket', root, 'R1', 'build');
  const keys = survey(prefix).files;
  for (const command of phases(jobSpec('test', { inputs: ['build'], commands: ['true'] })).pre_build.commands) {
    execFileSync('bash', ['-c', command], { cwd: next, env, stdio: NO_STDIN });
  }
  return { keys, executables: survey(next).executables };
}

/** An in-memory bucket answering the three calls the local runner makes. */
function memoryS3(objects: Map<string, Buffer>): S3Client {
  return {
    async send(cmd: unknown) {
      if (cmd instanceof ListObjectsV2Command) {
        const prefix = cmd.input.Prefix ?? '';
        return { Contents: [...objects.keys()].filter((k) => k.startsWith(prefix)).map((Key) => ({ Key })) };
      }
      if (cmd instanceof GetObjectCommand) {
        const body = objects.get(cmd.input.Key!);
        if (!body) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' });
        return { Body: { transformToByteArray: async () => new Uint8Array(body), transformToString: async () => body.toString('utf8') } };
      }
      if (cmd instanceof PutObjectCommand) {
        objects.set(cmd.input.Key!, Buffer.from(cmd.input.Body as Buffer | string));
        return {};
      }
      throw new Error(`unexpected S3 call ${(cmd as object).constructor.name}`);
    },
  } as unknown as S3Client;
}

/** The local side: a producer job on a repository holding the files, then a consumer taking its outputs. */
async function throughLocalRunner(c: Case, lane: 'release' | 'pull-request' = 'release'): Promise<Outcome> {
  const repo = mkdtempSync(path.join(tmpdir(), 'semantics-repo-'));
  writeFiles(repo, c.files);
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: repo, encoding: 'utf8' }).stdout.trim();
  git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'x');
  const sha = git('rev-parse', 'HEAD');
  const objects = new Map<string, Buffer>();
  const events: BuildStateChangeEvent[] = [];
  const runner = new LocalBuildRunner({
    dataDir: mkdtempSync(path.join(tmpdir(), 'semantics-data-')), repositoryPath: () => repo, s3: memoryS3(objects), artifactBucket: 'bucket',
    onStateChange: (e) => { events.push(e); },
  });
  const request = (spec: ReturnType<typeof jobSpec>) => ({ runId: 'R1', pipelineId: 'p', job: spec.name, attempt: 1, token: `R1:${spec.name}`, commit: sha, repository: 'acme/x', provider: 'github' as const, spec, lane });
  const root = lane === 'release' ? 'runs' : 'pr-runs';
  await runner.start(request(jobSpec('build', { outputs: c.outputs, commands: ['true'] })));
  await runner.idle();
  const produced = await toBuildStateChanged(events.at(-1)!);
  if (produced?.state !== 'SUCCEEDED') return { unmatched: /matched no file/.test(produced?.reason ?? '') };
  const keys = [...objects.keys()].filter((k) => k.startsWith(`${root}/R1/build/`)).map((k) => k.slice(`${root}/R1/build/`.length)).sort();
  assert.ok([...objects.keys()].every((k) => k.startsWith(`${root}/`)), `every object in the run's lane namespace: ${[...objects.keys()].join(', ')}`);
  // The consumer lists the executable files it received (and only those that came from the input).
  const fromInput = keys.map((k) => `'${k}'`).join(' ');
  const { buildId } = await runner.start(request(jobSpec('test', { inputs: ['build'], commands: [`for f in ${fromInput}; do if [ -x "$f" ]; then echo "EXEC $f"; fi; done`] })));
  await runner.idle();
  const { readFileSync } = await import('node:fs');
  const executables = [...readFileSync(runner.logFile(buildId), 'utf8').matchAll(/Z EXEC (\S+)$/gm)].map((m) => m[1]).sort();
  return { keys, executables };
}

for (const c of CASES) {
  test(`buildspec and local runner agree: ${c.name}`, async () => {
    const expected: Outcome = 'unmatched' in c.expected ? { unmatched: true } : c.expected;
    assert.deepEqual(throughBuildspec(c), expected, 'generated buildspec');
    assert.deepEqual(await throughLocalRunner(c), expected, 'local runner');
  });
}

test('a pull request\'s outputs, and the list of its executables, stay in its lane\'s namespace on both sides', async () => {
  const c = CASES[0];
  assert.deepEqual(throughBuildspec(c, 'pr-runs'), c.expected);
  assert.deepEqual(await throughLocalRunner(c, 'pull-request'), c.expected);
});
