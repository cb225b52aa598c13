import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MANAGEMENT_ROUTES } from '../../infra/constructs/api.ts';
import type { ApiService } from '../../shared/services/api-service.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';

test('the stack declares, IAM-authorised, exactly the routes the API handler serves', () => {
  const served = Object.keys(apiRoutes({} as ApiService)).sort();
  const declared = MANAGEMENT_ROUTES.map(([method, path]) => `${method} ${path}`).sort();
  assert.deepEqual(declared, served);
});
