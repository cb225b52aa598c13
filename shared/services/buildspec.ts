/**
 * The CodeBuild buildspec (version 0.2) for one job, generated from its
 * normalised JobSpec. Pure: the run-specific values (bucket, run id, commit)
 * are not baked in but read from the environment variables the runner sets on
 * every build (SLIPWAY_*), so one job always yields the same text.
 *
 * Phases:
 * - install: runtime versions and the job's install steps;
 * - pre_build: declared inputs are downloaded from
 *   `s3://$SLIPWAY_ARTIFACT_BUCKET/$SLIPWAY_ARTIFACT_ROOT/$SLIPWAY_RUN_ID/<input>/` into the
 *   workspace (each file lands at the path it was uploaded from); image jobs log
 *   in to ECR;
 * - build: the job's commands; image jobs then build, tag and push the image and
 *   export `imageUri` and `imageDigest`;
 * - post_build: when the build succeeded, every declared output is uploaded to
 *   `s3://$SLIPWAY_ARTIFACT_BUCKET/runs/$SLIPWAY_RUN_ID/<job>/<path>`; an output
 *   pattern that matches nothing fails the build, so a job never "succeeds"
 *   without the artifacts its dependents need. S3 keeps no file modes, so the
 *   executable files among the outputs are listed in one more object
 *   ({@link executablesKey}), and a job taking the outputs as inputs makes them
 *   executable again.
 *
 * The local runner (shared/local/build-runner.ts) implements the same rules;
 * test/unit/artifact-semantics.test.ts runs both on the same cases.
 */
import { stringify } from 'yaml';
import { ValidationError } from '../domain/errors.ts';
import { DEFAULT_ECR_REPOSITORY_PREFIX, ecrRepositoryName, type JobSpec } from '../domain/pipeline.ts';
import { ARTIFACT_ROOTS } from '../domain/run.ts';
import { runtimeVersionsFor, TEMPLATES } from '../domain/templates.ts';
import { retryDelayFor } from '../domain/run-effects.ts';
import { builtForCommand, cacheKeys, DEFAULT_CACHE_MAX_BYTES, DEPENDENCY_CACHES, INSTALLED_RESTORED, type DependencyCache, type InstalledTree } from '../domain/dependency-cache.ts';

export interface BuildspecOptions {
  /** ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com`); required for image jobs. */
  ecrRegistry?: string;
  /**
   * The attempt this buildspec is for; a retry first waits its backoff (retryDelayFor).
   * CodeBuild cannot start a build later, so the wait is the build's first command (billed).
   * @default 1
   */
  attempt?: number;
  /**
   * Prefix added to every image repository: `docker.repository: web` is pushed to `<registry>/<prefix>/web`,
   * the only repositories the build role may push to.
   * @default DEFAULT_ECR_REPOSITORY_PREFIX ("slipway")
   */
  ecrRepositoryPrefix?: string;
}

/** Variables an image job exports; CodeBuild reports them with the finished build. */
export const IMAGE_OUTPUT_VARIABLES = ['imageUri', 'imageDigest'] as const;

/**
 * Where a job's artifacts live in the bucket, relative to the bucket root: under the
 * run's lane namespace (`runs/`, `pr-runs/`, `fork-runs/`; see ARTIFACT_ROOTS).
 */
export function artifactPrefix(runId: string, job: string, root: string = ARTIFACT_ROOTS.release): string {
  return `${root}/${runId}/${job}/`;
}

/**
 * The list (one relative path a line) of a job's outputs that were executable.
 * Outside the job's prefix, so it is neither an artifact nor downloaded with them.
 */
