import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { generateBuildspec, shellGlob } from '../../shared/services/buildspec.ts';
import { ValidationError } from '../../shared/domain/errors.ts';
import { imageJob, jobSpec } from '../support/engine-fixtures.ts';
import { TEMPLATES } from '../../shared/domain/templates.ts';

interface Spec {
  version: number;
  env: { shell: string; variables?: Record<string, string>; 'exported-variables'?: string[] };
  phases: Record<string, { commands: string[]; 'runtime-versions'?: Record<string, string> }>;
  cache?: { paths: string[] };
}

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

function specOf(job = jobSpec('build')): Spec {
  return parse(generateBuildspec(job, { ecrRegistry: REGISTRY })) as Spec;
}

test('a build job runs its install steps, commands and cache paths in that order', () => {
  const spec = specOf(jobSpec('build', { template: 'node', buildImage: 'aws/codebuild/amazonlinux-x86_64-standard:5.0', install: ['npm ci'], commands: ['npm run build', 'npm test'], cache: ['node_modules/**/*'], env: { NODE_ENV: 'production' } }));
  assert.equal(spec.version, 0.2);
  assert.equal(spec.env.shell, 'bash');
  assert.deepEqual(spec.env.variables, { NODE_ENV: 'production' });
  assert.ok(spec.phases.install['runtime-versions']?.nodejs, 'the node template pins a runtime on a managed image');
  const [report, restore, ...install] = spec.phases.install.commands;
  assert.equal(report, 'echo "slipway: runtime nodejs: asked 22, got $(node --version)"');
  assert.match(restore, /npm_config_cache="\$SLIPWAY_CACHE_DIR\/npm"/, 'the dependency cache is restored before the install steps');
  assert.deepEqual(install, ['npm ci']);
  assert.deepEqual(spec.phases.build.commands, ['npm run build', 'npm test']);
  assert.deepEqual(spec.cache, { paths: ['node_modules/**/*'] });
  assert.equal(spec.phases.post_build?.commands.length, 1, 'no outputs to upload; only the cache save');
  assert.match(spec.phases.post_build!.commands[0], /SLIPWAY_CACHE_WRITE/);
  assert.equal(spec.env['exported-variables'], undefined);
});

test('a retry waits its backoff first: the job\'s retryDelay, doubling per attempt', () => {
  const job = jobSpec('build', { commands: ['make'], retryDelaySeconds: 10 });
  const install = (attempt: number) => (parse(generateBuildspec(job, { attempt })) as Spec).phases.install?.commands ?? [];
  assert.deepEqual(install(1), []);
  assert.match(install(2)[0], /attempt 2: waiting 10s .*&& sleep 10$/);
  assert.match(install(3)[0], /&& sleep 20$/);
});

test('a custom image gets no runtime-versions, which CodeBuild would reject', () => {
  const spec = specOf(jobSpec('build', { template: 'node', buildImage: 'public.ecr.aws/docker/library/node:22', commands: ['npm test'] }));
  assert.equal(spec.phases.install?.['runtime-versions'], undefined);
});

test('a job without commands still has a build phase that succeeds', () => {
  assert.deepEqual(specOf(jobSpec('noop')).phases.build.commands, ['true']);
});

