/**
 * EventBridge "CodeBuild Build State Change" -> `BuildStateChanged` for the run
 * and job the build belongs to. The build carries its run, job and attempt in the
 * SLIPWAY_* environment variables the runner set; a build without them was not
 * started by Slipway and is ignored.
 *
 * The event id is derived from the build id and its status, so EventBridge's
 * at-least-once delivery and retries collapse into one engine event.
 */
import { BUILD_STATES, type BuildState, type BuildStateChanged } from '../domain/run-events.ts';
import { ValidationError } from '../domain/errors.ts';
import type { EventQueue } from '../ports/index.ts';
import { IMAGE_OUTPUT_VARIABLES } from './buildspec.ts';

/** The part of the event detail Slipway reads; the rest is ignored. */
export interface BuildStateChangeDetail {
  'build-status': string;
  /** The build's ARN: `arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>`. */
  'build-id': string;
  'project-name'?: string;
  'current-phase'?: string;
  'additional-information'?: {
    environment?: { 'environment-variables'?: Array<{ name: string; value: string; type?: string }> };
    /** Not in every event; when absent the outputs are read from the build itself. */
    'exported-environment-variables'?: Array<{ name: string; value: string }>;
    phases?: Array<{ 'phase-type': string; 'phase-status'?: string; 'phase-context'?: string[]; 'duration-in-seconds'?: number }>;
  };
}

export interface BuildStateChangeEvent {
  'detail-type'?: string;
  source?: string;
  /** ISO-8601 time of the state change. */
  time?: string;
  detail: BuildStateChangeDetail;
}

/** Reads a finished build's exported environment variables (CodeBuild BatchGetBuilds). */
export type ExportedVariablesReader = (buildId: string) => Promise<Record<string, string>>;

const OUTPUT_NAMES: ReadonlySet<string> = new Set(IMAGE_OUTPUT_VARIABLES);
const FAILED_PHASE_STATUSES = new Set(['FAILED', 'FAULT', 'TIMED_OUT', 'CLIENT_ERROR', 'STOPPED']);

/** `project:uuid`, the id StartBuild returned, from either that id or the build's ARN. */
export function buildIdFromArn(arnOrId: string): string {
  const i = arnOrId.indexOf(':build/');
  return i >= 0 ? arnOrId.slice(i + ':build/'.length) : arnOrId;
}

/**
 * Turns a state change into an engine event; undefined for builds Slipway did not
 * start and for states the engine does not track. Throws ValidationError for an
 * event that claims to be Slipway's but is malformed.
 */
export async function toBuildStateChanged(event: BuildStateChangeEvent, readOutputs?: ExportedVariablesReader): Promise<BuildStateChanged | undefined> {
  const detail = event.detail;
  if (typeof detail !== 'object' || detail === null) throw new ValidationError('build state change without a detail');
  const vars = new Map((detail['additional-information']?.environment?.['environment-variables'] ?? []).map((v) => [v.name, v.value]));
  const runId = vars.get('SLIPWAY_RUN_ID');
  if (runId === undefined) return undefined;

  const job = vars.get('SLIPWAY_JOB');
  const attempt = Number(vars.get('SLIPWAY_ATTEMPT'));
  if (!job || !Number.isInteger(attempt) || attempt < 1) {
    throw new ValidationError(`build ${detail['build-id']} of run ${runId} has no valid SLIPWAY_JOB/SLIPWAY_ATTEMPT`);
  }
  if (typeof detail['build-id'] !== 'string' || detail['build-id'] === '') throw new ValidationError(`build state change for run ${runId} without a build id`);
  const state = stateOf(detail);
  if (state === undefined) return undefined;
  const buildId = buildIdFromArn(detail['build-id']);

  const out: BuildStateChanged = {
    type: 'BuildStateChanged',
    id: `build:${buildId}:${state}`,
    runId,
    at: event.time ?? new Date().toISOString(),
    job,
    attempt,
    buildId,
    state,
  };
  if (state === 'SUCCEEDED') {
    const outputs = await outputsOf(detail, vars.get('SLIPWAY_JOB_KIND'), buildId, readOutputs);
    if (outputs !== undefined) out.outputs = outputs;
  } else if (state !== 'IN_PROGRESS') {
    const reason = failureReason(detail);
    if (reason !== undefined) out.reason = reason;
  }
  return out;
}

