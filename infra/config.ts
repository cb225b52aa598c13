import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { COMPUTE_TYPES, connectionsByService, type ComputeClass } from './constructs/builds.ts';
import { checkRepositoryName, ECR_NAME } from './constructs/images.ts';
import { DEFAULT_ECR_REPOSITORY_PREFIX } from '../shared/domain/pipeline.ts';
import type { SlipwayProps } from './constructs/slipway.ts';

/**
 * Context keys the app reads (cdk.json "context", or `-c key=value`). Values given on the command
 * line arrive as strings; lists are comma-separated.
 */
export const CONTEXT_KEYS = {
  artifactRetentionDays: 'slipway:artifactRetentionDays',
  runRetentionDays: 'slipway:runRetentionDays',
  logRetentionDays: 'slipway:logRetentionDays',
  computeClasses: 'slipway:computeClasses',
  ecrRepositoryPrefix: 'slipway:ecrRepositoryPrefix',
  sourceConnection: 'slipway:sourceConnection',
  sourceConnections: 'slipway:sourceConnections',
  releaseServiceArns: 'slipway:releaseServiceArns',
  releaseClusterArns: 'slipway:releaseClusterArns',
  releaseListenerArns: 'slipway:releaseListenerArns',
  releaseTaskRoleArns: 'slipway:releaseTaskRoleArns',
  releaseHealthCheckFunctionArns: 'slipway:releaseHealthCheckFunctionArns',
  dashboard: 'slipway:dashboard',
  imageRepositories: 'slipway:imageRepositories',
  keepImages: 'slipway:keepImages',
  reconcileMinutes: 'slipway:reconcileMinutes',
  reconcileMarginMinutes: 'slipway:reconcileMarginMinutes',
} as const;

/**
 * Bad context values, every one of them: each problem names the key, the value given and
 * what the key takes. infra/bin/slipway.ts prints them without a stack trace.
 */