test('declared inputs are downloaded from the run prefix before the commands run', () => {
  const spec = specOf(jobSpec('test', { inputs: ['build', 'lint'], commands: ['npm test'] }));
  const pre = spec.phases.pre_build.commands;
  assert.equal(pre.length, 2);
  assert.ok(pre[0].startsWith('aws s3 cp --recursive --only-show-errors "s3://${SLIPWAY_ARTIFACT_BUCKET}/${SLIPWAY_ARTIFACT_ROOT:-runs}/${SLIPWAY_RUN_ID}/build/" . && '), pre[0]);
  assert.ok(pre[1].startsWith('aws s3 cp --recursive --only-show-errors "s3://${SLIPWAY_ARTIFACT_BUCKET}/${SLIPWAY_ARTIFACT_ROOT:-runs}/${SLIPWAY_RUN_ID}/lint/" . && '), pre[1]);
  // Each input's executable files get their mode back from the list its job uploaded.
  assert.match(pre[0], /\.executables\/build" .* chmod \+x/);
});

test('an image job logs in to ECR, builds the Dockerfile, tags with the commit and configured tags, pushes and exports the image', () => {
  const spec = specOf(imageJob('image', { image: { dockerfile: 'docker/app.Dockerfile', context: 'app', repository: 'acme/web', tags: ['latest', 'stable'] } }));
  assert.deepEqual(spec.env['exported-variables'], ['imageUri', 'imageDigest']);
  assert.match(spec.phases.pre_build.commands.at(-1)!, new RegExp(`aws ecr get-login-password .* \\| docker login --username AWS --password-stdin ${REGISTRY.replace(/\./g, '\\.')}$`));
  const build = spec.phases.build.commands;
  // The build role may push only under <prefix>/* (default "slipway"): the prefix is always added.
  const repo = `${REGISTRY}/slipway/acme/web`;
  assert.equal(build[0], `docker build -f 'docker/app.Dockerfile' -t "${repo}:\${SLIPWAY_COMMIT}" 'app'`);
  assert.ok(build.includes(`docker tag "${repo}:\${SLIPWAY_COMMIT}" "${repo}:latest"`));
  assert.ok(build.includes(`docker push "${repo}:\${SLIPWAY_COMMIT}"`));
  assert.ok(build.includes(`docker push "${repo}:stable"`));
  assert.ok(build.includes(`export imageUri="${repo}:\${SLIPWAY_COMMIT}"`));
  assert.ok(build.some((c) => c.startsWith('export imageDigest=')));
});

test('an image job without a registry, a bad tag or a bad repository is refused with the reason', () => {
  assert.throws(() => generateBuildspec(imageJob('image')), (e: unknown) => e instanceof ValidationError && /SLIPWAY_ECR_REGISTRY/.test(e.message));
  assert.throws(
    () => generateBuildspec(imageJob('image', { image: { dockerfile: 'Dockerfile', context: '.', repository: 'acme/web', tags: ['no spaces'] } }), { ecrRegistry: REGISTRY }),
    /"no spaces" is not a valid image tag/,
  );
  assert.throws(
    () => generateBuildspec(imageJob('image', { image: { dockerfile: 'Dockerfile', context: '.', repository: 'Acme/Web', tags: [] } }), { ecrRegistry: REGISTRY }),
    /not a valid ECR repository name/,
  );
});

test('deploy and approval jobs have no buildspec', () => {
  assert.throws(() => generateBuildspec(jobSpec('ship', { kind: 'deploy' })), ValidationError);
});

test('output globs keep their wildcards and quote everything else', () => {
  assert.equal(shellGlob('dist/**'), 'dist/**');
  assert.equal(shellGlob('./reports/*.xml'), 'reports/*.xml');
  assert.equal(shellGlob('my file;rm -rf $HOME'), 'my\\ file\\;rm\\ -rf\\ \\$HOME');
  assert.throws(() => shellGlob('../secrets'), ValidationError);
  assert.throws(() => shellGlob('/etc/passwd'), ValidationError);
});

test('every generated command is valid bash', () => {
  const spec = specOf(imageJob('image', { inputs: ['build'], commands: ['make'], outputs: ['dist/**', 'a b.txt'] }));
  for (const phase of Object.values(spec.phases)) {
    for (const command of phase.commands) execFileSync('bash', ['-n', '-c', command]);
  }
});

/** Runs the upload commands in a workspace with a fake `aws` that records its arguments. */
function runPostBuild(outputs: string[], files: string[], succeeding = '1', failingAws = false): { log: string[]; status: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'buildspec-'));
  const bin = path.join(dir, 'bin');
  const work = path.join(dir, 'work');
  mkdirSync(bin);
  mkdirSync(work);
  for (const f of files) {
    mkdirSync(path.dirname(path.join(work, f)), { recursive: true });
    writeFileSync(path.join(work, f), 'x');
  }
  const log = path.join(dir, 'aws.log');
  writeFileSync(path.join(bin, 'aws'), `#!/bin/bash\necho "$*" >> ${JSON.stringify(log)}\n${failingAws ? 'exit 1\n' : ''}`);
  chmodSync(path.join(bin, 'aws'), 0o755);
  writeFileSync(log, '');
  const spec = specOf(jobSpec('build', { outputs }));
  // Like CodeBuild: the phase's commands one after the other, stopping at the first that fails.
  let status = 0;
  for (const command of spec.phases.post_build.commands) {
    try {
      execFileSync('bash', ['-c', command], {
        cwd: work,
        // stdin from /dev/null, as CodeBuild runs commands: bash reads ~/.bashrc when stdin is a socket and SHLVL is unset (Debian's build), seconds per command here.
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: `${bin}:${process.env.PATH}`, SLIPWAY_ARTIFACT_BUCKET: 'bucket', SLIPWAY_RUN_ID: 'R1', CODEBUILD_BUILD_SUCCEEDING: succeeding },
      });
    } catch (e) {
      status = (e as { status: number }).status;
      break;
    }
  }
  return { log: readFileSync(log, 'utf8').split('\n').filter(Boolean).sort(), status };
}

