/**
 * The pipeline format for editors and readers: the JSON Schema generated from the zod
 * schemas accepts every example pipeline and rejects the broken cases the definition
 * tests use (those a schema can express), and the committed schema and format page are
 * what the generator writes now (so neither drifts from the code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { parsePipelineObject } from '../../shared/domain/definition.ts';
import { pipelineJsonSchema } from '../../shared/domain/definition/json-schema.ts';
import { FORMAT_FILE, formatText, SCHEMA_FILE, schemaText } from '../../scripts/pipeline-docs.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(pipelineJsonSchema());

function validDoc(): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return {
    name: 'shop-api',
    source: { provider: 'github', repository: 'acme/shop-api' },
    jobs: {
      test: { template: 'node', timeout: '30m' },
      image: { kind: 'image', needs: ['test'], docker: { repository: 'shop-api' } },
      deploy: { kind: 'deploy', needs: ['image'], deploy: { target: 'staging', interval: 60, steps: [10, 100] } },
    },
  };
}

test('the JSON Schema accepts every example pipeline, and the starter pipelines init writes', async () => {
  const files = [
    ...readdirSync(path.join(ROOT, 'examples', 'pipelines')).map((f) => path.join(ROOT, 'examples', 'pipelines', f)),
    path.join(ROOT, 'examples', 'service', 'slipway.yml'),
  ];
  assert.ok(files.length >= 9);
  for (const file of files) {
    const doc = parse(readFileSync(file, 'utf8'));
    assert.equal(parsePipelineObject(doc).ok, true, file);
    assert.equal(validate(doc), true, `${file}: ${JSON.stringify(validate.errors)}`);
  }
  const { starterPipeline } = await import('../../shared/domain/templates.ts');
  for (const image of [true, false]) assert.equal(validate(parse(starterPipeline('go', 'acme/shop', 'main', { image }))), true, JSON.stringify(validate.errors));
});

test('the JSON Schema rejects the broken pipelines the definition tests use, where a schema can tell', () => {
  const broken: Array<[string, (d: ReturnType<typeof validDoc>) => void]> = [
    ['no name', (d) => delete d.name],
    ['a name with spaces', (d) => (d.name = 'shop api!')],
    ['an empty source', (d) => (d.source = {})],
    ['an unknown provider', (d) => (d.source.provider = 'githb')],
    ['an unknown trigger event', (d) => (d.source.triggers = { events: ['push', 'merge_request'] })],
    ['an unknown top-level key', (d) => (d.stages = [])],
    ['an unknown job key', (d) => (d.jobs.test.script = ['npm test'])],
    ['an unknown job kind', (d) => (d.jobs.test.kind = 'lint')],
    ['an unknown template', (d) => (d.jobs.test.template = 'rust')],
    ['retries out of range', (d) => (d.jobs.test.retries = 11)],
    ['a bad duration', (d) => (d.jobs.test.timeout = '30 minutes')],
    ['an image job without a repository', (d) => (d.jobs.image.docker = {})],
    ['an uppercase image repository', (d) => (d.jobs.image.docker.repository = 'Shop')],
    ['a deploy step over 100', (d) => (d.jobs.deploy.deploy.steps = [50, 150])],
    ['a health check path without /', (d) => (d.jobs.deploy.deploy.healthCheck = { path: 'health' })],
    ['no jobs', (d) => (d.jobs = {})],
    ['a bad job name', (d) => (d.jobs['bad name'] = { template: 'node' })],
    ['jobs as a list', (d) => (d.jobs = [{ template: 'node' }])],
    ['an unknown notification kind', (d) => (d.notifications = [{ kind: 'pager' }])],
    ['env values that are not text', (d) => (d.jobs.test.env = { N: 1 })],
  ];
  assert.equal(validate(validDoc()), true, JSON.stringify(validate.errors));
  for (const [what, change] of broken) {
    const doc = validDoc();
    change(doc);
    assert.equal(parsePipelineObject(doc).ok, false, `the definition rules reject ${what}`);
    assert.equal(validate(doc), false, `the JSON Schema rejects ${what}`);
  }
});

test('docs/slipway.schema.json and docs/pipeline-format.md are what scripts/pipeline-docs.ts writes now', () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), schemaText(), 'run: node --import tsx scripts/pipeline-docs.ts');
  assert.equal(readFileSync(FORMAT_FILE, 'utf8'), formatText(), 'run: node --import tsx scripts/pipeline-docs.ts');
  const page = readFileSync(FORMAT_FILE, 'utf8');
  // Every key of the schema is on the page.
  for (const key of ['concurrency', 'jobs.<name>.deploy.healthCheck.window', 'notifications[].topicArn', 'source.triggers.paths.include']) assert.ok(page.includes(`\`${key}\``), key);
});
