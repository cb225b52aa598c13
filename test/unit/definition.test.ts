import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import fc from 'fast-check';
import { assertPipeline, parsePipeline, parsePipelineObject } from '../../shared/domain/definition.ts';
import { closestMatch, parseDuration } from '../../shared/domain/definition/words.ts';
import { formatProblem, ValidationError } from '../../shared/domain/errors.ts';
import { DEFAULT_BUILD_IMAGE, TEMPLATES } from '../../shared/domain/templates.ts';

const EXAMPLES = join(import.meta.dirname, '../../examples/pipelines');

// A small valid pipeline: test -> image -> deploy. Each broken case changes one thing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
function validDoc(): Doc {
  return {
    name: 'shop-api',
    source: { provider: 'github', repository: 'acme/shop-api' },
    jobs: {
      test: { template: 'node' },
      image: { kind: 'image', needs: ['test'], docker: { repository: 'shop-api' } },
      deploy: { kind: 'deploy', needs: ['image'], deploy: { target: 'staging' } },
    },
  };
}

function problemsOfText(text: string, filename?: string): string[] {
  const result = parsePipeline(text, { filename });
  assert.equal(result.ok, false, 'expected the definition to be rejected');
  return result.ok ? [] : result.problems.map(formatProblem);
}

/** Serialises to YAML and parses, so every case also goes through the text path. */
function problemsOf(change: (doc: Doc) => void): string[] {
  const doc = validDoc();
  change(doc);
  return problemsOfText(stringify(doc));
}