test('outputs upload to runs/<runId>/<job>/ under the path they had in the workspace', () => {
  const { log, status } = runPostBuild(['dist/**', 'package.json'], ['dist/app.js', 'dist/lib/util.js', 'package.json', 'src/index.ts']);
  assert.equal(status, 0);
  assert.ok(log.includes('s3 cp --only-show-errors dist/app.js s3://bucket/runs/R1/build/dist/app.js'), log.join('\n'));
  assert.ok(log.includes('s3 cp --only-show-errors dist/lib/util.js s3://bucket/runs/R1/build/dist/lib/util.js'), log.join('\n'));
  assert.ok(log.includes('s3 cp --only-show-errors package.json s3://bucket/runs/R1/build/package.json'));
  assert.ok(!log.some((l) => l.includes('src/index.ts')));
  assert.ok(!log.some((l) => l.includes('--recursive')), 'files under a wildcard are uploaded once each');
});

test('an output naming a directory uploads the directory recursively', () => {
  const { log, status } = runPostBuild(['target'], ['target/app.jar', 'target/classes/A.class']);
  assert.equal(status, 0);
  assert.deepEqual(log.filter((l) => !l.includes('/.executables/')), ['s3 cp --recursive --only-show-errors target s3://bucket/runs/R1/build/target']);
});

test('an output that matches no file fails the build', () => {
  const { status } = runPostBuild(['dist/**'], ['src/index.ts']);
  assert.equal(status, 1);
});

test('a failed upload fails the build', () => {
  const { status } = runPostBuild(['dist/**'], ['dist/a.js', 'dist/b.js'], '1', true);
  assert.notEqual(status, 0);
});

test('no generated command relies on exit, whose reach CodeBuild does not define', () => {
  const spec = specOf(imageJob('image', { inputs: ['build'], outputs: ['dist/**', 'target'] }));
  for (const phase of Object.values(spec.phases)) {
    for (const command of phase.commands) assert.doesNotMatch(command, /\bexit\b/, command);
  }
});

test('a failed build uploads nothing', () => {
  const { log, status } = runPostBuild(['dist/**'], ['dist/app.js'], '0');
  assert.equal(status, 0);
  assert.deepEqual(log, []);
});

/**
 * The dependency cache as CodeBuild runs it: every phase's commands in one bash, as buildspec 0.2
 * does, with an `aws` that copies to and from a folder standing for the bucket, and stand-ins for
 * npm and node. Each build gets a fresh checkout and /tmp, as each CodeBuild container does.
 */
