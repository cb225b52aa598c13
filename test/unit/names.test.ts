/**
 * One rule per kind of name (shared/domain/names.ts): whoever checks a name, the API,
 * a pipeline definition or a target registration, the same names pass and fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipelineObject } from '../../shared/domain/definition.ts';
import { ValidationError } from '../../shared/domain/errors.ts';
import { JOB_NAME, PIPELINE_ID, PIPELINE_NAME, SECRET_NAME, TARGET_NAME, isValidName, nameSchema } from '../../shared/domain/names.ts';
import { validateTargetConfig } from '../../shared/domain/target-config.ts';
import type { TargetConfig } from '../../shared/domain/release.ts';

const of = (n: number, first = 'a') => first + 'b'.repeat(n - 1);

test('the limits: pipeline ids 128, pipeline names 100, jobs 64, targets 64', () => {
  for (const [rule, max] of [[PIPELINE_ID, 128], [PIPELINE_NAME, 100], [JOB_NAME, 64], [TARGET_NAME, 64]] as const) {
    assert.equal(isValidName(rule, of(max)), true, `${max} characters pass`);
    assert.equal(isValidName(rule, of(max + 1)), false, `${max + 1} characters fail`);
    assert.equal(nameSchema(rule).safeParse(of(max + 1)).success, false, 'the API schema says the same');
    assert.equal(isValidName(rule, ''), false);
    assert.equal(isValidName(rule, '-leading-dash'), false);
  }
  assert.equal(isValidName(JOB_NAME, 'unit.tests'), false, 'job names have no dots');
  assert.equal(isValidName(TARGET_NAME, 'web.prod'), true);
  assert.equal(isValidName(SECRET_NAME, 'slipway/web/slack'), true);
  assert.equal(isValidName(SECRET_NAME, 'has space'), false);
});

function target(name: string): TargetConfig {
  return { name, cluster: 'prod', services: { blue: 'web-blue', green: 'web-green' }, targetGroups: { blue: 'tg-b', green: 'tg-g' }, listenerRuleArn: 'rule', desiredCount: 2 } as TargetConfig;
}

test('a target name of 65 characters is refused at registration as by the API; 64 pass (the registration check allowed 100)', () => {
  assert.doesNotThrow(() => validateTargetConfig(target(of(64))));
  assert.throws(() => validateTargetConfig(target(of(65))), (e: unknown) => e instanceof ValidationError && e.problems.some((p) => p.path === 'name' && /at most 64 characters/.test(p.message)));
});

test('a deploy job names a target by the same rule', () => {
  const doc = (targetName: string, jobName = 'deploy') => ({
    name: 'shop-api',
    source: { provider: 'github', repository: 'acme/shop-api' },
    jobs: {
      image: { kind: 'image', docker: { repository: 'shop-api' } },
      [jobName]: { kind: 'deploy', needs: ['image'], deploy: { target: targetName } },
    },
  });
  assert.equal(parsePipelineObject(doc(of(64))).ok, true);
  const long = parsePipelineObject(doc(of(65)));
  assert.equal(long.ok, false);
  assert.ok(!long.ok && long.problems.some((p) => /deploy\.target/.test(p.path)), JSON.stringify(long));
  assert.equal(parsePipelineObject(doc('web', of(64))).ok, true, 'a 64-character job name passes');
  assert.equal(parsePipelineObject(doc('web', of(65))).ok, false, 'a 65-character job name fails');
});
