/** Context -> Slipway props: defaults, parsing of command-line strings, and early errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configFromContext, CONSOLE_CONTEXT_KEYS, CONTEXT_KEYS, ContextError, consoleConfigFromContext, engineConfigFromContext } from '../../infra/config.ts';

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
    assert.throws(() => from({ [CONTEXT_KEYS.computeClasses]: ['small', 'huge'] }), /'huge' is no compute class/);
    assert.throws(() => from({ [CONTEXT_KEYS.logRetentionDays]: 31 }), /slipway:logRetentionDays/);
  });
});

describe('bad context values', () => {
  const problemsOf = (fn: () => unknown): string[] => {
    try { fn(); } catch (e) { assert.ok(e instanceof ContextError, String(e)); return e.problems; }
    assert.fail('no ContextError');
  };

  it('are all reported at once, each with its key, the value given and what the key takes', () => {
    const problems = problemsOf(() => from({
      [CONTEXT_KEYS.runRetentionDays]: 'ninety',
      [CONTEXT_KEYS.computeClasses]: 'small,huge',
      [CONTEXT_KEYS.logRetentionDays]: 31,
      [CONTEXT_KEYS.dashboard]: 'yes',
      [CONTEXT_KEYS.keepImages]: '20000',
      [CONTEXT_KEYS.reconcileMarginMinutes]: 2,
      [CONTEXT_KEYS.ecrRepositoryPrefix]: 'Team_',
      [CONTEXT_KEYS.sourceConnection]: 'github',
      [CONTEXT_KEYS.artifactRetentionDays]: '14',
    }));
    assert.equal(problems.length, 8, problems.join('\n'));
    const about = (key: string) => { const p = problems.filter((x) => x.startsWith(`${key}: `)); assert.equal(p.length, 1, `${key} in ${problems.join('\n')}`); return p[0]; };
    assert.match(about(CONTEXT_KEYS.runRetentionDays), /got "ninety"; it takes a whole number >= 1/);
    assert.match(about(CONTEXT_KEYS.computeClasses), /got "small,huge", and 'huge' is no compute class; it takes a comma-separated list of small, medium, large/);
    assert.match(about(CONTEXT_KEYS.logRetentionDays), /got 31; it takes a CloudWatch Logs retention in days: 1, 3, 5, 7, 14, 30,/);
    assert.match(about(CONTEXT_KEYS.dashboard), /got "yes"; it takes true or false/);
    assert.match(about(CONTEXT_KEYS.keepImages), /got "20000"; it takes a whole number from 1 to 10000/);
    assert.match(about(CONTEXT_KEYS.reconcileMarginMinutes), /got 2; it takes a whole number >= 5/);
    assert.match(about(CONTEXT_KEYS.ecrRepositoryPrefix), /got "Team_"; it takes an ECR repository name prefix/);
    assert.match(about(CONTEXT_KEYS.sourceConnection), /got "github"; 'github' is not a CodeConnections connection ARN/);
  });

  it('of the engine and of the console come in one error, its message listing each', () => {
    const ctx: Record<string, unknown> = { [CONTEXT_KEYS.keepImages]: 0, [CONSOLE_CONTEXT_KEYS.enabled]: 'off', [CONSOLE_CONTEXT_KEYS.samlMetadataUrl]: 'http://idp.example/m' };
    let error: unknown;
    try { configFromContext((k) => ctx[k]); } catch (e) { error = e; }
    assert.ok(error instanceof ContextError);
    assert.deepEqual(error.problems.map((p) => p.split(':').slice(0, 2).join(':')), ['slipway:keepImages', 'slipway:console', 'slipway:consoleSamlMetadataUrl']);
    for (const p of error.problems) assert.ok(error.message.includes(`  - ${p}`), error.message);
    assert.match(error.message, /^3 context values are not valid/);
  });

  it('a SAML name without its metadata URL names the one missing', () => {
    assert.deepEqual(problemsOf(() => consoleConfigFromContext((k) => (k === CONSOLE_CONTEXT_KEYS.samlName ? 'IdC' : undefined))),
      ['slipway:consoleSamlName: got "IdC" without slipway:consoleSamlMetadataUrl; the two go together (give both, or neither)']);
  });

  it('cdk.json\'s own context has none', async () => {
    const { readFile } = await import('node:fs/promises');
    const { context } = JSON.parse(await readFile(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
    const cfg = configFromContext((k) => context[k]);
    assert.equal(cfg.engine.logRetention, 30);
    assert.equal(cfg.engine.dashboard, true);
  });

  it('good values still read as before', () => {
    const cfg = configFromContext((k) => ({ [CONTEXT_KEYS.dashboard]: true, [CONTEXT_KEYS.keepImages]: 10000, [CONSOLE_CONTEXT_KEYS.enabled]: 'false', [CONTEXT_KEYS.imageRepositories]: 'web,api' } as Record<string, unknown>)[k]);
    assert.equal(cfg.engine.dashboard, true);
    assert.equal(cfg.engine.keepImages, 10000);
    assert.deepEqual(cfg.engine.imageRepositories, ['web', 'api']);
    assert.equal(cfg.console.enabled, false);
  });

  it('`cdk synth -c` with two bad values: the app prints both, no stack trace, and exits non-zero', () => {
    const root = path.join(import.meta.dirname, '..', '..');
    // The CDK CLI hands the app its context (cdk.json's and -c's) in CDK_CONTEXT_JSON.
    const context = { [CONTEXT_KEYS.runRetentionDays]: 'ninety', [CONTEXT_KEYS.computeClasses]: 'small,huge' };
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'infra', 'bin', 'slipway.ts')], {
      cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: mkdtempSync(path.join(os.tmpdir(), 'slipway-cdk-out-')) },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /slipway:runRetentionDays: got "ninety"/);
    assert.match(r.stderr, /slipway:computeClasses: got "small,huge", and 'huge' is no compute class/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
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