describe('valid pipeline files', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yml'));

  it('ships one example per language plus the full pipeline', () => {
    assert.deepEqual(files.sort(), ['cpp.yml', 'full.yml', 'go.yml', 'java-gradle.yml', 'java-maven.yml', 'node.yml', 'php.yml', 'python.yml']);
  });

  for (const file of files) {
    it(`accepts examples/pipelines/${file}`, () => {
      // Act
      const result = parsePipeline(readFileSync(join(EXAMPLES, file), 'utf8'), { filename: file });
      // Assess
      assert.deepEqual(result.ok ? [] : result.problems, []);
    });
  }

  it('reads the full example as test -> image -> deploy-staging -> approve-production -> deploy-production', () => {
    // Act
    const spec = assertPipeline(readFileSync(join(EXAMPLES, 'full.yml'), 'utf8'));
    // Assess
    assert.deepEqual(Object.keys(spec.jobs), ['test', 'image', 'deploy-staging', 'approve-production', 'deploy-production']);
    assert.deepEqual(
      Object.values(spec.jobs).map((j) => [j.kind, j.needs]),
      [['build', []], ['image', ['test']], ['deploy', ['image']], ['approval', ['deploy-staging']], ['deploy', ['approve-production']]],
    );
    assert.equal(spec.jobs['deploy-staging'].deploy?.strategy, 'blue-green');
    assert.equal(spec.jobs['deploy-staging'].deploy?.target, 'staging');
    assert.equal(spec.jobs['deploy-production'].deploy?.target, 'production');
    assert.deepEqual(spec.jobs['deploy-production'].deploy?.steps, [5, 25, 50, 100]);
    assert.equal(spec.jobs['approve-production'].approval?.timeoutMinutes, 24 * 60);
  });

  it('fills every default of a minimal pipeline', () => {
    // Act
    const spec = assertPipeline(stringify(validDoc()));
    // Assess
    assert.deepEqual(spec.source.triggers, { events: ['push'], branches: ['**'], tags: ['**'], paths: { include: [], exclude: [] } });
    assert.equal(spec.concurrency, 'superseded');
    assert.deepEqual(spec.pullRequests, { forks: 'approve-first', approvers: [] });
    assert.deepEqual(spec.notifications, []);
    assert.deepEqual(Object.values(spec.jobs).map((j) => [j.kind, j.pullRequests]), [['build', 'all'], ['image', 'skip'], ['deploy', 'skip']], 'only build jobs run on pull requests by default');
    const node = TEMPLATES.node;
    assert.deepEqual(spec.jobs.test, {
      name: 'test',
      kind: 'build',
      needs: [],
      when: { branches: [], tags: [], events: [] },
      retries: 0,
      pullRequests: 'all',
      retryDelaySeconds: 10,
      template: 'node',
      buildImage: node.image,
      install: [...node.install],
      commands: [...node.commands],
      cache: [...node.cache],
      env: { ...node.env },
      outputs: [],
      inputs: [],
      // compute: auto puts a node test job on Lambda compute, whose builds end at 15 minutes.
      timeoutMinutes: 15,
      compute: 'lambda',
      computeAuto: { timeoutMinutes: 60 },
    });
    assert.deepEqual(spec.jobs.image.image, { dockerfile: 'Dockerfile', context: '.', repository: 'shop-api', tags: [] });
    assert.equal(spec.jobs.image.buildImage, DEFAULT_BUILD_IMAGE);
    assert.deepEqual(spec.jobs.deploy.deploy, {
      target: 'staging',
      strategy: 'blue-green',
      steps: [10, 50, 100],
      intervalSeconds: 60,
      bakeSeconds: 300,
      alarms: [],
      imageFrom: 'image',
      rollbackWindowMinutes: 60,
    });
  });

  it('gives an approval job anyone-may-approve and a 24h timeout by default', () => {
    // Prepare
    const doc = validDoc();
    doc.jobs.approve = { kind: 'approval', needs: ['test'] };
    // Act
    const spec = assertPipeline(doc);
    // Assess
    assert.deepEqual(spec.jobs.approve.approval, { approvers: [], timeoutMinutes: 1440 });
  });

  it('lets a job override the template image, commands and env while keeping the rest', () => {
    // Prepare
    const doc = validDoc();
    doc.jobs.test = { template: 'python', image: 'public.ecr.aws/docker/library/python:3.13', commands: ['tox'], env: { TOX_PARALLEL: 'auto' } };
    // Act
    const job = assertPipeline(doc).jobs.test;
    // Assess
    assert.equal(job.buildImage, 'public.ecr.aws/docker/library/python:3.13');
    assert.deepEqual(job.commands, ['tox']);
    assert.deepEqual(job.install, [...TEMPLATES.python.install]);
    assert.deepEqual(job.env, { ...TEMPLATES.python.env, TOX_PARALLEL: 'auto' });
  });

  it('converts durations given as text or seconds', () => {
    // Prepare
    const doc = validDoc();
    doc.jobs.test.timeout = '1h30m';
    Object.assign(doc.jobs.deploy.deploy, { interval: 90, bake: '2m', rollbackWindow: '45m' });
    // Act
    const spec = assertPipeline(doc);
    // Assess
    assert.equal(spec.jobs.test.timeoutMinutes, 90);
    assert.equal(spec.jobs.deploy.deploy?.intervalSeconds, 90);
    assert.equal(spec.jobs.deploy.deploy?.bakeSeconds, 120);
    assert.equal(spec.jobs.deploy.deploy?.rollbackWindowMinutes, 45);
  });

  it('gives a standard release a single 100% step', () => {
    const doc = validDoc();
    doc.jobs.deploy.deploy.strategy = 'standard';
    assert.deepEqual(assertPipeline(doc).jobs.deploy.deploy?.steps, [100]);
  });

  it('accepts JSON text with the same shape, by extension or by its opening brace', () => {
    // Prepare
    const json = JSON.stringify(validDoc(), null, '\t');
    // Act
    const byName = parsePipeline(json, { filename: 'pipeline.json' });
    const bySniff = parsePipeline(json);
    // Assess
    assert.equal(byName.ok && byName.spec.jobs.deploy.deploy?.imageFrom, 'image');
    assert.deepEqual(bySniff, byName);
  });

  it('reads a YAML flow mapping that merely looks like JSON', () => {
    const result = parsePipeline('{ name: shop-api, source: { provider: github, repository: acme/shop-api }, jobs: { test: { template: go } } }');
    assert.deepEqual(result.ok ? [] : result.problems, []);
  });

  it('accepts an already-parsed object (the API body)', () => {
    const result = parsePipelineObject(validDoc());
    assert.equal(result.ok, true);
  });

  it('keeps notification settings and defaults their events', () => {
    const doc = validDoc();
    doc.notifications = [{ kind: 'teams', secret: 'slipway/teams' }];
    assert.deepEqual(assertPipeline(doc).notifications, [{ kind: 'teams', secret: 'slipway/teams', on: ['run_failed', 'run_fixed'] }]);
  });
});

