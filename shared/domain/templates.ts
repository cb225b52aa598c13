/**
 * Language templates: presets for build jobs (CodeBuild image, runtime version,
 * dependency installation, cache paths and default commands). A job names one with
 * `template:` and may override any part of it (`image`, `install`, `commands`,
 * `cache`, `env`); see {@link applyTemplate}. Pure data: no I/O.
 */
import type { JobSpec, TemplateName } from './pipeline.ts';

/** The CodeBuild-managed Amazon Linux 2023 image: docker, git and every runtime below. */
export const DEFAULT_BUILD_IMAGE = 'aws/codebuild/amazonlinux-x86_64-standard:5.0';

/**
 * A command a template runs, for the local mode's toolchain check (CodeBuild's
 * image has them all). `unlessFile`: not needed when the repository holds that
 * file (a Maven or Gradle wrapper); `probe`: a shell test beyond "is it on PATH".
 */
export interface ToolRequirement {
  command: string;
  /** What to install, in words a person can act on. */
  install: string;
  probe?: string;
  unlessFile?: string;
  /** Needed whenever the steps run one of these (CMake runs make and the compiler, Composer runs PHP); @default the tool itself */
  neededBy?: readonly string[];
}

/** Where a project declares the runtime versions it supports. */
export type RuntimeDeclaration = 'package.json engines.node' | 'pyproject.toml requires-python' | 'go.mod go directive' | 'composer.json require.php' | 'none';

export interface TemplateRuntime {
  /** The `runtime-versions` key (CodeBuild's name for it). */
  name: string;
  /** Prints the version the job actually got, e.g. `v22.12.0`, `3.12.4`, `go1.23.2`. */
  versionCommand: string;
  declaredIn: RuntimeDeclaration;
}

export interface BuildTemplate {
  name: TemplateName;
  /** One line for `slipway init --template` listings. */
  description: string;
  image: string;
  /**
   * The buildspec's `runtime-versions` (e.g. `{ nodejs: '22' }`); empty when the
   * language is not a CodeBuild runtime. Only honoured on CodeBuild-managed images.
   */
  runtimeVersions: Readonly<Record<string, string>>;
  /** How the job reports (and the local mode checks) the runtime it got. */
  runtime?: TemplateRuntime;
  /** Every command the install steps and commands run, for the local toolchain check. */
  tools: readonly ToolRequirement[];
  install: readonly string[];
  commands: readonly string[];
  cache: readonly string[];
  env: Readonly<Record<string, string>>;
}

// Install steps choose by what the repository holds and never reach outside the
// job's workspace and $HOME: no OS package manager (dnf exists on CodeBuild's
// image only, apt on Debian only), no global pip or npm. Each step is one
// command in the sense of buildspec 0.2, whose shell keeps its state (cd,
// exported variables) from one command to the next; the local runner does the
// same. https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-cmd.html

/**
 * npm ci needs a lockfile; a library without one gets a plain install that writes none.
 * `--prefer-offline`: the lockfile pins every tarball by integrity, so a restored dependency cache
 * is used without asking the registry again (bench: npm ci of 340 packages 95 s cold, 81 s warm
 * without it, 41 s with it, on this shared machine).
 */
/**
 * `npm ci`, unless the dependency cache put back a node_modules installed from this very lock file
 * on this runtime (SLIPWAY_INSTALLED_RESTORED, see dependency-cache.ts) and `npm ls` finds it still
 * satisfies package.json: then the install is skipped, as `npm ci` would only rebuild the same tree.
 */
const NODE_INSTALL = 'if [ "${SLIPWAY_INSTALLED_RESTORED:-}" = 1 ] && { [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; } && [ -d node_modules ] && npm ls --depth=0 >/dev/null 2>&1; then echo "slipway: node_modules restored from the dependency cache for this lock file; npm ci skipped"; elif [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then npm ci --prefer-offline --no-audit --no-fund; else npm install --no-package-lock --no-audit --no-fund; fi';

