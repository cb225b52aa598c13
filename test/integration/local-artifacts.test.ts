import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../shared/aws/clients.ts';
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
