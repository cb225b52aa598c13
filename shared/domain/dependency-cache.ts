/**
 * Dependency caches: each template's package-manager caches, pointed into one
 * directory ($SLIPWAY_CACHE_DIR) by environment variables, restored before the
 * install steps and saved after a successful build, in the artifact bucket under
 * `cache/` (its own lifecycle rule). CodeBuild's own cache is not used for them:
 * Lambda compute has none ("Limitations of AWS Lambda compute",
 * https://docs.aws.amazon.com/codebuild/latest/userguide/lambda.html#lambda.limitations),
 * and a local cache lives only on one build host.
 *
 * Keys, as GitHub's cache: `cache/<pipeline>/<job>/<branch>/<lock hash>.tar.gz`, where the
 * lock hash is the first 16 hex digits of the SHA-256 of the lock files (byte order of their
 * names, contents concatenated). A build restores the first of:
 * 1. its branch's cache for this lock hash, 2. the fallback branch's for this hash,
 * 3. its branch's newest (`latest.tar.gz`), 4. the fallback branch's newest,
 * where the fallback is a pull request's target branch, else the pipeline's default branch.
 * An exact hit saves nothing; anything else saves the hash's entry and the branch's newest.
 * A fork's run reads and never writes (its build role cannot: infra/constructs/artifacts.ts).
 * Pure: no I/O.
 */
import type { PipelineSpec, TemplateName } from './pipeline.ts';

export const CACHE_PREFIX = 'cache/';

/** One environment variable that moves a tool's cache into the cache directory. */
export interface CacheVariable {
  name: string;
  /** Sub-directory of $SLIPWAY_CACHE_DIR. */
  dir: string;
  /** The value, `{dir}` standing for the directory, when the variable carries more (MAVEN_OPTS). @default "{dir}" */
  value?: string;
}

export interface DependencyCache {
  /** Files (globs in the checkout's root) whose contents key the cache. */
  lockFiles: readonly string[];
  variables: readonly CacheVariable[];
  /** The installed tree kept beside the package manager's cache, when the template has one that can move (see InstalledTree). */
  installed?: InstalledTree;
}

/**
 * What an install step leaves in the checkout (node_modules), kept in the entry under `installed/`
 * and put back only on an exact hit (the same lock hash), for a build on the same OS, CPU, build
 * image and runtime (`installed/.built-for` holds what builtForCommand prints: native modules are
 * built for one ABI and libc). The template's install step then checks the tree against the project and
 * skips the install when it fits. A tree that holds absolute paths (a Python virtual environment)
 * cannot move between checkouts and has none.
 */
export interface InstalledTree {
  /** Directories of the checkout's root. */
  dirs: readonly string[];
  /** A command printing the runtime the tree was built with. */
  builtFor: string;
}

/** The variable the restore sets to 1 when it put an installed tree back (the install step reads it). */
export const INSTALLED_RESTORED = 'SLIPWAY_INSTALLED_RESTORED';

/**
 * The shell that prints what an installed tree is built for, compared byte for byte at restore:
 * OS and CPU, the build image (CodeBuild's CODEBUILD_BUILD_IMAGE: the Lambda and EC2 images differ
 * in libc and system libraries a native addon links against; `local` on this machine), the runtime.
 * CODEBUILD_BUILD_IMAGE: https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
 */
export function builtForCommand(tree: InstalledTree): string {
  return `{ uname -sm; echo "\${CODEBUILD_BUILD_IMAGE:-local}"; ${tree.builtFor}; } 2>&1`;
}

