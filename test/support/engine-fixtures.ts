/**
 * Small factories for the engine tests: normalised job specs and pipelines as
 * the definition parser would produce them (every default filled in).
 */
import type { JobSpec, PipelineSpec } from '../../shared/domain/pipeline.ts';

export function jobSpec(name: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name,
    kind: 'build',
    needs: [],
    when: { branches: [], tags: [], events: [] },
    install: [],
    commands: [],
    cache: [],
    env: {},
    outputs: [],
    inputs: [],
    timeoutMinutes: 30,
    retries: 0,
    compute: 'small',
    ...overrides,
  };
}

export function imageJob(name: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return jobSpec(name, {
    kind: 'image',
    image: { dockerfile: 'Dockerfile', context: '.', repository: 'acme/web', tags: ['latest'] },
    ...overrides,
  });
}

export function deployJob(name: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return jobSpec(name, {
    kind: 'deploy',
    deploy: {
      target: 'staging',
      strategy: 'blue-green',
      steps: [10, 50, 100],
      intervalSeconds: 60,
      bakeSeconds: 120,
      alarms: [],
      rollbackWindowMinutes: 60,
    },
    ...overrides,
  });
}

export function pipelineSpec(jobs: JobSpec[], overrides: Partial<PipelineSpec> = {}): PipelineSpec {
  return {
    name: 'web',
    source: {
      provider: 'github',
      repository: 'acme/web',
      triggers: { events: ['push'], branches: ['main'], tags: [], paths: { include: [], exclude: [] } },
    },
    concurrency: 'superseded',
    jobs: Object.fromEntries(jobs.map((j) => [j.name, j])),
    notifications: [],
    ...overrides,
  };
}

/** build (outputs dist/) -> test (inputs build) -> image (inputs build) -> deploy staging. */
export function fourJobPipeline(overrides: Partial<PipelineSpec> = {}): PipelineSpec {
  return pipelineSpec(
    [
      jobSpec('build', { template: 'node', buildImage: 'aws/codebuild/amazonlinux-x86_64-standard:5.0', install: ['npm ci'], commands: ['npm run build'], cache: ['node_modules/**/*'], outputs: ['dist/**', 'package.json'] }),
      jobSpec('test', { needs: ['build'], inputs: ['build'], commands: ['npm test'], outputs: ['reports/junit.xml'] }),
      imageJob('image', { needs: ['test'], inputs: ['build'] }),
      deployJob('deploy', { needs: ['image'] }),
    ],
    overrides,
  );
}