/**
 * A project with no dependencies at all (PEP 621 `dependencies`, optional ones,
 * nor dynamic ones) needs no build backend to be tested: a path file in the
 * virtual environment makes it importable, as an editable install would, and
 * works without a package index. Any other project is installed editable with
 * its `test` extra (pip only warns when there is none).
 */
const PY_NO_DEPENDENCIES = `python -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb")).get("project"); sys.exit(0 if p and not p.get("dependencies") and not p.get("optional-dependencies") and "dependencies" not in p.get("dynamic", []) else 1)'`;
const PY_PATH_FILE = `python -c 'import os, sysconfig; open(os.path.join(sysconfig.get_paths()["purelib"], "_slipway_project.pth"), "w").write(os.path.abspath("src" if os.path.isdir("src") else ".") + "\\n")'`;
const PYTHON_INSTALL = [
  // The job's own environment, inside the workspace: nothing of the machine's Python changes.
  'python3 -m venv .venv',
  '. .venv/bin/activate',
  'for f in requirements*.txt; do if [ -f "$f" ]; then python -m pip install -r "$f"; fi; done',
  `if [ -f pyproject.toml ] && ${PY_NO_DEPENDENCIES} 2>/dev/null; then ${PY_PATH_FILE}; elif [ -f pyproject.toml ] || [ -f setup.py ]; then python -m pip install -e ".[test]"; fi`,
];
/** pytest when the job installed it (requirements or the test extra), else the standard library's unittest. */
const PYTHON_TEST = 'if python -c "import pytest" 2>/dev/null; then python -m pytest; else python -m unittest discover -v -s "$(if [ -d tests ]; then echo tests; else echo .; fi)"; fi';

const maven = (goal: string) => `if [ -f mvnw ]; then sh ./mvnw ${goal}; else mvn ${goal}; fi`;
const gradle = (task: string) => `if [ -f gradlew ]; then sh ./gradlew ${task}; else gradle ${task}; fi`;

const JAVA_RUNTIME: TemplateRuntime = { name: 'java', versionCommand: `java -version 2>&1 | head -n 1`, declaredIn: 'none' };