export const DEPENDENCY_CACHES: Readonly<Record<TemplateName, DependencyCache>> = {
  node: {
    lockFiles: ['package-lock.json', 'npm-shrinkwrap.json'],
    variables: [{ name: 'npm_config_cache', dir: 'npm' }],
    installed: { dirs: ['node_modules'], builtFor: 'node --version' },
  },
  python: { lockFiles: ['requirements*.txt', 'pyproject.toml', 'poetry.lock', 'uv.lock'], variables: [{ name: 'PIP_CACHE_DIR', dir: 'pip' }] },
  java: { lockFiles: ['pom.xml'], variables: [{ name: 'MAVEN_OPTS', dir: 'm2', value: '${MAVEN_OPTS:-} -Dmaven.repo.local={dir}' }] },
  'java-gradle': {
    lockFiles: ['build.gradle', 'build.gradle.kts', 'settings.gradle', 'settings.gradle.kts', 'gradle.lockfile', 'gradle/wrapper/gradle-wrapper.properties'],
    variables: [{ name: 'GRADLE_USER_HOME', dir: 'gradle' }],
  },
  php: { lockFiles: ['composer.lock'], variables: [{ name: 'COMPOSER_CACHE_DIR', dir: 'composer' }] },
  go: { lockFiles: ['go.sum'], variables: [{ name: 'GOMODCACHE', dir: 'go-mod' }, { name: 'GOCACHE', dir: 'go-build' }] },
  cpp: {
    lockFiles: ['CMakeLists.txt'],
    variables: [
      { name: 'CCACHE_DIR', dir: 'ccache' },
      // CMake 3.17+ reads the launcher from the environment; empty (no ccache installed) means none.
      { name: 'CMAKE_C_COMPILER_LAUNCHER', dir: 'ccache', value: '$(command -v ccache || true)' },
      { name: 'CMAKE_CXX_COMPILER_LAUNCHER', dir: 'ccache', value: '$(command -v ccache || true)' },
    ],
  },
};

/** A cache entry over this size is not saved (the cap per entry; the lifecycle rule bounds the total by age). */
export const DEFAULT_CACHE_MAX_BYTES = 2 * 1024 ** 3;
/** Days a cache entry is kept after it was written (the `cache/` lifecycle rule). */
export const DEFAULT_CACHE_RETENTION_DAYS = 14;

/** A branch name as one key segment: unsafe characters replaced, long names cut (with a hash-free suffix, names are already unique enough per pipeline). */
export function branchSegment(branch: string): string {
  const s = branch.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  return s === '' || s === '.' || s === '..' ? '_' : s;
}

/**
 * The pipeline's default branch as far as the definition tells: the first trigger branch that is
 * no pattern, else `main`. (The host's default branch would need a call to the host per build.)
 */
export function defaultBranchOf(spec: Pick<PipelineSpec, 'source'>): string {
  return spec.source.triggers.branches.find((b) => !/[*?[\]{}!]/.test(b)) ?? 'main';
}

export interface CacheScope {
  /** The branch whose caches the build writes: a pull request's source branch, else the run's branch. */
  branch: string;
  /** The branch read after it: a pull request's target branch, else the default branch. */
  fallback: string;
  /** Whether the build may save: never for a fork. */
  write: boolean;
}

/** Where a run's builds read and write caches. */
export function cacheScope(trigger: { branch?: string; sourceBranch?: string; event?: string; fork?: boolean }, defaultBranch: string): CacheScope {
  const pr = trigger.event === 'pull_request';
  const branch = (pr ? trigger.sourceBranch : undefined) ?? trigger.branch ?? defaultBranch;
  const fallback = pr && trigger.branch ? trigger.branch : defaultBranch;
  return { branch: branchSegment(branch), fallback: branchSegment(fallback), write: !trigger.fork };
}

/** The key prefix of a job's caches. */
export function cachePrefix(pipelineId: string, job: string): string {
  return `${CACHE_PREFIX}${pipelineId}/${job}/`;
}

/** Keys in restore order (see the module's comment) and the keys a save writes, for one lock hash. */
export function cacheKeys(pipelineId: string, job: string, scope: Pick<CacheScope, 'branch' | 'fallback'>, hash: string): { restore: string[]; exact: string[]; save: string; latest: string } {
  const p = cachePrefix(pipelineId, job);
  const exact = [`${p}${scope.branch}/${hash}.tar.gz`, `${p}${scope.fallback}/${hash}.tar.gz`];
  const newest = [`${p}${scope.branch}/latest.tar.gz`, `${p}${scope.fallback}/latest.tar.gz`];
  return { restore: [...new Set([...exact, ...newest])], exact: [...new Set(exact)], save: exact[0], latest: newest[0] };
}

/** The lock files' hash: 16 hex digits of SHA-256 over their contents, in byte order of their names (as `LC_ALL=C ls`). */
export function lockHashInput(files: ReadonlyArray<{ name: string; content: Uint8Array }>): Uint8Array[] {
  return [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => f.content);
}
