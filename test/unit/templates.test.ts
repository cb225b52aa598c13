import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TEMPLATE_NAMES } from '../../shared/domain/pipeline.ts';
import { applyTemplate, DEFAULT_BUILD_IMAGE, runtimeVersionsFor, starterPipeline, TEMPLATES } from '../../shared/domain/templates.ts';
import { parsePipeline } from '../../shared/domain/definition.ts';

describe('language templates', () => {
  it('defines exactly the template names of the pipeline vocabulary', () => {
    assert.deepEqual(Object.keys(TEMPLATES).sort(), [...TEMPLATE_NAMES].sort());
  });

  for (const name of TEMPLATE_NAMES) {
    it(`${name} yields a complete build config on a CodeBuild image`, () => {
      // Act
      const config = applyTemplate({ template: name });
      // Assess
      assert.match(config.image, /^aws\/codebuild\/amazonlinux-x86_64-standard:\d+\.\d+$/);
      assert.ok(config.install.length > 0, 'install steps');
      assert.ok(config.commands.length > 0, 'default commands');
      assert.ok(config.cache.length > 0, 'cache paths');
      assert.ok(config.cache.every((p) => p.endsWith('**/*')), 'cache paths are CodeBuild globs');
      assert.ok(Object.values(config.env).every((v) => typeof v === 'string'));
      assert.deepEqual(config.runtimeVersions, { ...TEMPLATES[name].runtimeVersions });
    });
  }

  it('pins a runtime version for every language CodeBuild ships as a runtime', () => {
    const runtimes = Object.fromEntries(TEMPLATE_NAMES.map((n) => [n, TEMPLATES[n].runtimeVersions]));
    assert.deepEqual(runtimes, {
      java: { java: 'corretto21' },
      'java-gradle': { java: 'corretto21' },
      node: { nodejs: '22' },
      python: { python: '3.12' },
      php: { php: '8.3' },
      go: { golang: '1.23' },
      cpp: {},
    });
  });

  it('tells maven and gradle apart', () => {
    assert.match(TEMPLATES.java.commands.join(' '), /\bmvn\b/);
    assert.match(TEMPLATES['java-gradle'].commands.join(' '), /gradlew/);
  });
});

describe('overriding a template', () => {
  it('lets every part of the job win over the template', () => {
    // Act
    const config = applyTemplate({
      template: 'node',
      image: 'public.ecr.aws/docker/library/node:22',
      install: ['pnpm install --frozen-lockfile'],
      commands: ['pnpm test'],
      cache: ['/root/.local/share/pnpm/**/*'],
      env: { CI: 'false', EXTRA: '1' },
    });
    // Assess
    assert.deepEqual(config, {
      image: 'public.ecr.aws/docker/library/node:22',
      runtimeVersions: {},
      install: ['pnpm install --frozen-lockfile'],
      commands: ['pnpm test'],
      cache: ['/root/.local/share/pnpm/**/*'],
      env: { CI: 'false', EXTRA: '1' },
    });
  });

  it('keeps the parts a job does not override', () => {
    const config = applyTemplate({ template: 'go', commands: ['go test -race ./...'] });
    assert.deepEqual(config.install, [...TEMPLATES.go.install]);
    assert.deepEqual(config.cache, [...TEMPLATES.go.cache]);
    assert.deepEqual(config.commands, ['go test -race ./...']);
  });

  it('switches a step off with an empty list', () => {
    assert.deepEqual(applyTemplate({ template: 'python', install: [] }).install, []);
  });

  it('merges env key by key', () => {
    assert.deepEqual(applyTemplate({ template: 'python', env: { PYTHONPATH: 'src' } }).env, { ...TEMPLATES.python.env, PYTHONPATH: 'src' });
  });

  it('does not share arrays with the template (callers may mutate the result)', () => {
    const config = applyTemplate({ template: 'php' });
    config.commands.push('echo extra');
    assert.deepEqual(TEMPLATES.php.commands, ['vendor/bin/phpunit']);
  });

  it('runs a job without template on the default image with only its own steps', () => {
    assert.deepEqual(applyTemplate({ commands: ['make'] }), {
      image: DEFAULT_BUILD_IMAGE,
      runtimeVersions: {},
      install: [],
      commands: ['make'],
      cache: [],
      env: {},
    });
  });

  it('keeps runtime versions on another CodeBuild image but drops them on a custom one', () => {
    assert.deepEqual(runtimeVersionsFor({ template: 'node', buildImage: 'aws/codebuild/standard:7.0' }), { nodejs: '22' });
    assert.deepEqual(runtimeVersionsFor({ template: 'node', buildImage: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/node:22' }), {});
    assert.deepEqual(runtimeVersionsFor({ buildImage: DEFAULT_BUILD_IMAGE }), {});
  });
});

describe('starter pipelines', () => {
  for (const name of TEMPLATE_NAMES) {
    it(`the ${name} starter is a valid pipeline using the ${name} template`, () => {
      // Act
      const result = parsePipeline(starterPipeline(name, 'acme/shop-api'));
      // Assess
      assert.deepEqual(result.ok ? [] : result.problems, []);
      assert.ok(result.ok);
      assert.equal(result.spec.name, 'shop-api');
      assert.equal(result.spec.source.repository, 'acme/shop-api');
      assert.equal(result.spec.jobs.test.template, name);
      assert.deepEqual(result.spec.jobs.test.commands, [...TEMPLATES[name].commands]);
      assert.equal(result.spec.jobs['deploy-staging'].deploy?.imageFrom, 'image');
    });
  }

  it('uses a placeholder repository when none is given', () => {
    const result = parsePipeline(starterPipeline('go'));
    assert.ok(result.ok);
    assert.equal(result.spec.source.repository, 'acme/my-service');
    assert.equal(result.spec.jobs.image.image?.repository, 'my-service');
  });

  it('lowercases the ECR repository derived from a mixed-case repository name', () => {
    const result = parsePipeline(starterPipeline('java', 'Acme/Billing.Service'));
    assert.ok(result.ok);
    assert.equal(result.spec.jobs.image.image?.repository, 'billing.service');
  });
});