export class ContextError extends Error {
  constructor(readonly problems: string[]) {
    super(`${problems.length === 1 ? 'a context value is' : `${problems.length} context values are`} not valid (cdk.json "context", or -c key=value):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ContextError';
  }
}

const given = (v: unknown) => JSON.stringify(v);

/** Reads context values, noting every bad one instead of stopping at the first. */
class ContextReader {
  readonly problems: string[] = [];
  constructor(private readonly get: (key: string) => unknown) {}

  raw(key: string): unknown {
    return this.get(key);
  }

  /** A whole number from `min` (default 1) to `max`; `why` says where the bounds come from. */
  int(key: string, bounds: { min?: number; max?: number; why?: string } = {}): number | undefined {
    const v = this.get(key);
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : Number(v);
    const { min = 1, max } = bounds;
    if (typeof v === 'boolean' || !Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
      const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
      this.problems.push(`${key}: got ${given(v)}; it takes a whole number ${range}${bounds.why ? ` (${bounds.why})` : ''}`);
      return undefined;
    }
    return n;
  }

  /** A list whose items `check` accepts (it throws an Error saying why not for one it refuses). */
  checkedList(key: string, check: (item: string) => void): string[] | undefined {
    const items = this.list(key);
    const bad: string[] = [];
    for (const item of items ?? []) {
      try { check(item); } catch (e) { bad.push((e as Error).message); }
    }
    if (bad.length > 0) { this.problems.push(`${key}: got ${given(this.get(key))}; ${bad.join('; ')}`); return undefined; }
    return items;
  }

  list(key: string): string[] | undefined {
    const v = this.get(key);
    if (v === undefined || v === null || v === '') return undefined;
    const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
    const out = items.map((s) => s.trim()).filter(Boolean);
    return out.length ? out : undefined;
  }

  /** true/false, as JSON or as a command-line string; undefined when not given. */
  bool(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    this.problems.push(`${key}: got ${given(v)}; it takes true or false`);
    return undefined;
  }

  str(key: string): string | undefined {
    const v = this.get(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') { this.problems.push(`${key}: got ${given(v)}; it takes a string`); return undefined; }
    return v.trim() === '' ? undefined : v.trim();
  }

  /** Throws one ContextError listing every problem noted. */
  check(): void {
    if (this.problems.length > 0) throw new ContextError(this.problems);
  }
}

/** Turns context values into Slipway props; a ContextError names every bad value at once. */
export function engineConfigFromContext(get: (key: string) => unknown): SlipwayProps {
  return fromContext(get, readEngineConfig);
}

/** Reads settings through one ContextReader, then throws the problems of every bad value at once. */
function fromContext<T>(get: (key: string) => unknown, read: (ctx: ContextReader) => T): T {
  const ctx = new ContextReader(get);
  const config = read(ctx);
  ctx.check();
  return config;
}

function readEngineConfig(ctx: ContextReader): SlipwayProps {
  const classes = ctx.list(CONTEXT_KEYS.computeClasses);
  const unknownClasses = (classes ?? []).filter((c) => !(c in COMPUTE_TYPES));
  if (unknownClasses.length > 0) {
    ctx.problems.push(`${CONTEXT_KEYS.computeClasses}: got ${given(ctx.raw(CONTEXT_KEYS.computeClasses))}, and ${unknownClasses.map((c) => `'${c}'`).join(', ')} ${unknownClasses.length === 1 ? 'is no compute class' : 'are no compute classes'}; it takes a comma-separated list of ${Object.keys(COMPUTE_TYPES).join(', ')}`);
  }
  let logDays = ctx.int(CONTEXT_KEYS.logRetentionDays);
  if (logDays !== undefined && !Object.values(logs.RetentionDays).includes(logDays)) {
    const allowed = (Object.values(logs.RetentionDays).filter((d) => typeof d === 'number') as number[]).sort((a, b) => a - b);
    ctx.problems.push(`${CONTEXT_KEYS.logRetentionDays}: got ${given(ctx.raw(CONTEXT_KEYS.logRetentionDays))}; it takes a CloudWatch Logs retention in days: ${allowed.join(', ')}`);
    logDays = undefined;
  }
  let prefix = ctx.str(CONTEXT_KEYS.ecrRepositoryPrefix);
  if (prefix !== undefined && !ECR_NAME.test(prefix)) {
    ctx.problems.push(`${CONTEXT_KEYS.ecrRepositoryPrefix}: got ${given(ctx.raw(CONTEXT_KEYS.ecrRepositoryPrefix))}; it takes an ECR repository name prefix (lower-case letters and digits, separated by ".", "_", "-" or "/")`);
    prefix = undefined;
  }
  const reconcileMinutes = ctx.int(CONTEXT_KEYS.reconcileMinutes);
  const connection = (arn: string) => { connectionsByService([arn]); };
  return {
    imageRepositories: ctx.checkedList(CONTEXT_KEYS.imageRepositories, (name) => checkRepositoryName(prefix ?? DEFAULT_ECR_REPOSITORY_PREFIX, name)),
    keepImages: ctx.int(CONTEXT_KEYS.keepImages, { max: 10_000 }),
    reconcileEvery: reconcileMinutes === undefined ? undefined : Duration.minutes(reconcileMinutes),
    reconcileMarginMinutes: ctx.int(CONTEXT_KEYS.reconcileMarginMinutes, { min: 5, why: 'the engine queue\'s redelivery takes that long' }),
    artifactRetentionDays: ctx.int(CONTEXT_KEYS.artifactRetentionDays),
    runRetentionDays: ctx.int(CONTEXT_KEYS.runRetentionDays),
    logRetention: logDays as logs.RetentionDays | undefined,
    computeClasses: classes as ComputeClass[] | undefined,
    ecrRepositoryPrefix: prefix,
    sourceConnection: ctx.checkedList(CONTEXT_KEYS.sourceConnection, connection)?.[0],
    sourceConnections: ctx.checkedList(CONTEXT_KEYS.sourceConnections, connection),
    dashboard: ctx.bool(CONTEXT_KEYS.dashboard),
    releaseScope: {
      serviceArns: ctx.list(CONTEXT_KEYS.releaseServiceArns),
      clusterArns: ctx.list(CONTEXT_KEYS.releaseClusterArns),
      listenerArns: ctx.list(CONTEXT_KEYS.releaseListenerArns),
      taskRoleArns: ctx.list(CONTEXT_KEYS.releaseTaskRoleArns),
      healthCheckFunctionArns: ctx.list(CONTEXT_KEYS.releaseHealthCheckFunctionArns),
    },
  };
}

/** Context keys of the web console (README, "The web console"). */
export const CONSOLE_CONTEXT_KEYS = {
  enabled: 'slipway:console',
  domainPrefix: 'slipway:consoleDomainPrefix',
  samlName: 'slipway:consoleSamlName',
  samlMetadataUrl: 'slipway:consoleSamlMetadataUrl',
} as const;

export interface ConsoleConfig { enabled: boolean; domainPrefix?: string; samlProvider?: { name: string; metadataUrl: string } }

/** The console's settings from context; a ContextError names every bad value at once. */
export function consoleConfigFromContext(get: (key: string) => unknown): ConsoleConfig {
  return fromContext(get, readConsoleConfig);
}

function readConsoleConfig(ctx: ContextReader): ConsoleConfig {
  const enabled = ctx.bool(CONSOLE_CONTEXT_KEYS.enabled);
  const name = ctx.str(CONSOLE_CONTEXT_KEYS.samlName);
  let metadataUrl = ctx.str(CONSOLE_CONTEXT_KEYS.samlMetadataUrl);
  if (metadataUrl !== undefined && !/^https:\/\/\S+$/.test(metadataUrl)) {
    ctx.problems.push(`${CONSOLE_CONTEXT_KEYS.samlMetadataUrl}: got ${given(ctx.raw(CONSOLE_CONTEXT_KEYS.samlMetadataUrl))}; it takes an https URL (the SAML application's metadata)`);
    metadataUrl = undefined;
  } else if ((name === undefined) !== (metadataUrl === undefined)) {
    const [set, missing] = name === undefined ? [CONSOLE_CONTEXT_KEYS.samlMetadataUrl, CONSOLE_CONTEXT_KEYS.samlName] : [CONSOLE_CONTEXT_KEYS.samlName, CONSOLE_CONTEXT_KEYS.samlMetadataUrl];
    ctx.problems.push(`${set}: got ${given(ctx.raw(set))} without ${missing}; the two go together (give both, or neither)`);
  }
  return {
    enabled: enabled ?? true,
    domainPrefix: ctx.str(CONSOLE_CONTEXT_KEYS.domainPrefix),
    ...(name && metadataUrl ? { samlProvider: { name, metadataUrl } } : {}),
  };
}

/** Both configurations, with every bad value of either named in one ContextError. */
export function configFromContext(get: (key: string) => unknown): { engine: SlipwayProps; console: ConsoleConfig } {
  const ctx = new ContextReader(get);
  const config = { engine: readEngineConfig(ctx), console: readConsoleConfig(ctx) };
  ctx.check();
  return config;
}
