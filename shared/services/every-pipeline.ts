/** Every registered pipeline (the latest version of each), page by page: the passes of the reconciler and the local mode's restart walk them all. */
import type { PipelineRecord, PipelineStore } from '../ports/index.ts';

/** Pages of 100: one DynamoDB query each (see DynamoPipelineStore.list). */
export async function* everyPipeline(pipelines: Pick<PipelineStore, 'list'>): AsyncGenerator<PipelineRecord> {
  let cursor: string | undefined;
  do {
    const page = await pipelines.list({ limit: 100, ...(cursor ? { cursor } : {}) });
    yield* page.items;
    cursor = page.cursor;
  } while (cursor);
}
