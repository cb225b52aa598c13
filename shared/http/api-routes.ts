/**
 * The management API's routes: HTTP in (path, query, body validated with zod),
 * one ApiService call, JSON out. Route keys match the HTTP API the stack declares.
 *
 * `PUT /pipelines/{id}` takes, as YAML (`application/yaml`, `text/yaml`, ...) or JSON
 * (`application/json`; without a content type the body is sniffed: `{` means JSON):
 * 1. a pipeline definition itself (name, source, jobs, ...); or
 * 2. a registration envelope, recognised by its `definition` or `definitionSource` key:
 *    - `{ "definition": <definition object or YAML text>, "webhookSecretName"?, "tokenSecretName"? }`
 *    - `{ "definitionSource": { "kind": "repository", "path"?: ".slipway.yml" },
 *         "source": { "provider", "repository", "triggers"? }, "name"?, "concurrency"?, "notifications"?, "pullRequests"?,
 *         "webhookSecretName"?, "tokenSecretName"? }`: the jobs are read from `path`
 *      in the repository at each run's commit (the engine calls `loadRepositoryDefinition`).
 *    Secret names are Secrets Manager names; left out they stay as the previous version had
 *    them, `null` removes them. Problems inside an envelope's `definition` are reported
 *    with the path prefix `definition.`.
 * 201 for the first version, 200 for a new version of an existing pipeline; the body is
 * the stored record (with the normalised spec and its version).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { parse as parseYamlLoose } from 'yaml';
// A namespace import, not `{ z }`: esbuild can drop what a namespace import never reads (zod's ~260 KB of locales), not what a re-exported namespace object holds.
import * as z from 'zod';
import { JOB_NAME, PIPELINE_ID, SECRET_NAME, TARGET_NAME, nameSchema } from '../domain/names.ts';
import type { RunState } from '../domain/run.ts';
import { MAX_PARAMETERS_BYTES } from '../domain/run-bounds.ts';
import { HEALTH_CHECK_FUNCTION_ARN } from '../domain/release.ts';
import { ValidationError } from '../domain/errors.ts';
import { DEFAULT_DEFINITION_PATH } from '../domain/pipeline.ts';
import type { ApiService, Registration } from '../services/api-service.ts';
import { bodyText, callerGroups, callerIdentity, jsonBody, mediaType, validate, zodProblems } from './request.ts';
import { HttpError, json, type HttpResponse } from './response.ts';
import type { RouteHandler, RouteRequest } from './router.ts';

// ---- identifiers -----------------------------------------------------------------

const pipelineId = nameSchema(PIPELINE_ID);
const runId = z
  .string()
  .transform((s) => s.toUpperCase())
  .pipe(z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a run id (26 characters, a ULID)'));
const jobName = nameSchema(JOB_NAME);
const colours = <T extends z.ZodType>(t: T) => z.object({ blue: t, green: t }).strict();
/** `PUT /targets/{name}`: where a target's two colours live (the name comes from the path). */
const targetBody = z.object({
  cluster: z.string().min(1),
  services: colours(z.string().min(1)),
  targetGroups: colours(z.string().min(1)),
  listenerRuleArn: z.string().min(1),
  testListenerRuleArn: z.string().min(1).optional(),
  testUrl: z.string().regex(/^https?:\/\/\S+$/, 'an http(s) URL').optional(),
  healthCheckFunction: z.string().regex(HEALTH_CHECK_FUNCTION_ARN, 'the ARN of the target\'s health checker function').optional(),
  containerName: z.string().min(1).optional(),
  desiredCount: z.number().int().min(1),
  liveColour: z.enum(['blue', 'green']).optional(),
  timing: z.object({
    pollSeconds: z.number().positive().optional(),
    healthyTimeoutSeconds: z.number().positive().optional(),
    deploymentTimeoutSeconds: z.number().positive().optional(),
  }).strict().optional(),
}).strict();
const targetName = nameSchema(TARGET_NAME);
const cursor = z.string().min(1).max(2048, 'is too long to be a cursor this API returned');
const limit = z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(100, 'must be at most 100');
const secretName = nameSchema(SECRET_NAME).nullable().optional();
const filePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '.' || s === ''), 'must be a relative path inside the repository, e.g. ".slipway.yml"');