export const TEMPLATES: Readonly<Record<TemplateName, BuildTemplate>> = {
  java: {
    name: 'java',
    description: 'Java with Maven or its wrapper (Corretto 21)',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { java: 'corretto21' },
    runtime: JAVA_RUNTIME,
    tools: [
      { command: 'java', install: 'a JDK 21 (Amazon Corretto, Temurin or your OS\'s openjdk-21-jdk)', neededBy: ['java', 'mvn', 'mvnw'] },
      { command: 'mvn', install: 'Maven 3.9 (maven.apache.org), or commit the Maven wrapper (mvnw)', unlessFile: 'mvnw' },
    ],
    install: [maven('-B -ntp -q dependency:go-offline')],
    commands: [maven('-B -ntp verify')],
    cache: ['/root/.m2/**/*'],
    env: { MAVEN_OPTS: '-Xmx1g' },
  },
  'java-gradle': {
    name: 'java-gradle',
    description: 'Java with Gradle or its wrapper (Corretto 21)',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { java: 'corretto21' },
    runtime: JAVA_RUNTIME,
    tools: [
      { command: 'java', install: 'a JDK 21 (Amazon Corretto, Temurin or your OS\'s openjdk-21-jdk)', neededBy: ['java', 'gradle', 'gradlew'] },
      { command: 'gradle', install: 'Gradle (gradle.org), or commit the Gradle wrapper (gradlew)', unlessFile: 'gradlew' },
    ],
    install: [gradle('--no-daemon --version')],
    commands: [gradle('--no-daemon build')],
    cache: ['/root/.gradle/caches/**/*', '/root/.gradle/wrapper/**/*'],
    env: { GRADLE_OPTS: '-Dorg.gradle.daemon=false' },
  },
  node: {
    name: 'node',
    description: 'Node.js 22 with npm (npm ci with a lockfile, npm install without)',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { nodejs: '22' },
    runtime: { name: 'nodejs', versionCommand: 'node --version', declaredIn: 'package.json engines.node' },
    tools: [
      { command: 'node', install: 'Node.js 22 (nodejs.org, or a version manager such as nvm or fnm)' },
      { command: 'npm', install: 'npm (it comes with Node.js)' },
    ],
    install: [NODE_INSTALL],
    commands: ['npm run build --if-present', 'npm test'],
    cache: ['/root/.npm/**/*'],
    env: { CI: 'true', NPM_CONFIG_UPDATE_NOTIFIER: 'false' },
  },
  python: {
    name: 'python',
    description: 'Python 3.12 in a virtual environment (requirements*.txt, pyproject.toml), pytest or unittest',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { python: '3.12' },
    runtime: { name: 'python', versionCommand: `python3 -c 'import platform; print(platform.python_version())'`, declaredIn: 'pyproject.toml requires-python' },
    tools: [
      { command: 'python3', install: 'Python 3.12 with its venv module (python.org, pyenv, or Debian/Ubuntu: python3 and python3-venv)', probe: `python3 -c 'import venv, ensurepip'` },
    ],
    install: PYTHON_INSTALL,
    commands: [PYTHON_TEST],
    cache: ['/root/.cache/pip/**/*'],
    // PIP_REQUIRE_VIRTUALENV: an overridden install step that forgets the venv fails instead of changing the machine's Python.
    env: { PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PIP_REQUIRE_VIRTUALENV: 'true', PYTHONDONTWRITEBYTECODE: '1' },
  },
  php: {
    name: 'php',
    description: 'PHP 8.3 with Composer; PHPUnit when installed, else the composer "test" script',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { php: '8.3' },
    runtime: { name: 'php', versionCommand: `php -r 'echo PHP_VERSION, PHP_EOL;'`, declaredIn: 'composer.json require.php' },
    tools: [
      { command: 'php', install: 'PHP 8.3 CLI (php.net, or your OS\'s php-cli)', neededBy: ['php', 'composer', 'phpunit'] },
      { command: 'composer', install: 'Composer (getcomposer.org, or your OS\'s composer package)' },
    ],
    install: ['if [ -f composer.json ]; then composer install --no-interaction --no-progress --prefer-dist; fi'],
    commands: ['if [ -x vendor/bin/phpunit ]; then vendor/bin/phpunit; else composer run-script test; fi'],
    cache: ['/root/.cache/composer/**/*'],
    env: { COMPOSER_NO_INTERACTION: '1' },
  },
  go: {
    name: 'go',
    description: 'Go 1.23 modules',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { golang: '1.23' },
    runtime: { name: 'golang', versionCommand: 'go env GOVERSION', declaredIn: 'go.mod go directive' },
    tools: [{ command: 'go', install: 'Go 1.23 (go.dev/dl, or your OS\'s golang package)' }],
    install: ['go mod download'],
    commands: ['go vet ./...', 'go test ./...', 'go build ./...'],
    cache: ['/root/go/pkg/mod/**/*', '/root/.cache/go-build/**/*'],
    // local: a go.mod that needs a newer Go fails with the reason instead of downloading a toolchain.
    env: { CGO_ENABLED: '0', GOTOOLCHAIN: 'local' },
  },
  cpp: {
    name: 'cpp',
    description: 'C or C++ with CMake, the system compiler and CTest',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: {},
    tools: [
      { command: 'cmake', install: 'CMake 3.20 or newer (cmake.org, pip install --user cmake, or your OS\'s cmake)' },
      { command: 'ctest', install: 'CTest (it comes with CMake)' },
      { command: 'make', install: 'make (Debian/Ubuntu: build-essential)', neededBy: ['cmake'] },
      { command: 'cc', install: 'a C/C++ compiler (Debian/Ubuntu: build-essential, or clang)', neededBy: ['cmake'] },
    ],
    // CodeBuild's image has the compilers ("Development tools"); CMake, when missing, comes from PyPI into $HOME.
    install: ['if ! command -v cmake >/dev/null 2>&1; then python3 -m pip install --user --quiet cmake && export PATH="$HOME/.local/bin:$PATH"; fi'],
    commands: [
      'cmake -S . -B build -DCMAKE_BUILD_TYPE=Release',
      'cmake --build build --parallel',
      'ctest --test-dir build --output-on-failure',
    ],
    cache: ['build/_deps/**/*'],
    env: { CMAKE_BUILD_PARALLEL_LEVEL: '4' },
  },
};

