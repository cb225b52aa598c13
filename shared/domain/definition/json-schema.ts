/**
 * The pipeline format as a JSON Schema (draft 2020-12), generated from the same zod
 * schemas `parsePipeline` validates with, so editors complete and check `slipway.yml`
 * by the rules the engine applies. What JSON Schema cannot say (durations are text or
 * seconds, globs, approvers' ARNs, checks across jobs) stays with `slipway validate`.
 * `docs/slipway.schema.json` is this output, committed; a test keeps it equal.
 */
import { z } from 'zod';
import { DURATION } from './rules.ts';
import { JOB_NAME } from '../names.ts';
import { duration, jobSchema, topSchema } from './schema.ts';

export const SCHEMA_ID = 'https://slipway.dev/schemas/pipeline.schema.json';

export function pipelineJsonSchema(): Record<string, unknown> {
  const pipeline = topSchema.extend({
    jobs: z.record(z.string().regex(JOB_NAME.pattern), jobSchema).refine((j) => Object.keys(j).length > 0),
  });
  const schema = z.toJSONSchema(pipeline, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema === duration) {
        // "30s" | "5m" | "1h30m" | "1d" or a number of seconds.
        for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[k];
        Object.assign(ctx.jsonSchema, { anyOf: [{ type: 'string', pattern: DURATION.source }, { type: 'number', minimum: 0 }], description: 'a duration: "30s", "5m", "1h30m", "1d", or seconds' });
      }
    },
  }) as Record<string, unknown>;
  const jobs = (schema.properties as Record<string, Record<string, unknown>>).jobs;
  jobs.minProperties = 1;
  jobs.maxProperties = 200;
  return {
    $schema: schema.$schema,
    $id: SCHEMA_ID,
    title: 'Slipway pipeline',
    description: 'A Slipway pipeline definition (slipway.yml); see docs/pipeline-format.md. `slipway validate -f FILE` checks what a schema cannot.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
