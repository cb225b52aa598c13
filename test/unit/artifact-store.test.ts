import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { S3ArtifactStore } from '../../shared/aws/artifact-store.ts';
import { NotFoundError, RetryableError, ValidationError } from '../../shared/domain/errors.ts';

const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
const s3 = mockClient(client);

test('artifact keys live under runs/<runId>/<job>/ and cannot escape it', () => {
  const store = new S3ArtifactStore(client, 'acme-artifacts');
  assert.equal(store.key('01JRUN', 'build', 'dist/app.js'), 'runs/01JRUN/build/dist/app.js');
  for (const bad of ['../other/secret', '/etc/passwd', 'dist//app.js', 'dist/./app.js', 'a\\b']) {
    assert.throws(() => store.key('01JRUN', 'build', bad), ValidationError, bad);
  }
  assert.throws(() => store.key('../x', 'build'), ValidationError);
  assert.throws(() => store.key('01JRUN', 'a/b'), ValidationError);
});

test('listing follows continuation tokens and strips the job prefix', async () => {
  s3.reset();
  s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({ IsTruncated: true, NextContinuationToken: 't2', Contents: [{ Key: 'runs/R/build/dist/a.js', Size: 3, LastModified: new Date('2026-11-27T01:00:00Z') }] });
  s3.on(ListObjectsV2Command, { ContinuationToken: 't2' }).resolves({ IsTruncated: false, Contents: [{ Key: 'runs/R/build/dist/b.js', Size: 4 }, { Key: 'runs/R/build/empty/' }] });
  const store = new S3ArtifactStore(client, 'acme-artifacts');
  assert.deepEqual(await store.listArtifacts('R', 'build'), [
    { path: 'dist/a.js', size: 3, lastModified: '2026-11-27T01:00:00.000Z' },
    { path: 'dist/b.js', size: 4 },
  ]);
  assert.equal(s3.commandCalls(ListObjectsV2Command)[0].args[0].input.Prefix, 'runs/R/build/');
});

test('download links are presigned for the artifact key and expire as configured', async () => {
  s3.reset();
  s3.on(HeadObjectCommand).resolves({});
  const store = new S3ArtifactStore(client, 'acme-artifacts', { urlExpiresInSeconds: 300 });
  const url = new URL(await store.presignArtifact('R', 'build', 'dist/a.js'));
  assert.match(url.pathname, /runs\/R\/build\/dist\/a\.js$/);
  assert.equal(url.searchParams.get('X-Amz-Expires'), '300');
  assert.ok(url.searchParams.get('X-Amz-Signature'));
});

test('a missing artifact is NotFound; an S3 outage is retryable', async () => {
  const store = new S3ArtifactStore(client, 'acme-artifacts');
  s3.reset();
  s3.on(HeadObjectCommand).rejects(new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'Not Found' }));
  await assert.rejects(store.presignArtifact('R', 'build', 'nope.js'), NotFoundError);
  s3.reset();
  s3.on(ListObjectsV2Command).rejects(new S3ServiceException({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'boom' }));
  await assert.rejects(store.listArtifacts('R', 'build'), RetryableError);
});

/** A GetObject answer whose body reads as `text` (what the SDK's stream mixin offers). */
const objectBody = (text: string) => ({ Body: { transformToString: async () => text } }) as never;

test('the listing marks the artifacts the build left executable, from the list it uploads beside them; without that list, none', async () => {
  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, Contents: [{ Key: 'runs/R/package/bin/tool', Size: 5 }, { Key: 'runs/R/package/README', Size: 3 }] });
  s3.on(GetObjectCommand, { Key: 'runs/R/.executables/package' }).resolves(objectBody('bin/tool\n'));
  const store = new S3ArtifactStore(client, 'acme-artifacts');
  const links = await store.list('R', 'package');
  assert.deepEqual(links.map((l) => [l.path, l.executable]), [['bin/tool', true], ['README', undefined]]);

  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, Contents: [{ Key: 'runs/R/package/bin/tool', Size: 5 }] });
  s3.on(GetObjectCommand).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' }));
  assert.deepEqual((await store.list('R', 'package')).map((l) => [l.path, l.executable]), [['bin/tool', undefined]]);

  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, Contents: [] });
  s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'boom' }));
  await assert.rejects(store.list('R', 'package'), RetryableError, 'an outage is not "nothing is executable"');
});

test('a re-run keeping a job copies its list of executable files with its artifacts', async () => {
  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, Contents: [{ Key: 'runs/OLD/package/bin/tool', Size: 5 }] });
  s3.on(CopyObjectCommand).resolves({});
  const store = new S3ArtifactStore(client, 'acme-artifacts');
  assert.equal(await store.copyJob('OLD', 'NEW', 'package'), 1);
  assert.deepEqual(s3.commandCalls(CopyObjectCommand).map((c) => [c.args[0].input.CopySource, c.args[0].input.Key]), [
    ['acme-artifacts/runs/OLD/package/bin/tool', 'runs/NEW/package/bin/tool'],
    ['acme-artifacts/runs/OLD/.executables/package', 'runs/NEW/.executables/package'],
  ]);
  // A build that wrote no list: the artifacts are copied all the same.
  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, Contents: [{ Key: 'runs/OLD/package/bin/tool', Size: 5 }] });
  s3.on(CopyObjectCommand, { Key: 'runs/NEW/package/bin/tool' }).resolves({});
  s3.on(CopyObjectCommand, { Key: 'runs/NEW/.executables/package' }).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' }));
  assert.equal(await store.copyJob('OLD', 'NEW', 'package'), 1);
});
