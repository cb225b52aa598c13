/** Context -> Slipway props: defaults, parsing of command-line strings, and early errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CONTEXT_KEYS, engineConfigFromContext } from '../../infra/config.ts';

const from = (ctx: Record<string, unknown>) => engineConfigFromContext((k) => ctx[k]);

describe('engine configuration from context', () => {
  it('leaves every setting to the construct defaults when no context is given', () => {
    const cfg = from({});
    assert.equal(cfg.artifactRetentionDays, undefined);
    assert.equal(cfg.runRetentionDays, undefined);
    assert.equal(cfg.computeClasses, undefined);
    assert.deepEqual(cfg.releaseScope, { serviceArns: undefined, clusterArns: undefined, listenerArns: undefined, taskRoleArns: undefined, healthCheckFunctionArns: undefined });
    assert.equal(cfg.sourceConnection, undefined);
    assert.equal(cfg.sourceConnections, undefined);
  });

  it('reads the default source connection and the further ones a pipeline may name', () => {
    const a = 'arn:aws:codeconnections:eu-west-1:111122223333:connection/aaaa';
    const b = 'arn:aws:codestar-connections:eu-west-1:111122223333:connection/bbbb';
    const cfg = from({ [CONTEXT_KEYS.sourceConnection]: a, [CONTEXT_KEYS.sourceConnections]: `${b}` });
    assert.equal(cfg.sourceConnection, a);
    assert.deepEqual(cfg.sourceConnections, [b]);
  });

  it('reads numbers and comma-separated lists given as strings on the command line', () => {
    const cfg = from({
      [CONTEXT_KEYS.artifactRetentionDays]: '14',
      [CONTEXT_KEYS.computeClasses]: 'small, large',
      [CONTEXT_KEYS.releaseServiceArns]: 'arn:aws:ecs:eu-west-1:111122223333:service/prod/shop-blue,arn:aws:ecs:eu-west-1:111122223333:service/prod/shop-green',
      [CONTEXT_KEYS.dashboard]: 'false',
    });
    assert.equal(cfg.artifactRetentionDays, 14);
    assert.deepEqual(cfg.computeClasses, ['small', 'large']);
    assert.equal(cfg.releaseScope?.serviceArns?.length, 2);
    assert.equal(cfg.dashboard, false);
  });

  it('names the key of a bad value', () => {
    assert.throws(() => from({ [CONTEXT_KEYS.runRetentionDays]: 'ninety' }), /slipway:runRetentionDays/);
    assert.throws(() => from({ [CONTEXT_KEYS.computeClasses]: ['small', 'huge'] }), /unknown compute class 'huge'/);
    assert.throws(() => from({ [CONTEXT_KEYS.logRetentionDays]: 31 }), /slipway:logRetentionDays/);
  });
});

describe('offline synthesis settings', () => {
  it('cdk.json turns off notices and telemetry and runs the app through tsx', async () => {
    const { readFile } = await import('node:fs/promises');
    const cdkJson = JSON.parse(await readFile(new URL('../../cdk.json', import.meta.url), 'utf8'));
    assert.equal(cdkJson.notices, false);
    assert.equal(cdkJson['cli-telemetry'], false);
    assert.equal(cdkJson.app, 'node --import tsx infra/bin/slipway.ts');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.match(pkg.scripts.synth, /CDK_DISABLE_CLI_TELEMETRY=1/);
    assert.match(pkg.scripts.synth, /CDK_DISABLE_VERSION_CHECK=1/);
    assert.match(pkg.scripts.synth, /--no-notices/);
  });
});