describe('broken pipeline files: one problem each, with its path and message', () => {
  it('reports a YAML syntax error with its line and column', () => {
    assert.deepEqual(problemsOfText('name: x\njobs:\n  a: [1,\n  b: 2\n'), [
      'YAML syntax error at line 4, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('reports a JSON syntax error with its line and column', () => {
    const [problem] = problemsOfText('{\n  "name": "x",,\n}', 'pipeline.json');
    assert.match(problem, /^JSON syntax error at line 2, column 15: /);
  });

  it('rejects a document that is a list rather than a mapping', () => {
    assert.deepEqual(problemsOfText('- name: x\n- name: y\n'), ['a pipeline must be a mapping with name, source and jobs, not a list']);
  });

  it('rejects an empty file', () => {
    assert.deepEqual(problemsOfText('  \n'), ['the pipeline file is empty; it needs at least name, source and jobs']);
  });

  it('requires a name', () => {
    assert.deepEqual(problemsOf((d) => delete d.name), ['name: is required: the pipeline\'s name, e.g. "shop-api"']);
  });

  it('names each missing source field with what to put there', () => {
    assert.deepEqual(problemsOf((d) => (d.source = {})), [
      'source.provider: is required: one of github, gitlab, bitbucket',
      'source.repository: is required: the repository as "owner/name", e.g. "acme/shop-api"',
    ]);
  });

  it('rejects characters a name cannot hold', () => {
    assert.deepEqual(problemsOf((d) => (d.name = 'shop api!')), [
      'name: must start with a letter or digit and hold only letters, digits, ".", "-" and "_" (at most 100 characters)',
    ]);
  });

  it('names an unknown provider and suggests the closest', () => {
    assert.deepEqual(problemsOf((d) => (d.source.provider = 'githb')), [
      'source.provider: unknown provider "githb" (did you mean "github"?); expected one of github, gitlab, bitbucket',
    ]);
  });

  it('rejects a repository that is not owner/name', () => {
    assert.deepEqual(problemsOf((d) => (d.source.repository = 'shop-api')), [
      'source.repository: must be "owner/name" (e.g. "acme/shop-api"), got "shop-api"',
    ]);
  });

  it('rejects a repository URL', () => {
    assert.deepEqual(problemsOf((d) => (d.source.repository = 'https://github.com/acme/shop-api')), [
      'source.repository: must be "owner/name" (e.g. "acme/shop-api"), not a URL',
    ]);
  });

  it('accepts GitLab subgroups but not a bare name', () => {
    assert.equal(parsePipelineObject({ ...validDoc(), source: { provider: 'gitlab', repository: 'acme/platform/shop-api' } }).ok, true);
    assert.deepEqual(problemsOf((d) => (d.source = { provider: 'gitlab', repository: 'shop-api' })), [
      'source.repository: must be "group/name" or "group/subgroup/name", got "shop-api"',
    ]);
  });

  it('names an unknown trigger event', () => {
    assert.deepEqual(problemsOf((d) => (d.source.triggers = { events: ['push', 'merge_request'] })), [
      'source.triggers.events[1]: unknown event "merge_request"; expected one of push, tag, pull_request',
    ]);
  });

  it('suggests the closest trigger event for a typo', () => {
    assert.deepEqual(problemsOf((d) => (d.source.triggers = { events: ['pushh'] })), [
      'source.triggers.events[0]: unknown event "pushh" (did you mean "push"?); expected one of push, tag, pull_request',
    ]);
  });

  it('names an unknown top-level key with a did-you-mean', () => {
    assert.deepEqual(problemsOf((d) => (d.notification = [])), ['notification: unknown key "notification" (did you mean "notifications"?)']);
  });

  it('lists the allowed keys when an unknown key is not a likely typo', () => {
    assert.deepEqual(problemsOf((d) => (d.owner = 'team-a')), [
      'owner: unknown key "owner"; allowed keys: name, source, concurrency, pullRequests, jobs, notifications, schedules',
    ]);
  });

  it('names an unknown job key with a did-you-mean', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs.image.need = d.jobs.image.needs;
        delete d.jobs.image.needs;
      }),
      ['jobs.image.need: unknown key "need" (did you mean "needs"?)'],
    );
  });

  it('points a deploy setting written at job level to the deploy block', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs.deploy.strategy = 'blue-green';
      }),
      ['jobs.deploy.strategy: unknown key "strategy"; it belongs under "deploy"'],
    );
  });

  it('requires jobs', () => {
    assert.deepEqual(problemsOf((d) => delete d.jobs), ['jobs: is required: a map of job names to jobs, e.g. jobs: { test: { template: node } }']);
  });

  it('rejects an empty jobs map', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs = {})), ['jobs: must declare at least one job']);
  });

  it('rejects more than 200 jobs', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`job-${i}`, { commands: ['true'] }]));
      }),
      ['jobs: declares 201 jobs; a pipeline may have at most 200 (split it into several pipelines)'],
    );
  });

  it('accepts exactly 200 jobs', () => {
    const doc = validDoc();
    doc.jobs = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`job-${i}`, { commands: ['true'], needs: i ? [`job-${i - 1}`] : [] }]));
    assert.equal(parsePipeline(stringify(doc)).ok, true);
  });

  it('rejects a job name with a space', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs['unit tests'] = { template: 'node' })), [
      'jobs["unit tests"]: invalid job name "unit tests": use letters, digits, "-" and "_", starting with a letter or digit (at most 64 characters)',
    ]);
  });

  it('names an unknown kind', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.kind = 'deploi')), [
      'jobs.deploy.kind: unknown kind "deploi" (did you mean "deploy"?); expected one of build, image, deploy, approval',
    ]);
  });

  it('names an unknown template with a did-you-mean', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.template = 'nodejs')), [
      'jobs.test.template: unknown template "nodejs" (did you mean "node"?); expected one of java, java-gradle, node, python, php, go, cpp',
    ]);
  });

  it('names a need that is not a job and suggests the closest job', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.needs = ['imgae'])), ['jobs.deploy.needs[0]: unknown job "imgae" (did you mean "image"?)']);
  });

  it('asks for a list when needs is a single name', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.needs = 'image')), ['jobs.deploy.needs: must be a list, not the text "image"; write [image]']);
  });

  it('treats a job called __proto__ as a bad name, not as a prototype', () => {
    const doc = JSON.parse('{"name":"a","source":{"provider":"github","repository":"acme/a"},"jobs":{"__proto__":{"template":"go"}}}');
    const result = parsePipelineObject(doc);
    assert.deepEqual(result.ok ? [] : result.problems.map(formatProblem), [
      'jobs.__proto__: invalid job name "__proto__": use letters, digits, "-" and "_", starting with a letter or digit (at most 64 characters)',
    ]);
  });

  it('answers a far-too-large file with the limit alone', () => {
    // Prepare: a 20 000-job chain posted to the API.
    const doc = validDoc();
    doc.jobs = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`j${i}`, { commands: ['true'], needs: i ? [`j${i - 1}`] : [] }]));
    // Act
    const result = parsePipelineObject(doc);
    // Assess
    assert.deepEqual(result.ok ? [] : result.problems.map(formatProblem), [
      'jobs: declares 20000 jobs; a pipeline may have at most 200 (split it into several pipelines)',
    ]);
  });

  it('rejects a job that needs itself', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.needs = ['test'])), ['jobs.test.needs[0]: a job cannot need itself']);
  });

  it('names a dependency cycle in full', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs.test.needs = ['lint'];
        d.jobs.lint = { template: 'node', needs: ['test'] };
      }),
      ['jobs: dependency cycle: test -> lint -> test'],
    );
  });

  it('names a three-job cycle in run order', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs.test.needs = ['deploy'];
      }),
      ['jobs: dependency cycle: test -> image -> deploy -> test'],
    );
  });

  it('reports a need listed twice', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.needs = ['image', 'image'])), ['jobs.deploy.needs[1]: "image" is listed twice']);
  });

  it('reports a job name defined twice (YAML duplicate keys)', () => {
    // Prepare
    const text = [
      'name: shop-api',
      'source: { provider: github, repository: acme/shop-api }',
      'jobs:',
      '  test:',
      '    template: node',
      '  test:',
      '    template: python',
    ].join('\n');
    // Act + Assess
    assert.deepEqual(problemsOfText(text), ['jobs.test: duplicate job name "test" (first defined on line 4); job names must be unique']);
  });

  it('reports any other key defined twice', () => {
    const text = 'name: a\nname: b\nsource: { provider: github, repository: acme/shop-api }\njobs: { test: { template: go } }\n';
    assert.deepEqual(problemsOfText(text), ['name: duplicate key "name" (first defined on line 1)']);
  });

  it('finds duplicate job names in JSON too', () => {
    const text = '{"name":"a","source":{"provider":"github","repository":"acme/a"},"jobs":{"t":{"template":"go"},"t":{"template":"go"}}}';
    assert.deepEqual(problemsOfText(text), ['jobs.t: duplicate job name "t" (first defined on line 1); job names must be unique']);
  });

  it('rejects inputs from a job that is not an ancestor', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs.test.outputs = ['dist/**'];
        d.jobs.lint = { template: 'node', inputs: ['test'] };
      }),
      ['jobs.lint.inputs[0]: "test" is not among the jobs "lint" needs (directly or indirectly), so its outputs may not exist yet; add it to needs'],
    );
  });

  it('rejects inputs from a job that keeps no outputs', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.image.inputs = ['test'])), ['jobs.image.inputs[0]: "test" declares no outputs to take']);
  });

  it('requires a target in the deploy block', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.deploy = { strategy: 'standard' })), [
      'jobs.deploy.deploy.target: is required: the name of a registered release target, e.g. "staging"',
    ]);
  });

  it('requires a deploy block on a deploy job', () => {
    assert.deepEqual(problemsOf((d) => delete d.jobs.deploy.deploy), [
      'jobs.deploy.deploy.target: is required: the name of a registered release target, e.g. "staging"',
    ]);
  });

  it('names an unknown strategy', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.deploy.strategy = 'canary')), [
      'jobs.deploy.deploy.strategy: unknown strategy "canary"; expected one of standard, blue-green',
    ]);
  });

  it('rejects traffic steps that go down', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.deploy.steps = [10, 50, 30, 100])), [
      'jobs.deploy.deploy.steps: must be strictly increasing percentages, e.g. [10, 50, 100]; 30 comes after 50',
    ]);
  });

  it('rejects traffic steps that stop short of 100', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.deploy.steps = [10, 50])), [
      'jobs.deploy.deploy.steps: must end at 100 (all traffic on the new colour); it ends at 50',
    ]);
  });

  it('rejects traffic steps outside 1..100, each at its index', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.deploy.steps = [0, 50, 150])), [
      'jobs.deploy.deploy.steps[0]: must be between 1 and 100',
      'jobs.deploy.deploy.steps[2]: must be between 1 and 100',
    ]);
  });

  it('rejects traffic steps on a standard release', () => {
    assert.deepEqual(problemsOf((d) => Object.assign(d.jobs.deploy.deploy, { strategy: 'standard', steps: [50, 100] })), [
      'jobs.deploy.deploy.steps: traffic steps apply to blue-green releases only; a standard release replaces tasks in place',
    ]);
  });

  it('requires a repository on an image job', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.image.docker = { dockerfile: 'docker/Dockerfile' })), [
      'jobs.image.docker.repository: is required: the ECR repository the image is pushed to, without the prefix Slipway adds, e.g. "shop-api" (pushed to "slipway/shop-api")',
    ]);
  });

  it('refuses an image repository that repeats the prefix Slipway adds, naming what it would become', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.image.docker.repository = 'slipway/shop-api')), [
      'jobs.image.docker.repository: leave out the prefix "slipway/": Slipway adds it, so "slipway/shop-api" would be pushed to "slipway/slipway/shop-api"; write "shop-api"',
    ]);
    const custom = parsePipeline(stringify({ ...validDoc(), jobs: { ...validDoc().jobs, image: { kind: 'image', needs: ['test'], docker: { repository: 'teams/shop/api' } } } }), { ecrRepositoryPrefix: 'teams/shop' });
    assert.deepEqual(custom.ok ? [] : custom.problems.map(formatProblem), [
      'jobs.image.docker.repository: leave out the prefix "teams/shop/": Slipway adds it, so "teams/shop/api" would be pushed to "teams/shop/teams/shop/api"; write "api"',
    ]);
    assert.equal(parsePipeline(stringify(validDoc()), { ecrRepositoryPrefix: 'teams/shop' }).ok, true);
  });

  it('refuses an image repository whose prefixed name is longer than ECR allows', () => {
    const long = 'a'.repeat(250);
    assert.deepEqual(problemsOf((d) => (d.jobs.image.docker.repository = long)), [
      `jobs.image.docker.repository: "slipway/${long}" is longer than the 256 characters ECR allows for a repository name`,
    ]);
  });

  it('takes a CodeConnections connection ARN as source.connection and refuses anything else', () => {
    const arn = 'arn:aws:codeconnections:eu-west-1:123456789012:connection/0f1e2d3c-aaaa-bbbb-cccc-111122223333';
    const ok = parsePipelineObject({ ...validDoc(), source: { ...validDoc().source, connection: arn } });
    assert.equal(ok.ok && ok.spec.source.connection, arn);
    const old = 'arn:aws:codestar-connections:eu-west-1:123456789012:connection/0f1e2d3c';
    assert.equal(parsePipelineObject({ ...validDoc(), source: { ...validDoc().source, connection: old } }).ok, true);
    assert.deepEqual(problemsOf((d) => (d.source.connection = 'my-github')), [
      'source.connection: must be the ARN of an AWS CodeConnections connection, e.g. "arn:aws:codeconnections:eu-west-1:123456789012:connection/0123abcd-..."',
    ]);
  });

  it('requires a docker block on an image job', () => {
    assert.deepEqual(problemsOf((d) => delete d.jobs.image.docker), [
      'jobs.image.docker.repository: is required: the ECR repository the image is pushed to, without the prefix Slipway adds, e.g. "shop-api" (pushed to "slipway/shop-api")',
    ]);
  });

  it('explains that an image job describes its build under docker, not image', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs.image.image = d.jobs.image.docker;
        delete d.jobs.image.docker;
      }),
      [
        'jobs.image.image: must be a build image name such as "aws/codebuild/amazonlinux-x86_64-standard:5.0"; an image job describes its docker build under "docker"',
        'jobs.image.docker.repository: is required: the ECR repository the image is pushed to, without the prefix Slipway adds, e.g. "shop-api" (pushed to "slipway/shop-api")',
      ],
    );
  });

  it('rejects commands on a deploy job', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.commands = ['./deploy.sh'])), [
      'jobs.deploy.commands: applies to build and image jobs only; a deploy job runs no commands of its own',
    ]);
  });

  it('rejects commands on an approval job', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.approve = { kind: 'approval', needs: ['test'], commands: ['echo ok'] })), [
      'jobs.approve.commands: applies to build and image jobs only; an approval job runs no commands of its own',
    ]);
  });

  it('rejects an approval timeout that is not a duration', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.approve = { kind: 'approval', approval: { timeout: 'two weeks' } })), [
      'jobs.approve.approval.timeout: invalid duration "two weeks": use a number of seconds or a string like "30s", "5m", "1h" or "1h30m"',
    ]);
  });

  it('rejects an approval timeout longer than a week', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.approve = { kind: 'approval', approval: { timeout: '30d' } })), [
      'jobs.approve.approval.timeout: must be between 1m and 7d, got "30d"',
    ]);
  });

  it('rejects a bad duration string', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.timeout = '5 minutes')), [
      'jobs.test.timeout: invalid duration "5 minutes": use a number of seconds or a string like "30s", "5m", "1h" or "1h30m"',
    ]);
  });

  it('rejects a build timeout CodeBuild would refuse', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.timeout = '2m')), ['jobs.test.timeout: must be between 5m and 36h (the limits of CodeBuild), got "2m"']);
  });

  it('reads retryDelay as a duration, and refuses it on an approval', () => {
    const ok = parsePipeline('name: p\nsource: { provider: github, repository: a/b }\njobs:\n  t: { template: go, retries: 2, retryDelay: 1m }\n');
    assert.ok(ok.ok);
    assert.equal(ok.spec.jobs.t.retryDelaySeconds, 60);
    const bad = parsePipeline('name: p\nsource: { provider: github, repository: a/b }\njobs:\n  t: { template: go, retryDelay: 2h }\n  a: { kind: approval, needs: [t], retryDelay: 5s }\n');
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['jobs.a.retryDelay', 'jobs.t.retryDelay']);
  });

  it('rejects negative retries', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.retries = -1)), ['jobs.test.retries: must be between 0 and 10 (extra attempts after a failure)']);
  });

  it('rejects more than 10 retries', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.retries = 11)), ['jobs.test.retries: must be between 0 and 10 (extra attempts after a failure)']);
  });

  it('rejects docker on a build job', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.docker = { repository: 'shop-api' })), [
      'jobs.test.docker: applies to image jobs only; set kind: image or remove docker',
    ]);
  });

  it('rejects deploy on a build job', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.deploy = { target: 'staging' })), [
      'jobs.test.deploy: applies to deploy jobs only; set kind: deploy or remove deploy',
    ]);
  });

  it('rejects a build job with neither commands nor template', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test = {})), [
      'jobs.test: a build job needs "commands" or a "template" (one of java, java-gradle, node, python, php, go, cpp)',
    ]);
  });

  it('rejects an invalid glob', () => {
    assert.deepEqual(problemsOf((d) => (d.source.triggers = { branches: ['release/[0-9'] })), [
      'source.triggers.branches[0]: invalid glob "release/[0-9": Missing closing: "]"',
    ]);
  });

  it('rejects tag globs when tag events are not triggers', () => {
    assert.deepEqual(problemsOf((d) => (d.source.triggers = { events: ['push'], tags: ['v*'] })), [
      'source.triggers.tags: only tag events use tag globs; add "tag" to source.triggers.events',
    ]);
  });

  it('requires a secret on a chat notification', () => {
    assert.deepEqual(problemsOf((d) => (d.notifications = [{ kind: 'slack', on: ['run_failed'] }])), [
      'notifications[0].secret: is required for slack notifications: the name of a Secrets Manager secret holding the webhook URL',
    ]);
  });

  it('refuses a webhook URL in place of a secret name', () => {
    assert.deepEqual(problemsOf((d) => (d.notifications = [{ kind: 'teams', secret: 'https://acme.webhook.office.com/x' }])), [
      'notifications[0].secret: must name a Secrets Manager secret, not the webhook URL itself (the URL is a credential)',
    ]);
  });

  it('requires a topic ARN on an email notification', () => {
    assert.deepEqual(problemsOf((d) => (d.notifications = [{ kind: 'email' }])), [
      'notifications[0].topicArn: is required for email notifications: the ARN of the SNS topic people subscribe to',
    ]);
  });

  it('names an unknown notification event', () => {
    assert.deepEqual(problemsOf((d) => (d.notifications = [{ kind: 'email', topicArn: 'arn:aws:sns:eu-west-1:123456789012:t', on: ['run_faild'] }])), [
      'notifications[0].on[0]: unknown notification event "run_faild" (did you mean "run_failed"?); expected one of run_failed, run_succeeded, run_fixed, approval_needed, released, rolled_back',
    ]);
  });

  it('rejects an env value that is not a string and says how to quote it', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.env = { PORT: 8080 })), ['jobs.test.env.PORT: must be a string, not the number 8080; quote it: "8080"']);
  });

  it('rejects an invalid env name', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.env = { 'log-level': 'debug' })), [
      'jobs.test.env.log-level: invalid environment variable name "log-level": use letters, digits and "_", not starting with a digit',
    ]);
  });

  it('reserves env names the engine sets', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.test.env = { SLIPWAY_RUN_ID: 'x' })), [
      'jobs.test.env.SLIPWAY_RUN_ID: "SLIPWAY_RUN_ID" is reserved: names starting with SLIPWAY_ or CODEBUILD_ are set by the engine',
    ]);
  });

  it('rejects imageFrom naming a job that is not an image job', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.deploy.imageFrom = 'test')), [
      'jobs.deploy.deploy.imageFrom: "test" is not an image job; name a job with kind: image',
    ]);
  });

  it('rejects imageFrom naming an image job that is not an ancestor', () => {
    assert.deepEqual(
      problemsOf((d) => {
        d.jobs.worker = { kind: 'image', docker: { repository: 'shop-worker' } };
        d.jobs.deploy.deploy.imageFrom = 'worker';
      }),
      ['jobs.deploy.deploy.imageFrom: "worker" is not among the jobs "deploy" needs (directly or indirectly); add it to needs'],
    );
  });

  it('rejects a deploy job with no image job upstream', () => {
    assert.deepEqual(problemsOf((d) => (d.jobs.deploy.needs = ['test'])), [
      'jobs.deploy.needs: a deploy job releases an image: it must need (directly or indirectly) an image job, or name one in deploy.imageFrom',
    ]);
  });
});