function cachedBuilds() {
  const root = mkdtempSync(path.join(tmpdir(), 'buildspec-cache-'));
  const bin = path.join(root, 'bin');
  const bucket = path.join(root, 's3');
  mkdirSync(bin);
  mkdirSync(bucket);
  const npmLog = path.join(root, 'npm.log');
  writeFileSync(path.join(bin, 'aws'), [
    '#!/bin/bash',
    'a=(); for x in "$@"; do [ "$x" = --only-show-errors ] || a+=("$x"); done',
    `m() { case "$1" in s3://*) p="\${1#s3://}"; echo ${JSON.stringify(bucket)}/"\${p#*/}";; *) echo "$1";; esac; }`,
    's=$(m "${a[2]}"); d=$(m "${a[3]}"); [ -f "$s" ] || exit 1; mkdir -p "$(dirname "$d")" && cp "$s" "$d"',
  ].join('\n'), { mode: 0o755 });
  writeFileSync(path.join(bin, 'npm'), [
    '#!/bin/bash',
    `echo "$1" >> ${JSON.stringify(npmLog)}`,
    'case "$1" in ci|install) rm -rf node_modules; mkdir -p node_modules/dep node_modules/.bin && echo "built by $(node --version)" > node_modules/dep/index.js && ln -s ../dep/index.js node_modules/.bin/dep;; ls) [ -f node_modules/dep/index.js ];; esac',
    // A large tree (incompressible), for the size cap; and something in npm's own cache, which is saved without the tree.
    'if [ -n "${FAKE_BIG_TREE:-}" ] && [ -d node_modules ]; then head -c 40000 /dev/urandom > node_modules/dep/blob; fi',
    'mkdir -p "${npm_config_cache:-/dev/null}" 2>/dev/null && echo cached > "${npm_config_cache}/entry" 2>/dev/null; true',
  ].join('\n'), { mode: 0o755 });
  writeFileSync(path.join(bin, 'node'), '#!/bin/bash\necho "${FAKE_NODE_VERSION:-v22.1.0}"\n', { mode: 0o755 });
  const spec = specOf(jobSpec('test', { template: 'node', compute: 'lambda', install: [...TEMPLATES.node.install], commands: ['cat node_modules/dep/index.js', 'echo "link: $(readlink node_modules/.bin/dep)"'] }));
  const script = ['install', 'pre_build', 'build', 'post_build'].flatMap((p) => spec.phases[p]?.commands ?? []).join('\n');
  let n = 0;
  return (lock: string, env: Record<string, string> = {}) => {
    n += 1;
    const src = path.join(root, `src${n}`);
    const tmp = path.join(root, `tmp${n}`);
    mkdirSync(src);
    mkdirSync(tmp);
    if (lock !== '') writeFileSync(path.join(src, 'package-lock.json'), lock);
    writeFileSync(npmLog, '');
    const out = execFileSync('bash', ['-c', script], {
      cwd: src, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${bin}:${process.env.PATH}`, TMPDIR: tmp, CODEBUILD_SRC_DIR: src, CODEBUILD_BUILD_SUCCEEDING: '1', SLIPWAY_ARTIFACT_BUCKET: 'bucket', SLIPWAY_RUN_ID: `R${n}`,
        SLIPWAY_PIPELINE_ID: 'web', SLIPWAY_CACHE_BRANCH: 'main', SLIPWAY_CACHE_FALLBACK: 'main', SLIPWAY_CACHE_WRITE: '1', ...env,
      },
    });
    return { out, npm: readFileSync(npmLog, 'utf8').split('\n').filter(Boolean), bucket };
  };
}

test('on CodeBuild the dependency cache carries node_modules: the same lock file and runtime skip npm ci; another runtime or lock file installs', () => {
  const build = cachedBuilds();
  const cold = build('{"v":1}\n');
  assert.deepEqual(cold.npm, ['ci']);
  assert.match(cold.out, /dependency cache saved/);
  const listing = execFileSync('tar', ['-tzf', path.join(cold.bucket, 'cache/web/test/main/latest.tar.gz')], { encoding: 'utf8' });
  assert.match(listing, /installed\/node_modules\/dep\/index\.js/);
  assert.match(listing, /installed\/\.built-for/);
  const warm = build('{"v":1}\n');
  assert.match(warm.out, /installed node_modules restored/);
  assert.match(warm.out, /npm ci skipped/);
  assert.deepEqual(warm.npm, ['ls']);
  assert.match(warm.out, /link: \.\.\/dep\/index\.js/);
  const otherRuntime = build('{"v":1}\n', { FAKE_NODE_VERSION: 'v24.0.0' });
  assert.match(otherRuntime.out, /built for another runtime; not used/);
  assert.deepEqual(otherRuntime.npm, ['ci']);
  assert.match(otherRuntime.out, /dependency cache saved/, 'saved again with a tree for the new runtime');
  assert.deepEqual(build('{"v":1}\n', { FAKE_NODE_VERSION: 'v24.0.0' }).npm, ['ls'], 'the next build on the new runtime reuses it');
  const otherImage = build('{"v":1}\n', { FAKE_NODE_VERSION: 'v24.0.0', CODEBUILD_BUILD_IMAGE: 'aws/codebuild/amazonlinux-x86_64-lambda-standard:nodejs22' });
  assert.match(otherImage.out, /built for another runtime; not used/, 'another build image (libc, system libraries) is another runtime');
  assert.deepEqual(otherImage.npm, ['ci']);
  // Without a lock file every commit hashes alike: no tree is kept or put back, npm installs each time.
  const unlocked = cachedBuilds();
  const first = unlocked('');
  const second = unlocked('');
  assert.ok(!execFileSync('tar', ['-tzf', path.join(first.bucket, 'cache/web/test/main/latest.tar.gz')], { encoding: 'utf8' }).includes('installed/'));
  assert.doesNotMatch(second.out, /installed node_modules restored|npm ci skipped/);
  assert.deepEqual(second.npm, ['install']);
  const otherLock = build('{"v":2}\n');
  assert.match(otherLock.out, /latest\.tar\.gz/);
  assert.doesNotMatch(otherLock.out, /installed node_modules restored/);
  assert.deepEqual(otherLock.npm, ['ci']);
});

test('on CodeBuild a cache over the cap with node_modules is saved without them, and one over the cap without them is not saved', () => {
  const build = cachedBuilds();
  const big = build('{"v":1}\n', { FAKE_BIG_TREE: '1', SLIPWAY_CACHE_MAX_BYTES: '20000' });
  assert.match(big.out, /dependency cache with node_modules is \d+ bytes, over the cap of 20000; saving it without them/);
  assert.match(big.out, /dependency cache saved \(\d+ bytes\)/);
  const listing = execFileSync('tar', ['-tzf', path.join(big.bucket, 'cache/web/test/main/latest.tar.gz')], { encoding: 'utf8' });
  assert.doesNotMatch(listing, /installed\//);
  assert.match(listing, /entry/, "npm's own cache is kept");
  // The next build finds the entry (npm's cache) but no tree: it installs.
  const next = build('{"v":1}\n', { FAKE_BIG_TREE: '1', SLIPWAY_CACHE_MAX_BYTES: '20000' });
  assert.match(next.out, /dependency cache cache\/web\/test\/main\//);
  assert.deepEqual(next.npm, ['ci']);
  const tiny = cachedBuilds()('{"v":1}\n', { SLIPWAY_CACHE_MAX_BYTES: '10' });
  assert.match(tiny.out, /over the cap of 10; not saved/);
  assert.doesNotMatch(tiny.out, /dependency cache saved/);
});
