import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertPipeline } from '../../shared/domain/definition.ts';
import { ApiService } from '../../shared/services/api-service.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';
import { createRouter } from '../../shared/http/router.ts';
import { httpEvent, RUN_ID, runState, VALID_YAML } from '../support/api-fixtures.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } from '../support/memory-stores.ts';

const pipelines = new MemoryPipelineStore();
const runs = new MemoryRunStore();
const internal: unknown[] = [];
const route = createRouter(
  apiRoutes(new ApiService({ pipelines, runs, queue: new MemoryEventQueue(), git: { resolveBranch: async () => 'f'.repeat(40) } })),
  { onInternalError: (err) => internal.push(err) },
);

const segment = fc.oneof(fc.constantFrom('pipelines', 'runs', 'jobs', 'shop', RUN_ID, 'approve', 'build', 'logs', 'artifacts', 'cancel', 'reject', 'targets', '%E0%A4%A', '..', ''), fc.string());
const path = fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`);
const body = fc.oneof(
  fc.constant(undefined),
  fc.string(),
  fc.json(),
  fc.constant(VALID_YAML),
  fc.record({ branch: fc.string(), commit: fc.string(), parameters: fc.dictionary(fc.string(), fc.string()) }).map((v) => JSON.stringify(v)),
  fc.record({ definition: fc.oneof(fc.string(), fc.json()), definitionSource: fc.anything(), source: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
);
const contentType = fc.constantFrom(undefined, 'application/json', 'application/yaml', 'text/plain', 'application/xml', 'application/x-www-form-urlencoded', ';;');

test('no request, however malformed, gets a 5xx or an unlabelled error body', async () => {
  await pipelines.put({ id: 'shop', spec: assertPipeline(VALID_YAML), definitionSource: { kind: 'registered' } });
  await runs.create(runState());
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE'), path, body, contentType, fc.boolean(), fc.dictionary(fc.constantFrom('limit', 'cursor', 'version'), fc.string()), async (method, p, b, type, base64, query) => {
      const res = await route(httpEvent({ method, path: p, ...(b !== undefined ? { body: b } : {}), base64, headers: type ? { 'content-type': type } : {}, query }));
      assert.ok(res.statusCode < 500 || res.statusCode === 501, `${method} ${p} -> ${res.statusCode} ${res.body}`);
      const parsed = JSON.parse(res.body);
      if (res.statusCode >= 400) assert.equal(typeof parsed.error, 'string');
    }),
    { numRuns: 400 },
  );
  assert.deepEqual(internal, []);
});
