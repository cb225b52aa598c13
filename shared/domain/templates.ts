/**
 * Language templates: presets for build jobs (CodeBuild image, runtime version,
 * dependency installation, cache paths and default commands). A job names one with
 * `template:` and may override any part of it (`image`, `install`, `commands`,
 * `cache`, `env`); see {@link applyTemplate}. Pure data: no I/O.
 */
import type { JobSpec, TemplateName } from './pipeline.ts';

/** The CodeBuild-managed Amazon Linux 2023 image: docker, git and every runtime below. */
export const DEFAULT_BUILD_IMAGE = 'aws/codebuild/amazonlinux-x86_64-standard:5.0';

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
  install: readonly string[];
  commands: readonly string[];
  cache: readonly string[];
  env: Readonly<Record<string, string>>;
}

export const TEMPLATES: Readonly<Record<TemplateName, BuildTemplate>> = {
  java: {
    name: 'java',
    description: 'Java with Maven (Corretto 21)',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { java: 'corretto21' },
    install: ['mvn -B -ntp -q dependency:go-offline'],
    commands: ['mvn -B -ntp verify'],
    cache: ['/root/.m2/**/*'],
    env: { MAVEN_OPTS: '-Xmx1g' },
  },
  'java-gradle': {
    name: 'java-gradle',
    description: 'Java with the Gradle wrapper (Corretto 21)',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { java: 'corretto21' },
    install: ['chmod +x ./gradlew', './gradlew --no-daemon --version'],
    commands: ['./gradlew --no-daemon build'],
    cache: ['/root/.gradle/caches/**/*', '/root/.gradle/wrapper/**/*'],
    env: { GRADLE_OPTS: '-Dorg.gradle.daemon=false' },
  },
  node: {
    name: 'node',
    description: 'Node.js 22 with npm',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { nodejs: '22' },
    install: ['npm ci'],
    commands: ['npm run build --if-present', 'npm test'],
    cache: ['/root/.npm/**/*'],
    env: { CI: 'true' },
  },
  python: {
    name: 'python',
    description: 'Python 3.12 with pip and pytest',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { python: '3.12' },
    install: ['python -m pip install --upgrade pip', 'pip install -r requirements.txt'],
    commands: ['python -m pytest'],
    cache: ['/root/.cache/pip/**/*'],
    env: { PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONDONTWRITEBYTECODE: '1' },
  },
  php: {
    name: 'php',
    description: 'PHP 8.3 with Composer and PHPUnit',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { php: '8.3' },
    install: ['composer install --no-interaction --no-progress --prefer-dist'],
    commands: ['vendor/bin/phpunit'],
    cache: ['/root/.cache/composer/**/*'],
    env: { COMPOSER_NO_INTERACTION: '1' },
  },
  go: {
    name: 'go',
    description: 'Go 1.23 modules',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: { golang: '1.23' },
    install: ['go mod download'],
    commands: ['go vet ./...', 'go test ./...', 'go build ./...'],
    cache: ['/root/go/pkg/mod/**/*', '/root/.cache/go-build/**/*'],
    env: { CGO_ENABLED: '0' },
  },
  cpp: {
    name: 'cpp',
    description: 'C++ with CMake, GCC and CTest',
    image: DEFAULT_BUILD_IMAGE,
    runtimeVersions: {},
    install: ['dnf install -y -q cmake gcc-c++ make'],
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
 * the template, an image job and a blue-green deploy to `staging`. The text is
 * accepted by `parsePipeline` as is.
 */
export function starterPipeline(template: TemplateName, repository = 'acme/my-service'): string {
  const t = TEMPLATES[template];
  const service = repository.split('/').at(-1) || 'my-service';
  const name = service.replace(/[^A-Za-z0-9._-]/g, '-');
  return `# Slipway pipeline (${t.description}).
# Every key is documented in shared/domain/definition.ts; \`slipway validate -f FILE\` checks this file.
name: ${JSON.stringify(name)}
source:
  provider: github
  repository: ${JSON.stringify(repository)}
  triggers:
    events: [push, pull_request]
    branches: [main]
concurrency: superseded
jobs:
  test:
    template: ${template}
    # The template runs: ${t.commands.join(' && ')}
    # Override any part of it here: image, install, commands, cache, env.
  image:
    kind: image
    needs: [test]
    when:
      branches: [main]
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
notifications: []
`;
}