/** Git ref names as `git check-ref-format` allows them, roughly; the host has the last word. */
const branch = z
  .string()
  .min(1)
  .max(255)
  .refine((b) => !/[\x00-\x20~^:?*[\\\x7f]|\.\.|@\{|\/\/|^[-/.]|[/.]$|\.lock$/.test(b), 'is not a valid branch name');
const commit = z.string().regex(/^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/, 'must be a full commit sha (40 hex characters)');

const pageQuery = z.object({ cursor: cursor.optional(), limit: limit.optional() });
const logsQuery = pageQuery.extend({ attempt: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(11, 'must be at most 11 (10 retries)').optional() });

const manualRunBody = z.strictObject({
  branch: branch.optional(),
  commit: commit.optional(),
  parameters: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'parameter names are letters, digits and "_", not starting with a digit'), z.string().max(4096, 'must be at most 4096 characters'))
    .refine((p) => Object.keys(p).length <= 50, 'at most 50 parameters')
    // They ride in the run's item (DynamoDB, at most 400 KB with every job): see shared/domain/run-bounds.ts.
    .refine((p) => Object.entries(p).reduce((n, [k, v]) => n + Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8'), 0) <= MAX_PARAMETERS_BYTES, `at most ${MAX_PARAMETERS_BYTES / 1024} KB in all (names and values)`)
    .optional(),
});

const rerunBody = z.strictObject({ failedOnly: z.boolean().optional() });
const deleteQuery = z.object({ history: z.enum(['keep', 'delete'], { error: 'must be "keep" (the runs stay readable) or "delete" (they go too)' }).optional() });

const approvalBody = z.strictObject({ comment: z.string().max(1000, 'must be at most 1000 characters').optional() });

const definitionEnvelope = z.strictObject({
  definition: z.union([z.string(), z.record(z.string(), z.unknown())], { error: 'must be the pipeline definition: an object, or YAML text' }),
  webhookSecretName: secretName,
  tokenSecretName: secretName,
});

const repositoryEnvelope = z.strictObject({
  definitionSource: z.strictObject({ kind: z.literal('repository'), path: filePath.optional() }),
  name: z.unknown().optional(),
  source: z.unknown(),
  concurrency: z.unknown().optional(),
  notifications: z.unknown().optional(),
  pullRequests: z.unknown().optional(),
  webhookSecretName: secretName,
  tokenSecretName: secretName,
});

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain']);
/** Types curl and friends send for `--data-binary @file`: sniff the content. */
const SNIFF_TYPES = new Set(['application/x-www-form-urlencoded', 'application/octet-stream']);

// ---- routes -----------------------------------------------------------------------

export function apiRoutes(api: ApiService): Record<string, RouteHandler> {
  const ids = <T>(schema: z.ZodType<T>, req: RouteRequest): T => validate(schema, req.params, 'path parameters');
  const page = (req: RouteRequest) => validate(pageQuery, req.query, 'query parameters');
  const caller = (req: RouteRequest) => ({ by: callerIdentity(req.event) ?? 'unknown', groups: callerGroups(req.event), requestId: req.requestId });

  return {
    'PUT /pipelines/{id}': async (req) => {
      const { id } = ids(z.object({ id: pipelineId }), req);
      const registration = readRegistration(req.event);
      const { record, created } = await api.registerPipeline(id, registration);
      return json(created ? 201 : 200, record, { location: `/pipelines/${encodeURIComponent(id)}?version=${record.version}` });
    },
    'GET /pipelines/{id}': async (req) => {
      const { id } = ids(z.object({ id: pipelineId }), req);
      const { version } = validate(z.object({ version: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').optional() }), req.query, 'query parameters');
      return json(200, await api.getPipeline(id, version));
    },
    'GET /pipelines': async (req) => json(200, await api.listPipelines(page(req))),
    'POST /pipelines/{id}/disable': async (req) => {
      const { id } = ids(z.object({ id: pipelineId }), req);
      return json(200, await api.setPipelineEnabled(id, false, caller(req)));
    },
    'POST /pipelines/{id}/enable': async (req) => {
      const { id } = ids(z.object({ id: pipelineId }), req);
      return json(200, await api.setPipelineEnabled(id, true, caller(req)));
    },
    'DELETE /pipelines/{id}': async (req) => {
      const { id } = ids(z.object({ id: pipelineId }), req);
      const { history } = validate(deleteQuery, req.query, 'query parameters');
      return json(200, await api.deletePipeline(id, history ?? 'keep'));
    },
    'POST /pipelines/{id}/runs': async (req) => {
      const { id } = ids(z.object({ id: pipelineId }), req);
      const body = validate(manualRunBody, jsonBody(req.event), 'run request');
      const out = await api.requestRun(id, body, caller(req));
      return json(202, { ...out, status: 'requested' }, { location: `/runs/${out.runId}` });
    },
    'GET /pipelines/{id}/runs': async (req) => {
      const { id } = ids(z.object({ id: pipelineId }), req);
      return json(200, await api.listRuns(id, page(req)));
    },
    'GET /runs/{id}': async (req) => {
      const { id } = ids(z.object({ id: runId }), req);
      // Bookkeeping for idempotency (applied event ids, the effect outbox) is not part of the run's story.
      const { appliedEventIds: _ids, outbox: _outbox, ...run } = (await api.getRun(id)) as RunState & { outbox?: unknown };
      return json(200, run);
    },
    'POST /runs/{id}/rerun': async (req) => {
      const { id } = ids(z.object({ id: runId }), req);
      const body = validate(rerunBody, jsonBody(req.event, { emptyIsObject: true }), 're-run request');
      const out = await api.rerunRun(id, body, caller(req));
      return json(202, { ...out, status: 'requested' }, { location: `/runs/${out.runId}` });
    },
    'POST /runs/{id}/cancel': async (req) => {
      const { id } = ids(z.object({ id: runId }), req);
      return json(202, await api.cancelRun(id, caller(req)));
    },
    'POST /runs/{id}/jobs/{job}/approve': async (req) => {
      const { id, job } = ids(z.object({ id: runId, job: jobName }), req);
      const { comment } = validate(approvalBody, jsonBody(req.event, { emptyIsObject: true }), 'approval');
      return json(202, await api.answerApproval(id, job, 'approve', caller(req), comment));
    },
    'POST /runs/{id}/jobs/{job}/reject': async (req) => {
      const { id, job } = ids(z.object({ id: runId, job: jobName }), req);
      const { comment } = validate(approvalBody, jsonBody(req.event, { emptyIsObject: true }), 'rejection');
      return json(202, await api.answerApproval(id, job, 'reject', caller(req), comment));
    },
    'GET /runs/{id}/jobs/{job}/logs': async (req) => {
      const { id, job } = ids(z.object({ id: runId, job: jobName }), req);
      return json(200, await api.readLogs(id, job, validate(logsQuery, req.query, 'query parameters')));
    },
    'GET /runs/{id}/jobs/{job}/artifacts': async (req) => {
      const { id, job } = ids(z.object({ id: runId, job: jobName }), req);
      return json(200, await api.listArtifacts(id, job));
    },
    'GET /runs/{id}/jobs/{job}/artifacts/{path+}': async (req) => {
      const { id, job, path } = ids(z.object({ id: runId, job: jobName, path: filePath }), req);
      const url = await api.artifactUrl(id, job, path);
      return json(302, { url }, { location: url });
    },
    'GET /targets': async () => json(200, await api.listTargets()),
    'PUT /targets/{name}': async (req) => {
      const { name } = ids(z.object({ name: targetName }), req);
      const body = validate(targetBody, jsonBody(req.event), 'target');
      const { target, created } = await api.putTarget({ ...body, name });
      return json(created ? 201 : 200, target, { location: `/targets/${name}` });
    },
    'GET /targets/{name}': async (req) => {
      const { name } = ids(z.object({ name: targetName }), req);
      return json(200, await api.getTarget(name));
    },
    'POST /targets/{name}/rollback': async (req) => {
      const { name } = ids(z.object({ name: targetName }), req);
      // Checked now (409 when no rollback is possible); the releaser moves the traffic within seconds.
      return json(202, await api.rollbackTarget(name, caller(req)));
    },
  };
}

/** Decodes a PUT /pipelines/{id} body into a registration (see the module comment). */
export function readRegistration(event: APIGatewayProxyEventV2): Registration {
  const type = mediaType(event);
  const text = bodyText(event);
  if (text.trim() === '') throw new ValidationError('request body is empty; send the pipeline definition as YAML or JSON');
  const known = type === undefined || SNIFF_TYPES.has(type) || YAML_TYPES.has(type) || isJsonType(type);
  if (!known) throw new HttpError(415, 'UnsupportedMediaType', `content type ${type} is not supported; send application/yaml or application/json`);
  const asJson = isJsonType(type) || ((type === undefined || SNIFF_TYPES.has(type)) && text.trimStart().startsWith('{'));
  let value: unknown;
  if (asJson) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ValidationError(`request body is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    value = tryYaml(text);
  }
  const isEnvelope = value !== null && typeof value === 'object' && !Array.isArray(value) && ('definition' in value || 'definitionSource' in value);
  if (!isEnvelope) return { kind: 'definition', definition: text, format: asJson ? 'json' : 'yaml' };
  const raw = value as Record<string, unknown>;
  if ('definitionSource' in raw) {
    if ('definition' in raw) {
      throw new ValidationError('invalid registration', [{ path: 'definition', message: 'give either "definition" or "definitionSource", not both' }]);
    }
    const env = repositoryEnvelope.safeParse(raw);
    const path = env.success ? env.data.definitionSource.path : undefined;
    return {
      kind: 'repository',
      path: path ?? DEFAULT_DEFINITION_PATH,
      settings: { name: raw.name, source: raw.source, concurrency: raw.concurrency, notifications: raw.notifications, pullRequests: raw.pullRequests },
      ...(env.success ? { webhookSecretName: env.data.webhookSecretName, tokenSecretName: env.data.tokenSecretName } : { problems: zodProblems(env.error) }),
    };
  }
  const env = definitionEnvelope.safeParse(raw);
  if (!env.success && (typeof raw.definition !== 'string' && (raw.definition === null || typeof raw.definition !== 'object' || Array.isArray(raw.definition)))) {
    throw new ValidationError('invalid registration', zodProblems(env.error));
  }
  return {
    kind: 'definition',
    definition: raw.definition,
    definitionPath: 'definition',
    ...(env.success ? { webhookSecretName: env.data.webhookSecretName, tokenSecretName: env.data.tokenSecretName } : { problems: zodProblems(env.error) }),
  };
}

function isJsonType(type: string | undefined): boolean {
  return type === 'application/json' || (type !== undefined && type.endsWith('+json'));
}

function tryYaml(text: string): unknown {
  // Only used to spot an envelope; a syntax error is reported by the definition parser.
  try {
    return parseYamlLoose(text);
  } catch {
    return undefined;
  }
}

export type { HttpResponse };