/** What a job says about its build environment; anything left out comes from the template. */
export interface BuildOverrides {
  template?: TemplateName;
  image?: string;
  install?: string[];
  commands?: string[];
  cache?: string[];
  env?: Record<string, string>;
}

/** The build environment of one job, template and overrides merged. */
export interface BuildConfig {
  image: string;
  runtimeVersions: Record<string, string>;
  install: string[];
  commands: string[];
  cache: string[];
  env: Record<string, string>;
}

/**
 * Merges a job's overrides over its template. Lists (`install`, `commands`,
 * `cache`) replace the template's wholesale (an empty list switches a step off);
 * `env` merges key by key, the job winning. Without a template the job brings
 * everything itself and runs on {@link DEFAULT_BUILD_IMAGE} unless it names an image.
 */
export function applyTemplate(job: BuildOverrides): BuildConfig {
  const t = job.template ? TEMPLATES[job.template] : undefined;
  const image = job.image ?? t?.image ?? DEFAULT_BUILD_IMAGE;
  return {
    image,
    runtimeVersions: t && isManagedImage(image) ? { ...t.runtimeVersions } : {},
    install: [...(job.install ?? t?.install ?? [])],
    commands: [...(job.commands ?? t?.commands ?? [])],
    cache: [...(job.cache ?? t?.cache ?? [])],
    env: { ...(t?.env ?? {}), ...(job.env ?? {}) },
  };
}

/** CodeBuild honours `runtime-versions` only on its own images, never on custom ones. */
function isManagedImage(image: string): boolean {
  return image.startsWith('aws/codebuild/');
}

/**
 * The buildspec `runtime-versions` for a normalised job: its template's, as long
 * as the job still runs on a CodeBuild-managed image; otherwise none.
 */
export function runtimeVersionsFor(job: Pick<JobSpec, 'template' | 'buildImage'>): Record<string, string> {
  if (!job.template || !job.buildImage || !isManagedImage(job.buildImage)) return {};
  return { ...TEMPLATES[job.template].runtimeVersions };
}

/**
 * A ready-to-edit pipeline file for `slipway init --template LANG`: a test job on
 * the template, an image job and a blue-green deploy to `staging`, triggered on
 * `branch` (the repository's default branch, as `init` finds it). The text is
 * accepted by `parsePipeline` as is.
 */
export function starterPipeline(template: TemplateName, repository = 'acme/my-service', branch = 'main', opts: { image?: boolean } = {}): string {
  const t = TEMPLATES[template];
  const service = repository.split('/').at(-1) || 'my-service';
  const name = service.replace(/[^A-Za-z0-9._-]/g, '-');
  return `# Slipway pipeline (${t.description}).
# Every key is documented in docs/pipeline-format.md; \`slipway validate -f FILE\` checks this file,
# and editors check it against the JSON Schema \`slipway schema\` prints (docs/slipway.schema.json).
name: ${JSON.stringify(name)}
source:
  provider: github
  repository: ${JSON.stringify(repository)}
  triggers:
    events: [push, pull_request]
    branches: [${JSON.stringify(branch)}]
concurrency: superseded
jobs:
  test:
    template: ${template}
    # The template runs: ${t.commands.join(' && ')}
    # Override any part of it here: image, install, commands, cache, env.
${opts.image === false ? '' : `  image:
    kind: image
    needs: [test]
    when:
      branches: [${JSON.stringify(branch)}]
      events: [push]
    docker:
      repository: ${JSON.stringify(name.toLowerCase())}
  deploy-staging:
    kind: deploy
    needs: [image]
    deploy:
      target: staging
      strategy: blue-green
      steps: [10, 50, 100]
      interval: 1m
      bake: 5m
`}notifications: []
`;
}
