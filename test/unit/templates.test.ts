import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEMPLATE_NAMES, type TemplateName } from '../../shared/domain/pipeline.ts';
import { applyTemplate, DEFAULT_BUILD_IMAGE, runtimeVersionsFor, starterPipeline, TEMPLATES } from '../../shared/domain/templates.ts';
import { parsePipeline } from '../../shared/domain/definition.ts';

/** stdin from /dev/null, as CodeBuild runs commands: bash reads ~/.bashrc when stdin is a socket and SHLVL is unset (Debian's build), which costs seconds a command on a machine with a heavy one. */
const NO_STDIN: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];

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

  it('never calls a package manager that exists on one OS only, nor installs anything globally', () => {
    for (const name of TEMPLATE_NAMES) {
      const steps = [...TEMPLATES[name].install, ...TEMPLATES[name].commands].join('\n');
      assert.doesNotMatch(steps, /\b(dnf|yum|apt|apt-get|apk|brew|zypper|pacman)\b/, name);
      assert.doesNotMatch(steps, /npm (i|install) (-g|--global)|--upgrade pip|sudo /, name);
      // pip only ever runs inside the job's virtual environment (python) or into $HOME (cpp's CMake fallback).
      for (const line of steps.split('\n').filter((l) => /\bpip\b/.test(l))) {
        assert.ok(name === 'python' ? TEMPLATES.python.install.indexOf('. .venv/bin/activate') < TEMPLATES.python.install.indexOf(line) || TEMPLATES.python.commands.includes(line) : /pip install --user/.test(line), `${name}: ${line}`);
      }
    }
  });

  it('names every command its steps run in the toolchain check', () => {
    // Shell words, and what lives in the workspace (wrappers, the venv, vendor/bin), need no install.
    const SHELL = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'in', 'do', 'done', 'export', 'echo', 'true', 'false', 'command', '[', '.', 'sh', 'python', 'head', 'while', 'read', 'printf', '{', '}']);
    for (const name of TEMPLATE_NAMES) {
      const t = TEMPLATES[name];
      const covered = new Set(t.tools.flatMap((x) => [x.command, ...(x.neededBy ?? [])]));
      for (const step of [...t.install, ...t.commands]) {
        const words = step.replace(/\$\([^)]*\)|"[^"]*"|'[^']*'/g, '"x"').split(/;|&&|\|\||\bthen\b|\belse\b|\bdo\b|!/).map((c) => c.trim().split(/\s+/)[0]).filter(Boolean);
        for (const w of words) {
          if (SHELL.has(w) || w.startsWith('./') || w.startsWith('vendor/') || w.startsWith('"')) continue;
          // cpp runs python3 only where CMake is missing, which the check itself refuses first (it names cmake).
          if (name === 'cpp' && w === 'python3') continue;
          assert.ok(covered.has(w), `${name}: \`${w}\` (in \`${step}\`) is not in the toolchain check`);
        }
      }
    }
  });

  it('tells maven and gradle apart', () => {
    assert.match(TEMPLATES.java.commands.join(' '), /\bmvn\b/);
    assert.match(TEMPLATES['java-gradle'].commands.join(' '), /gradlew/);
  });

  /** Runs a template's install steps (one shell, as buildspec 0.2) in a workspace holding `files`, with fake tools that record their arguments. */
  function installWith(template: TemplateName, files: string[], tools: string[]): string[] {
    const dir = mkdtempSync(path.join(tmpdir(), 'template-'));
    const bin = path.join(dir, 'bin');
    const ws = path.join(dir, 'ws');
    mkdirSync(bin);
    mkdirSync(ws);
    for (const f of files) writeFileSync(path.join(ws, f), f === 'mvnw' || f === 'gradlew' ? 'echo "wrapper $*" >> "$LOG"\n' : '{}');
    for (const t of tools) {
      writeFileSync(path.join(bin, t), `#!/bin/bash\necho "${t} $*" >> "$LOG"\n`);
      chmodSync(path.join(bin, t), 0o755);
    }
    const log = path.join(dir, 'log');
    writeFileSync(log, '');
    execFileSync('bash', ['-eo', 'pipefail', '-c', TEMPLATES[template].install.join('\n')], { cwd: ws, env: { PATH: `${bin}:/usr/bin:/bin`, LOG: log }, stdio: NO_STDIN });
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  }

  it('node: npm ci with a lockfile, a plain install that writes none without', () => {
    assert.deepEqual(installWith('node', ['package.json', 'package-lock.json'], ['npm']), ['npm ci --prefer-offline --no-audit --no-fund']);
    assert.deepEqual(installWith('node', ['package.json'], ['npm']), ['npm install --no-package-lock --no-audit --no-fund']);
  });

  it('php: composer install only for a composer.json', () => {
    assert.deepEqual(installWith('php', ['composer.json'], ['composer']), ['composer install --no-interaction --no-progress --prefer-dist']);
    assert.deepEqual(installWith('php', [], ['composer']), []);
  });

  it('java: the committed Maven or Gradle wrapper wins over the installed tool', () => {
    assert.deepEqual(installWith('java', ['pom.xml', 'mvnw'], ['mvn']), ['wrapper -B -ntp -q dependency:go-offline']);
    assert.deepEqual(installWith('java', ['pom.xml'], ['mvn']), ['mvn -B -ntp -q dependency:go-offline']);
    assert.deepEqual(installWith('java-gradle', ['gradlew'], ['gradle']), ['wrapper --no-daemon --version']);
    assert.deepEqual(installWith('java-gradle', ['build.gradle'], ['gradle']), ['gradle --no-daemon --version']);
  });

  it('cpp: installs nothing when CMake is there', () => {
    assert.deepEqual(installWith('cpp', ['CMakeLists.txt'], ['cmake', 'python3']), []);
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
      env: { ...TEMPLATES.node.env, CI: 'false', EXTRA: '1' },
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
    const before = [...TEMPLATES.php.commands];
    const config = applyTemplate({ template: 'php' });
    config.commands.push('echo extra');
    assert.deepEqual(TEMPLATES.php.commands, before);
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
