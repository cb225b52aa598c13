import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../shared/aws/clients.ts';
import { S3ArtifactStore } from '../../shared/aws/artifact-store.ts';
import { LocalBuildRunner } from '../../shared/local/build-runner.ts';
import type { JobSpec } from '../../shared/domain/pipeline.ts';
import type { BuildStateChangeEvent } from '../../shared/services/build-events.ts';
import { restoreArtifacts, saveArtifacts } from '../../cli/dev/artifact-sync.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';

test('the local mode keeps artifacts on disk across a restart of the in-memory S3 emulator', async () => {
  const s3 = createS3Client(emulatorConfig());
  const before = uniqueName('before').toLowerCase();
  const after = uniqueName('after').toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: before }));
  await s3.send(new CreateBucketCommand({ Bucket: after }));
  await s3.send(new PutObjectCommand({ Bucket: before, Key: 'runs/R1/build/dist/app.js', Body: 'console.log(1)' }));
  await s3.send(new PutObjectCommand({ Bucket: before, Key: 'runs/R1/test/reports/junit.xml', Body: '<testsuite/>' }));
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'slipway-artifacts-')), 'artifacts');

  assert.equal(await saveArtifacts(s3, before, dir), 2);
  assert.equal(await saveArtifacts(s3, before, dir), 0, 'write-once: nothing copied twice');
  assert.equal(await restoreArtifacts(s3, after, dir), 2);

  const keys = (await s3.send(new ListObjectsV2Command({ Bucket: after }))).Contents?.map((o) => o.Key).sort();
  assert.deepEqual(keys, ['runs/R1/build/dist/app.js', 'runs/R1/test/reports/junit.xml']);
  const body = await (await s3.send(new GetObjectCommand({ Bucket: after, Key: 'runs/R1/build/dist/app.js' }))).Body!.transformToString();
  assert.equal(body, 'console.log(1)');
});

test('a re-run keeping a job (--failed) hands its outputs to the re-run\'s jobs still executable', async () => {
  const s3 = createS3Client(emulatorConfig());
  const bucket = uniqueName('rerun').toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const repo = mkdtempSync(path.join(os.tmpdir(), 'slipway-repo-'));
  writeFileSync(path.join(repo, 'README'), 'x\n');
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...a], { cwd: repo, encoding: 'utf8' }).stdout.trim();
  git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'x');
  const commit = git('rev-parse', 'HEAD');
  const ended: BuildStateChangeEvent[] = [];
  const runner = new LocalBuildRunner({
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'slipway-data-')), repositoryPath: () => repo, s3, artifactBucket: bucket,
    onStateChange: (e) => { if (e.detail['build-status'] !== 'IN_PROGRESS') ended.push(e); },
  });
  const job = (name: string, over: Partial<JobSpec>): JobSpec => ({
    name, kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, install: [], commands: [], cache: [], env: {},
    outputs: [], inputs: [], timeoutMinutes: 5, retries: 0, compute: 'small', ...over,
  });
  const run = async (runId: string, spec: JobSpec) => {
    const { buildId } = await runner.start({ runId, pipelineId: 'p', job: spec.name, attempt: 1, token: `${runId}:${spec.name}`, commit, branch: 'main', repository: 'acme/x', provider: 'github', spec });
    await runner.idle();
    return { status: ended.at(-1)!.detail['build-status'], log: readFileSync(runner.logFile(buildId), 'utf8') };
  };
  // The old run: build made an executable tool (kept by the re-run); test used it and failed.
  const built = await run('OLD', job('build', { commands: ['mkdir -p bin && printf \'#!/bin/sh\\necho the tool ran\\n\' > bin/tool && chmod +x bin/tool'], outputs: ['bin/tool'] }));
  assert.equal(built.status, 'SUCCEEDED', built.log);

  assert.equal(await new S3ArtifactStore(s3, bucket).copyJob('OLD', 'NEW', 'build'), 1);

  const tested = await run('NEW', job('test', { needs: ['build'], inputs: ['build'], commands: ['./bin/tool'] }));
  assert.equal(tested.status, 'SUCCEEDED', tested.log);
  assert.match(tested.log, /the tool ran/);
});