export function executablesKey(runId: string, job: string, root: string = ARTIFACT_ROOTS.release): string {
  return `${root}/${runId}/.executables/${job}`;
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ECR_REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Generates the buildspec YAML for a build or image job. Throws ValidationError for a job that cannot be built. */
export function generateBuildspec(job: JobSpec, opts: BuildspecOptions = {}): string {
  if (job.kind !== 'build' && job.kind !== 'image') {
    throw new ValidationError(`job "${job.name}" is a ${job.kind} job; only build and image jobs run in CodeBuild`);
  }
  checkName('job', job.name);
  for (const input of job.inputs) checkName('input', input);
  for (const name of Object.keys(job.env)) {
    if (!ENV_NAME.test(name)) throw new ValidationError(`job "${job.name}": environment variable name "${name}" is not valid`);
  }

  // Lambda compute takes no runtime-versions (its image is the runtime) and has no CodeBuild cache.
  const onLambda = job.compute === 'lambda' && job.fleet === undefined;
  const runtimeVersions = onLambda ? {} : runtimeVersionsFor(job);
  const delay = retryDelayFor(job.retryDelaySeconds, opts.attempt ?? 1);
  const backoff = delay > 0 ? [`echo "slipway: attempt ${opts.attempt}: waiting ${delay}s before starting (retry backoff)" && sleep ${delay}`] : [];
  const deps = job.kind === 'build' && job.template ? DEPENDENCY_CACHES[job.template] : undefined;
  const install = [...backoff, ...runtimeReport(job, runtimeVersions), ...(deps ? [restoreCache(job.name, deps)] : []), ...job.install];
  const preBuild = job.inputs.map(downloadInput);
  const build = [...job.commands];
  const postBuild: string[] = [];
  const env: Record<string, unknown> = { shell: 'bash' };
  if (Object.keys(job.env).length > 0) env.variables = { ...job.env };

  if (job.kind === 'image') {
    const image = imageCommands(job, opts);
    preBuild.push(image.login);
    build.push(...image.build);
    env['exported-variables'] = [...IMAGE_OUTPUT_VARIABLES];
  }
  if (job.outputs.length > 0) {
    postBuild.push(uploadNotice(), ...job.outputs.map((pattern) => uploadOutput(job.name, pattern)), uploadExecutables(job.name, job.outputs));
  }
  if (deps) postBuild.push(saveCache(job.name, deps));

  const phases: Record<string, unknown> = {};
  if (Object.keys(runtimeVersions).length > 0 || install.length > 0) {
    phases.install = { ...(Object.keys(runtimeVersions).length > 0 ? { 'runtime-versions': runtimeVersions } : {}), commands: orNoop(install) };
  }
  if (preBuild.length > 0) phases.pre_build = { commands: preBuild };
  phases.build = { commands: orNoop(build) };
  if (postBuild.length > 0) phases.post_build = { commands: postBuild };

  const spec: Record<string, unknown> = { version: 0.2, env, phases };
  if (job.cache.length > 0 && !onLambda) spec.cache = { paths: [...job.cache] };
  return stringify(spec, { lineWidth: 0 });
}

// The cache's place in the build, keyed by variables the runner sets per run (SLIPWAY_CACHE_BRANCH,
// SLIPWAY_CACHE_FALLBACK, SLIPWAY_CACHE_WRITE; see shared/domain/dependency-cache.ts), so the text
// stays one per job. /tmp: the one place Lambda compute may write.
const CACHE_ARCHIVE = '"${TMPDIR:-/tmp}/slipway-cache.tar.gz"';
const shellKeys = (job: string) =>
  cacheKeys('${SLIPWAY_PIPELINE_ID}', job, { branch: '${SLIPWAY_CACHE_BRANCH}', fallback: '${SLIPWAY_CACHE_FALLBACK}' }, '${SLIPWAY_CACHE_HASH}');

/** The exports that point a template's tools into $SLIPWAY_CACHE_DIR (the local runner runs the same line). */
export function cacheExports(deps: DependencyCache): string {
  return deps.variables.map((v) => `export ${v.name}="${(v.value ?? '{dir}').replace('{dir}', `$SLIPWAY_CACHE_DIR/${v.dir}`)}";`).join(' ');
}

/**
 * Points the tools' caches into $SLIPWAY_CACHE_DIR, hashes the lock files, and restores the first
 * cache found in restore order. Never fails the build: a miss is a cold install.
 */
export function restoreCache(job: string, deps: DependencyCache): string {
  const keys = shellKeys(job);
  const vars = cacheExports(deps);
  const locks = deps.lockFiles.join(' ');
  return [
    'export SLIPWAY_CACHE_DIR="${TMPDIR:-/tmp}/slipway-cache"; mkdir -p "$SLIPWAY_CACHE_DIR";',
    vars,
    `export SLIPWAY_CACHE_HASH="$(cd "\${CODEBUILD_SRC_DIR:-.}" && LC_ALL=C ls -1d ${locks} 2>/dev/null | while IFS= read -r f; do cat -- "$f"; done | sha256sum | cut -c1-16)";`,
    // Whether the checkout has a lock file at all: without one every commit hashes alike, so an installed tree is never kept or restored.
    `export SLIPWAY_CACHE_LOCKED="$(cd "\${CODEBUILD_SRC_DIR:-.}" && LC_ALL=C ls -1d ${locks} 2>/dev/null | head -n 1)";`,
    'export SLIPWAY_CACHE_HIT="";',
    `for k in ${keys.restore.map((k) => `"${k}"`).join(' ')}; do`,
    `if aws s3 cp --only-show-errors "s3://\${SLIPWAY_ARTIFACT_BUCKET}/$k" ${CACHE_ARCHIVE} 2>/dev/null && tar -xzf ${CACHE_ARCHIVE} -C "$SLIPWAY_CACHE_DIR"; then SLIPWAY_CACHE_HIT="$k"; break; fi; done;`,
    `rm -f ${CACHE_ARCHIVE}; echo "slipway: dependency cache \${SLIPWAY_CACHE_HIT:-miss} (lock hash $SLIPWAY_CACHE_HASH)";`,
    ...(deps.installed ? [restoreInstalled(keys.exact, deps.installed)] : []),
    'true',
  ].join(' ');
}

const SRC = '"${CODEBUILD_SRC_DIR:-.}"';

/** On an exact hit built for this OS, CPU and runtime, the installed tree moves into the checkout; `installed/` never stays in the cache directory. */
function restoreInstalled(exact: string[], tree: InstalledTree): string {
  return [
    `export ${INSTALLED_RESTORED}=""; export SLIPWAY_INSTALLED_STALE="";`,
    `case "$SLIPWAY_CACHE_HIT" in ${exact.map((k) => `"${k}"`).join('|')})`,
    // No lock file, or an entry saved without a tree: nothing to put back.
    'if [ -z "$SLIPWAY_CACHE_LOCKED" ] || [ ! -f "$SLIPWAY_CACHE_DIR/installed/.built-for" ]; then true;',
    `elif [ "$(cat "$SLIPWAY_CACHE_DIR/installed/.built-for")" = "$(${builtForCommand(tree)})" ]; then`,
    `for d in ${tree.dirs.join(' ')}; do if [ -d "$SLIPWAY_CACHE_DIR/installed/$d" ] && [ ! -e ${SRC}/"$d" ]; then mv "$SLIPWAY_CACHE_DIR/installed/$d" ${SRC}/"$d" && ${INSTALLED_RESTORED}=1; fi; done;`,
    `echo "slipway: installed ${tree.dirs.join(', ')} \${${INSTALLED_RESTORED}:+restored}";`,
    // Saved again after this build, so the next one on this runtime finds its tree.
    'else SLIPWAY_INSTALLED_STALE=1; echo "slipway: the cached installed tree was built for another runtime; not used (saved again after this build)";',
    'fi;; esac;',
    'rm -rf "$SLIPWAY_CACHE_DIR/installed";',
  ].join(' ');
}

/**
 * After a successful build, saves the cache under the lock hash and as the branch's newest, unless
 * the restore hit this very hash, the entry is over the size cap (with the installed tree, it is
 * tried again without it), or the run may not write (a fork; its role could not anyway). Never
 * fails the build.
 */
export function saveCache(job: string, deps?: DependencyCache): string {
  const keys = shellKeys(job);
  const tree = deps?.installed;
  // The installed tree goes into the archive as installed/<dir>, beside its .built-for; only with a lock file.
  const installed = tree
    ? `{ [ -z "\${SLIPWAY_CACHE_LOCKED:-}" ] || { mkdir -p "$SLIPWAY_CACHE_DIR/installed" && echo "$(${builtForCommand(tree)})" > "$SLIPWAY_CACHE_DIR/installed/.built-for" && for d in ${tree.dirs.join(' ')}; do if [ -d ${SRC}/"$d" ]; then cp -a ${SRC}/"$d" "$SLIPWAY_CACHE_DIR/installed/"; fi; done; }; } &&`
    : '';
  const max = `\${SLIPWAY_CACHE_MAX_BYTES:-${DEFAULT_CACHE_MAX_BYTES}}`;
  const archive = `tar -czf ${CACHE_ARCHIVE} -C "$SLIPWAY_CACHE_DIR" . && size=$(wc -c < ${CACHE_ARCHIVE})`;
  // Over the cap with the installed tree, the package manager's cache alone may fit: better than nothing.
  const withoutTree = tree
    ? `if [ "$size" -gt "${max}" ] && [ -d "$SLIPWAY_CACHE_DIR/installed" ]; then echo "slipway: dependency cache with ${tree.dirs.join(', ')} is $size bytes, over the cap of ${max}; saving it without them"; rm -rf "$SLIPWAY_CACHE_DIR/installed" && ${archive}; fi &&`
    : '';
  const save = [
    `{ ${installed} ${archive} && ${withoutTree} if [ "$size" -gt "${max}" ]; then echo "slipway: dependency cache of $size bytes is over the cap of ${max}; not saved";`,
    `else aws s3 cp --only-show-errors ${CACHE_ARCHIVE} "s3://\${SLIPWAY_ARTIFACT_BUCKET}/${keys.save}" && aws s3 cp --only-show-errors "s3://\${SLIPWAY_ARTIFACT_BUCKET}/${keys.save}" "s3://\${SLIPWAY_ARTIFACT_BUCKET}/${keys.latest}" && echo "slipway: dependency cache saved ($size bytes)"; fi; }`,
    '|| echo "slipway: dependency cache not saved"',
  ].join(' ');
  return [
    'if [ "${CODEBUILD_BUILD_SUCCEEDING:-1}" = "1" ] && [ "${SLIPWAY_CACHE_WRITE:-0}" = "1" ] && [ -n "${SLIPWAY_CACHE_DIR:-}" ]; then',
    // An exact hit saves nothing, unless its installed tree was for another runtime (or missing).
    `case "$SLIPWAY_CACHE_HIT" in ${keys.exact.map((k) => `"${k}"`).join('|')}) if [ "\${SLIPWAY_INSTALLED_STALE:-}" = 1 ]; then ${save}; else echo "slipway: dependency cache hit on its lock hash, nothing to save"; fi;;`,
    `*) ${save};; esac; fi; true`,
  ].join(' ');
}

/** The job's log states the runtime it asked for and the one it got, as the local runner's does. */
function runtimeReport(job: JobSpec, runtimeVersions: Record<string, string>): string[] {
  const runtime = job.template ? TEMPLATES[job.template].runtime : undefined;
  const asked = runtime ? runtimeVersions[runtime.name] : undefined;
  if (!runtime || !asked) return [];
  return [`echo "slipway: runtime ${runtime.name}: asked ${asked}, got $(${runtime.versionCommand})"`];
}

function checkName(what: string, name: string): void {
  if (!JOB_NAME.test(name)) throw new ValidationError(`${what} name "${name}" cannot be used in an artifact path`);
}

/** CodeBuild rejects a phase without commands; an empty job still has to run (and succeed). */
function orNoop(commands: string[]): string[] {
  return commands.length > 0 ? commands : ['true'];
}

// The namespace comes from the build's environment (SLIPWAY_ARTIFACT_ROOT, set per run lane);
// the build's service role can write only there, whatever these commands say.
const S3_RUN_PREFIX = 's3://${SLIPWAY_ARTIFACT_BUCKET}/${SLIPWAY_ARTIFACT_ROOT:-runs}/${SLIPWAY_RUN_ID}';

/**
 * Downloads an input's files to where they were uploaded from, then gives back
 * the executable bit to those its job listed (an input without the list, e.g.
 * from a job whose outputs matched nothing, keeps S3's default modes).
 */
function downloadInput(input: string): string {
  const list = `"\${TMPDIR:-/tmp}/slipway-executables-${input}"`;
  return [
    `aws s3 cp --recursive --only-show-errors "${S3_RUN_PREFIX}/${input}/" .`,
    `&& if aws s3 cp --only-show-errors "${S3_RUN_PREFIX}/.executables/${input}" ${list} 2>/dev/null;`,
    `then while IFS= read -r f; do if [ -n "$f" ]; then chmod +x -- "$f"; fi; done < ${list}; fi`,
  ].join(' ');
}

/**
 * post_build runs after a failed build too; outputs of a failed attempt are not
 * published (the build's own failure is the one reported). No command uses
 * `exit`, whose reach depends on how CodeBuild runs a phase's commands: each
 * one's last status decides.
 */
function uploadNotice(): string {
  // buildspec 0.2 keeps the shell's state between commands, a `cd` in the commands included: output paths are relative to the source root.
  return 'cd "${CODEBUILD_SRC_DIR:-.}" && if [ "${CODEBUILD_BUILD_SUCCEEDING:-1}" != "1" ]; then echo "slipway: build failed, outputs not uploaded"; fi';
}

/** Lists the executable files the outputs uploaded (the same files, by the same rules) and uploads the list. */
function uploadExecutables(job: string, patterns: string[]): string {
  const list = '"${TMPDIR:-/tmp}/slipway-executables"';
  const each = patterns.map((pattern) => {
    const onDirectory = /[*?[]/.test(pattern) ? 'continue' : 'find "$p" -type f -perm -u+x';
    return `for p in ${shellGlob(pattern)}; do if [ -d "$p" ]; then ${onDirectory}; elif [ -x "$p" ]; then printf '%s\\n' "$p"; fi; done;`;
  });
  return [
    'if [ "${CODEBUILD_BUILD_SUCCEEDING:-1}" = "1" ]; then',
    `shopt -s globstar nullglob dotglob; { ${each.join(' ')} } | sort -u > ${list}`,
    `&& aws s3 cp --only-show-errors ${list} "${S3_RUN_PREFIX}/.executables/${job}"; fi`,
  ].join(' ');
}

function uploadOutput(job: string, pattern: string): string {
  const glob = shellGlob(pattern);
  const label = shellQuote(pattern);
  // A wildcard already reaches the files inside matched directories (`dist/**`);
  // only a directory named literally (`dist`) is copied recursively.
  const onDirectory = /[*?[]/.test(pattern) ? 'continue' : `aws s3 cp --recursive --only-show-errors "$p" "${S3_RUN_PREFIX}/${job}/\${p%/}" || ok=0`;
  return [
    'if [ "${CODEBUILD_BUILD_SUCCEEDING:-1}" = "1" ]; then',
        // nullglob drops a wildcard that matches nothing, not a plain path: that one is checked for.
    `shopt -s globstar nullglob dotglob; found=0; ok=1; for p in ${glob}; do if [ ! -e "$p" ]; then continue; fi; found=1;`,
    `if [ -d "$p" ]; then ${onDirectory};`,
    `else aws s3 cp --only-show-errors "$p" "${S3_RUN_PREFIX}/${job}/$p" || ok=0; fi; done;`,
    `if [ "$found" = 0 ]; then echo "slipway: output ${label} matched no file" >&2; ok=0; fi;`,
    '[ "$ok" = 1 ]; fi',
  ].join(' ');
}

function imageCommands(job: JobSpec, opts: BuildspecOptions): { login: string; build: string[] } {
  const image = job.image;
  if (!image) throw new ValidationError(`image job "${job.name}" has no image settings`);
  const registry = opts.ecrRegistry;
  if (!registry || !/^[A-Za-z0-9.-]+(?::\d+)?$/.test(registry)) {
    throw new ValidationError(`image job "${job.name}" needs the ECR registry host (SLIPWAY_ECR_REGISTRY), got ${JSON.stringify(registry ?? '')}`);
  }
  const prefix = opts.ecrRepositoryPrefix ?? DEFAULT_ECR_REPOSITORY_PREFIX;
  if (!ECR_REPOSITORY.test(prefix)) throw new ValidationError(`the ECR repository prefix "${prefix}" is not a valid repository name prefix (SLIPWAY_ECR_REPOSITORY_PREFIX)`);
  if (!ECR_REPOSITORY.test(image.repository)) throw new ValidationError(`image job "${job.name}": "${image.repository}" is not a valid ECR repository name`);
  for (const tag of image.tags) {
    if (!DOCKER_TAG.test(tag)) throw new ValidationError(`image job "${job.name}": "${tag}" is not a valid image tag`);
  }
  const repo = `${registry}/${ecrRepositoryName(prefix, image.repository)}`;
  const primary = `${repo}:\${SLIPWAY_COMMIT}`;
  const build = [
    `docker build -f ${shellQuote(image.dockerfile)} -t "${primary}" ${shellQuote(image.context)}`,
    ...image.tags.map((tag) => `docker tag "${primary}" "${repo}:${tag}"`),
    `docker push "${primary}"`,
    ...image.tags.map((tag) => `docker push "${repo}:${tag}"`),
    `export imageUri="${primary}"`,
    // RepoDigests is filled in by the push: "<repo>@sha256:<hex>".
    `export imageDigest="$(docker inspect --format '{{index .RepoDigests 0}}' "${primary}" | cut -d@ -f2)"`,
    'test -n "$imageDigest" || { echo "slipway: no digest for the pushed image" >&2; false; }',
  ];
  return {
    login: `aws ecr get-login-password --region "\${AWS_REGION:-$AWS_DEFAULT_REGION}" | docker login --username AWS --password-stdin ${registry}`,
    build,
  };
}

/** Single-quotes a literal for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A glob for bash: `*`, `?` and `[...]` keep their meaning (with globstar, `**`
 * crosses directories); every other character is taken literally. A leading
 * `./` is dropped so artifact keys stay relative.
 */
export function shellGlob(pattern: string): string {
  const p = pattern.replace(/^(\.\/)+/, '');
  if (p === '' || p.startsWith('/') || p.split('/').includes('..')) {
    throw new ValidationError(`output "${pattern}" must be a relative path inside the workspace`);
  }
  let out = '';
  for (const ch of p) out += /[A-Za-z0-9_*?[\]/.\-]/.test(ch) ? ch : `\\${ch}`;
  return out;
}
