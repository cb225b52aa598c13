/**
 * Marking the images targets serve, so ECR lifecycle rules keep them: the ECR calls
 * (aws-sdk-client-mock) and the releaser calling it only after a successful release.
 */
import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { BatchGetImageCommand, ECRClient, ImageAlreadyExistsException, PutImageCommand, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { EcrImageTagger, parseEcrImage, targetTag } from '../../shared/aws/image-tags.ts';
import { METRIC } from '../../shared/ports/metrics.ts';
import { harness, startMessage } from '../support/fake-ecs.ts';
import { RecordingMetrics } from '../support/recorders.ts';

const ecr = mockClient(ECRClient);
const client = new ECRClient({ region: 'eu-west-1' });
beforeEach(() => ecr.reset());

const REPO = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway/web';
const NEW = `sha256:${'a'.repeat(64)}`;
const OLD = `sha256:${'b'.repeat(64)}`;
const manifest = (digest: string) => JSON.stringify({ schemaVersion: 2, config: { digest } });

/** A repository where `slipway-live-web` points at `live` (if given); PutImage moves tags. Returns the tags. */
function repository(live?: string): Map<string, string> {
  const tags = new Map<string, string>(live ? [['slipway-live-web', live]] : []);
  ecr.on(BatchGetImageCommand).callsFake((input) => {
    const id = input.imageIds[0];
    const digest = id.imageDigest ?? tags.get(id.imageTag!);
    if (!digest) return { images: [], failures: [{ imageId: id, failureCode: 'ImageNotFound' }] };
    return { images: [{ imageId: { imageDigest: digest }, imageManifest: manifest(digest), imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' }] };
  });
  ecr.on(PutImageCommand).callsFake((input) => {
    tags.set(input.imageTag, input.imageDigest);
    return {};
  });
  return tags;
}

const puts = () => ecr.commandCalls(PutImageCommand).map((c) => `${c.args[0].input.imageTag} -> ${c.args[0].input.imageDigest}`);

describe('ECR image tags', () => {
  test('a released image gets the live tag, and the image that had it the previous tag', async () => {
    repository(OLD);
    const result = await new EcrImageTagger(client).markLive('web', `${REPO}@${NEW}`);
    assert.deepEqual(puts(), [`slipway-prev-web -> ${OLD}`, `slipway-live-web -> ${NEW}`]);
    assert.deepEqual(result, { tagged: true, previous: OLD });
    const put = ecr.commandCalls(PutImageCommand)[1]!.args[0].input;
    assert.equal(put.repositoryName, 'slipway/web');
    assert.equal(put.registryId, '123456789012');
    assert.equal(put.imageManifest, manifest(NEW));
    assert.equal(put.imageManifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
  });

  test('the first release of a target only sets the live tag', async () => {
    repository(undefined);
    await new EcrImageTagger(client).markLive('web', `${REPO}@${NEW}`);
    assert.deepEqual(puts(), [`slipway-live-web -> ${NEW}`]);
  });

  test('releasing the image that is already live changes nothing (a repeat is safe)', async () => {
    repository(NEW);
    assert.deepEqual(await new EcrImageTagger(client).markLive('web', `${REPO}@${NEW}`), { tagged: false });
    assert.deepEqual(puts(), []);
  });

  test('a tag already on the image (ImageAlreadyExistsException) counts as done', async () => {
    repository(OLD);
    ecr.on(PutImageCommand).rejects(new ImageAlreadyExistsException({ message: 'exists', $metadata: {} }));
    assert.equal((await new EcrImageTagger(client).markLive('web', `${REPO}@${NEW}`)).tagged, true);
  });

  test('an ECR image outside the image prefix is skipped without a call (the releaser may tag only <prefix>/*)', async () => {
    const outside = await new EcrImageTagger(client).markLive('web', `123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@${NEW}`);
    assert.deepEqual(outside, { tagged: false, skipped: 'web is not under the image prefix slipway/ (the releaser may tag only those repositories)' });
    const custom = await new EcrImageTagger(client, { repositoryPrefix: 'teams' }).markLive('web', `${REPO}@${NEW}`);
    assert.equal(custom.tagged, false);
    assert.equal(ecr.calls().length, 0);
  });

  test('local images and other registries are skipped without a call', async () => {
    for (const image of ['local/hello@sha256:1', 'docker.io/library/nginx:1.27', 'ghcr.io/acme/web:1']) {
      assert.equal((await new EcrImageTagger(client).markLive('web', image)).tagged, false);
    }
    assert.equal(ecr.calls().length, 0);
  });

  test('ECR image URIs are parsed by digest or tag; tags stay within ECR\'s rules', () => {
    assert.deepEqual(parseEcrImage(`${REPO}@${NEW}`), { registryId: '123456789012', region: 'eu-west-1', repositoryName: 'slipway/web', digest: NEW });
    assert.deepEqual(parseEcrImage(`${REPO}:v1.2`), { registryId: '123456789012', region: 'eu-west-1', repositoryName: 'slipway/web', tag: 'v1.2' });
    assert.equal(parseEcrImage('example.com/web:1'), undefined);
    assert.equal(targetTag('slipway-live-', 'prod/eu west'), 'slipway-live-prod-eu-west');
    assert.equal(targetTag('slipway-live-', 'x'.repeat(200)).length, 128);
  });
});

describe('releaser and image tags', () => {
  test('a successful release tags its image live; the duration is measured', async () => {
    repository(OLD);
    const metrics = new RecordingMetrics();
    const h = await harness({ images: new EcrImageTagger(client), metrics });
    await h.releaser.handle(startMessage({ image: `${REPO}@${NEW}` }));
    await h.drive();
    assert.equal(h.events.finished()[0]!.outcome, 'succeeded');
    assert.deepEqual(puts(), [`slipway-prev-web -> ${OLD}`, `slipway-live-web -> ${NEW}`]);
    assert.equal(metrics.data.filter((d) => d.name === METRIC.releaseDuration).length, 1);
    assert.equal(metrics.sum(METRIC.rollbacks), 0);
  });

  test('a rolled-back release tags nothing and counts a rollback', async () => {
    repository(OLD);
    const metrics = new RecordingMetrics();
    const h = await harness({ images: new EcrImageTagger(client), metrics });
    h.aws.behaviours.set(`${REPO}@${NEW}`, 'unhealthy');
    await h.releaser.handle(startMessage({ image: `${REPO}@${NEW}` }));
    await h.drive();
    assert.equal(h.events.finished()[0]!.outcome, 'rolled_back');
    assert.deepEqual(puts(), []);
    assert.equal(metrics.sum(METRIC.rollbacks), 1);
  });

  test('a manual rollback gives the live tag back to the image the target serves again', async () => {
    const tags = repository(OLD);
    const h = await harness({ images: new EcrImageTagger(client) });
    await h.releaser.handle(startMessage({ image: `${REPO}@${NEW}` }));
    await h.drive({ until: Date.parse('2026-01-01T00:10:00Z') });
    assert.deepEqual(Object.fromEntries(tags), { 'slipway-live-web': NEW, 'slipway-prev-web': OLD });
    await h.releaser.rollbackTarget('web', 'alice');
    assert.deepEqual(Object.fromEntries(tags), { 'slipway-live-web': OLD, 'slipway-prev-web': NEW });
  });

  test('a tagging failure never fails a release that moved the traffic', async () => {
    ecr.on(BatchGetImageCommand).rejects(new RepositoryNotFoundException({ message: 'no such repository', $metadata: { httpStatusCode: 400 } }));
    const h = await harness({ images: new EcrImageTagger(client) });
    await h.releaser.handle(startMessage({ image: `${REPO}@${NEW}` }));
    await h.drive();
    assert.equal(h.events.finished()[0]!.outcome, 'succeeded');
    assert.deepEqual(h.aws.weights(), { blue: 0, green: 100 });
  });
});