/** A FAILED build whose failing phase timed out or faulted is reported as such. */
function stateOf(detail: BuildStateChangeDetail): BuildState | undefined {
  const status = detail['build-status'];
  if (!(BUILD_STATES as readonly string[]).includes(status)) return undefined;
  if (status === 'FAILED') {
    const phases = detail['additional-information']?.phases ?? [];
    if (phases.some((p) => p['phase-status'] === 'TIMED_OUT')) return 'TIMED_OUT';
    if (phases.some((p) => p['phase-status'] === 'FAULT')) return 'FAULT';
  }
  return status as BuildState;
}

function failureReason(detail: BuildStateChangeDetail): string | undefined {
  const phase = (detail['additional-information']?.phases ?? []).find((p) => p['phase-status'] !== undefined && FAILED_PHASE_STATUSES.has(p['phase-status']));
  if (phase === undefined) return undefined;
  const context = (phase['phase-context'] ?? []).filter((c) => c.trim() !== '' && c.trim() !== ':').join('; ');
  const reason = `${phase['phase-type']} phase ${phase['phase-status']!.toLowerCase()}${context ? `: ${context}` : ''}`;
  return phase['phase-type'] === 'DOWNLOAD_SOURCE' ? `${reason}. ${SOURCE_FIX}` : reason;
}

/**
 * A checkout that fails is almost always access: a connection not AVAILABLE (created by the CLI or
 * CloudFormation, never approved in the console), or an app installation that does not include the
 * repository. The context CodeBuild gives ("CLIENT_ERROR: ... authentication required", "repository
 * not found") names neither, so the reason says where to look.
 */
export const SOURCE_FIX =
  'CodeBuild could not check the repository out: check that the pipeline\'s CodeConnections connection (source.connection, or the stack default) is AVAILABLE (Developer Tools > Settings > Connections; a PENDING one needs "Update pending connection") and that its app installation on the git host includes this repository; `slipway doctor` checks both';

async function outputsOf(detail: BuildStateChangeDetail, kind: string | undefined, buildId: string, read: ExportedVariablesReader | undefined): Promise<Record<string, string> | undefined> {
  const inEvent = detail['additional-information']?.['exported-environment-variables'];
  let exported: Record<string, string> | undefined;
  if (inEvent !== undefined) exported = Object.fromEntries(inEvent.map((v) => [v.name, v.value]));
  // Only image jobs export anything Slipway reads; other builds cost no extra call.
  else if (kind === 'image' && read !== undefined) exported = await read(buildId);
  if (exported === undefined) return undefined;
  const outputs = Object.fromEntries(Object.entries(exported).filter(([k, v]) => OUTPUT_NAMES.has(k) && v !== ''));
  return Object.keys(outputs).length > 0 ? outputs : undefined;
}

/** Seconds the build ran, summed over its phases (queue time included); undefined when no phase says. */
export function buildDurationSeconds(detail: BuildStateChangeDetail): number | undefined {
  const durations = (detail['additional-information']?.phases ?? []).map((p) => p['duration-in-seconds']).filter((d): d is number => typeof d === 'number' && d >= 0);
  return durations.length > 0 ? durations.reduce((a, b) => a + b, 0) : undefined;
}

export interface ForwardDeps {
  queue: EventQueue;
  readOutputs?: ExportedVariablesReader;
  logger?: Pick<Console, 'info'>;
}

/** Translates one state change and puts it on the engine queue; returns the event sent, if any. */
export async function forwardBuildStateChange(deps: ForwardDeps, event: BuildStateChangeEvent): Promise<BuildStateChanged | undefined> {
  const out = await toBuildStateChanged(event, deps.readOutputs);
  if (out === undefined) {
    deps.logger?.info('build state change ignored (not a Slipway build, or an untracked state)', { buildId: event.detail?.['build-id'], status: event.detail?.['build-status'] });
    return undefined;
  }
  await deps.queue.send([out]);
  deps.logger?.info('build state change forwarded', { runId: out.runId, job: out.job, attempt: out.attempt, state: out.state, eventId: out.id });
  return out;
}