describe('several problems in one file', () => {
  it('reports every problem at once, never stopping at the first', () => {
    // Prepare
    const text = [
      'name: shop api',
      'source:',
      '  provider: githb',
      '  repository: acme/shop-api',
      'jobs:',
      '  build:',
      '    template: nod',
      '    needs: [test]',
      '  test:',
      '    template: node',
      '    needs: [build]',
      '    retries: 12',
      '  deploy:',
      '    kind: deploy',
      '    needs: [imgae]',
      '    commands: [./deploy.sh]',
      '    deploy:',
      '      target: staging',
      '      steps: [50, 10]',
      '      bake: forever',
    ].join('\n');
    // Act
    const problems = problemsOfText(text);
    // Assess
    assert.deepEqual([...problems].sort(), [
      'jobs.build.template: unknown template "nod" (did you mean "node"?); expected one of java, java-gradle, node, python, php, go, cpp',
      'jobs.deploy.commands: applies to build and image jobs only; a deploy job runs no commands of its own',
      'jobs.deploy.deploy.bake: invalid duration "forever": use a number of seconds or a string like "30s", "5m", "1h" or "1h30m"',
      'jobs.deploy.deploy.steps: must be strictly increasing percentages, e.g. [10, 50, 100]; 10 comes after 50',
      'jobs.deploy.needs[0]: unknown job "imgae"',
      'jobs.test.retries: must be between 0 and 10 (extra attempts after a failure)',
      'jobs: dependency cycle: build -> test -> build',
      'name: must start with a letter or digit and hold only letters, digits, ".", "-" and "_" (at most 100 characters)',
      'source.provider: unknown provider "githb" (did you mean "github"?); expected one of github, gitlab, bitbucket',
    ]);
  });

  it('lists problems in the order of the file sections', () => {
    // Prepare
    const doc = validDoc();
    doc.notifications = [{ kind: 'email' }];
    doc.jobs.test.retries = 99;
    doc.source.provider = 'svn';
    doc.name = '-';
    // Act
    const paths = problemsOfText(stringify(doc)).map((p) => p.split(':')[0]);
    // Assess
    assert.deepEqual(paths, ['name', 'source.provider', 'jobs.test.retries', 'notifications[0].topicArn']);
  });

  it('throws one ValidationError carrying every problem', () => {
    // Prepare
    const doc = validDoc();
    doc.name = '';
    doc.jobs.deploy.needs = ['imgae'];
    // Act + Assess
    assert.throws(
      () => assertPipeline(stringify(doc), { filename: 'slipway.yml' }),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.status, 400);
        assert.equal(err.problems.length, 2);
        assert.match(err.message, /^invalid pipeline definition in slipway.yml \(2 problems\)\n/);
        assert.match(err.message, /jobs\.deploy\.needs\[0\]: unknown job "imgae" \(did you mean "image"\?\)/);
        return true;
      },
    );
  });

  it('never throws or leaks a stack trace, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string()), (input) => {
        const result = typeof input === 'string' ? parsePipeline(input) : parsePipelineObject(input);
        if (!result.ok) {
          assert.ok(result.problems.length > 0);
          for (const p of result.problems) assert.doesNotMatch(p.message, /\n\s+at /);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on random mutations of a valid job', () => {
    fc.assert(
      fc.property(fc.constantFrom('kind', 'needs', 'when', 'template', 'docker', 'deploy', 'approval', 'env', 'timeout', 'retries'), fc.anything(), (key, value) => {
        const doc = validDoc();
        doc.jobs.deploy[key] = value;
        parsePipelineObject(doc);
      }),
      { numRuns: 300 },
    );
  });
});

