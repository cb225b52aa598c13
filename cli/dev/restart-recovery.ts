/**
 * What the local mode does after a restart about the builds and releases the last one left in flight.
 */
import type { EventQueue } from '../../shared/ports/index.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { SqsReleaseQueue } from '../../shared/aws/release-queue.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { DynamoTargetStore } from '../../shared/aws/target-store.ts';
import type { BuildStateChanged } from '../../shared/domain/run-events.ts';
import { everyPipeline } from '../../shared/services/every-pipeline.ts';

/**
 * DynamoDB Local keeps its state across a restart but fauxqs does not, so
 * messages in flight when the local mode stopped are gone, and so are the
 * builds it was running. Runs must not hang on them: a build or image job that
 * was queued or running is reported FAULT (the engine retries it if it has
 * attempts left), and a release in progress gets its next step again.
 */
export async function recoverAfterRestart(deps: {
  pipelines: DynamoPipelineStore; runs: DynamoRunStore; targets: DynamoTargetStore; events: EventQueue; releases: SqsReleaseQueue; log: (l: string) => void;
}): Promise<void> {
  const now = new Date().toISOString();
  for await (const p of everyPipeline(deps.pipelines)) {
    for (const summary of await deps.runs.listActive(p.id)) {
      const run = await deps.runs.get(summary.runId);
      const lost: BuildStateChanged[] = [];
      for (const [job, j] of Object.entries(run.jobs)) {
        const kind = run.plan[job]?.kind;
        if ((kind === 'build' || kind === 'image') && (j.status === 'queued' || j.status === 'running') && j.attempt > 0) {
          lost.push({
            type: 'BuildStateChanged', id: `restart:${run.runId}:${job}:${j.attempt}`, runId: run.runId, at: now, job, attempt: j.attempt,
            buildId: j.buildId ?? 'lost', state: 'FAULT', reason: 'the local mode stopped while this build ran',
          });
        }
      }
      if (lost.length > 0) {
        deps.log(`run ${run.runId}: ${lost.map((e) => e.job).join(', ')} stopped with the local mode; reported as failed builds`);
        await deps.events.send(lost);
      }
    }
  }
  for (const name of await deps.targets.listNames()) {
    const t = await deps.targets.get(name);
    if (t.current) {
      deps.log(`release ${t.current.id} on ${name} resumes from step ${t.current.step}`);
      await deps.releases.send({ type: 'ReleaseStep', target: name, releaseId: t.current.id, step: t.current.step });
    }
  }
}