describe('helpers', () => {
  it('parses durations in text and seconds and refuses the rest', () => {
    assert.deepEqual(['30s', '5m', '1h', '1h30m', '2d', 90, '90'].map(parseDuration), [30, 300, 3600, 5400, 172800, 90, 90]);
    assert.deepEqual(['', 'm', '5 minutes', '-1', -1, 1.5, '1m1h', null].map(parseDuration), Array(8).fill(undefined));
  });

  it('suggests a name only when it is a likely typo', () => {
    assert.equal(closestMatch('imgae', ['image', 'test']), 'image');
    assert.equal(closestMatch('deploy-prod', ['deploy-production', 'test']), undefined);
    assert.equal(closestMatch('zzz', ['image', 'test']), undefined);
  });
});

describe('pull requests, forks and approvers', () => {
  it('reads the fork policy, its approvers and a job opting in for same-repository pull requests', () => {
    const doc = validDoc();
    doc.pullRequests = { forks: 'skip', approvers: ['arn:aws:iam::123456789012:role/Maintainers'] };
    (doc.jobs as Doc).deploy = { kind: 'deploy', needs: ['image'], pullRequests: 'same-repository', deploy: { target: 'preview' } };
    const spec = assertPipeline(stringify(doc));
    assert.deepEqual(spec.pullRequests, { forks: 'skip', approvers: ['arn:aws:iam::123456789012:role/Maintainers'] });
    assert.equal(spec.jobs.deploy.pullRequests, 'same-repository');
  });

  it('refuses an image, deploy or approval job that asks to run for every pull request, forks included', () => {
    assert.deepEqual(
      problemsOf((doc) => { ((doc.jobs as Doc).image as Doc).pullRequests = 'all'; }),
      ["jobs.image.pullRequests: an image job never runs for a fork's pull request; use same-repository to run it for pull requests from branches of this repository, or skip"],
    );
  });

  it('names an unknown fork policy with the allowed ones', () => {
    assert.deepEqual(problemsOf((doc) => { doc.pullRequests = { forks: 'allow' }; }), [
      'pullRequests.forks: unknown pull-request policy for forks "allow"; expected one of skip, approve-first, build',
    ]);
  });

  it('reserves the name of the approval put in front of a fork run', () => {
    const problems = problemsOf((doc) => { (doc.jobs as Doc)['fork-approval'] = { kind: 'approval' }; });
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^jobs\.fork-approval: "fork-approval" is reserved/);
  });

  it('takes approvers only as principals AWS vouches for, never a name the caller picks', () => {
    const approvers = (list: string[]) => problemsOf((doc) => { (doc.jobs as Doc).ok = { kind: 'approval', approval: { approvers: list } }; });
    const good = [
      'arn:aws:iam::123456789012:user/alice',
      'arn:aws:iam::123456789012:user/ops/bob',
      'arn:aws:iam::123456789012:role/Releasers',
      'arn:aws:iam::123456789012:role/teams/Releasers',
      'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Deployers_0123456789abcdef/alice@acme.example',
    ];
    const doc = validDoc();
    (doc.jobs as Doc).ok = { kind: 'approval', approval: { approvers: good } };
    assert.deepEqual(assertPipeline(stringify(doc)).jobs.ok.approval?.approvers, good);
    const [email] = approvers(['alice@acme.example']);
    assert.match(email, /^jobs\.ok\.approval\.approvers\[0\]: "alice@acme\.example" is not a principal AWS vouches for; use an IAM user ARN/);
    const [session] = approvers(['arn:aws:sts::123456789012:assumed-role/Deployer/alice']);
    assert.match(session, /names a role session, whose name the caller chooses; name the role instead \(arn:aws:iam::123456789012:role\/Deployer/);
    const [fork] = problemsOf((doc) => { doc.pullRequests = { approvers: ['alice'] }; });
    assert.match(fork, /^pullRequests\.approvers\[0\]: "alice" is not a principal/);
  });
});
