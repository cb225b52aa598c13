import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { COMPUTE_TYPES, type ComputeClass } from './constructs/builds.ts';
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

/** Turns context values into Slipway props; fails with the key's name on a bad value. */
export function engineConfigFromContext(get: (key: string) => unknown): SlipwayProps {
  const int = (key: string): number | undefined => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`context ${key} must be a whole number >= 1, got ${JSON.stringify(v)}`);
    return n;
  };
  const list = (key: string): string[] | undefined => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return undefined;
    const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
    const out = items.map((s) => s.trim()).filter(Boolean);
    return out.length ? out : undefined;
  };
  const classes = list(CONTEXT_KEYS.computeClasses);
  for (const c of classes ?? []) if (!(c in COMPUTE_TYPES)) throw new Error(`context ${CONTEXT_KEYS.computeClasses}: unknown compute class '${c}'`);
  const logDays = int(CONTEXT_KEYS.logRetentionDays);
  if (logDays !== undefined && !Object.values(logs.RetentionDays).includes(logDays)) {
    throw new Error(`context ${CONTEXT_KEYS.logRetentionDays} must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...), got ${logDays}`);
  }
  const prefix = get(CONTEXT_KEYS.ecrRepositoryPrefix);
  const dashboard = get(CONTEXT_KEYS.dashboard);
  const reconcileMinutes = int(CONTEXT_KEYS.reconcileMinutes);
  return {
    imageRepositories: list(CONTEXT_KEYS.imageRepositories),
    keepImages: int(CONTEXT_KEYS.keepImages),
    reconcileEvery: reconcileMinutes === undefined ? undefined : Duration.minutes(reconcileMinutes),
    reconcileMarginMinutes: int(CONTEXT_KEYS.reconcileMarginMinutes),
    artifactRetentionDays: int(CONTEXT_KEYS.artifactRetentionDays),
    runRetentionDays: int(CONTEXT_KEYS.runRetentionDays),
    logRetention: logDays as logs.RetentionDays | undefined,
    computeClasses: classes as ComputeClass[] | undefined,
    ecrRepositoryPrefix: typeof prefix === 'string' && prefix !== '' ? prefix : undefined,
    sourceConnection: list(CONTEXT_KEYS.sourceConnection)?.[0],
    sourceConnections: list(CONTEXT_KEYS.sourceConnections),
    dashboard: dashboard === undefined ? undefined : dashboard !== false && dashboard !== 'false',
    releaseScope: {
      serviceArns: list(CONTEXT_KEYS.releaseServiceArns),
      clusterArns: list(CONTEXT_KEYS.releaseClusterArns),
      listenerArns: list(CONTEXT_KEYS.releaseListenerArns),
      taskRoleArns: list(CONTEXT_KEYS.releaseTaskRoleArns),
      healthCheckFunctionArns: list(CONTEXT_KEYS.releaseHealthCheckFunctionArns),
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

export function consoleConfigFromContext(get: (key: string) => unknown): { enabled: boolean; domainPrefix?: string; samlProvider?: { name: string; metadataUrl: string } } {
  const str = (key: string) => { const v = get(key); return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined; };
  const enabled = get(CONSOLE_CONTEXT_KEYS.enabled);
  const name = str(CONSOLE_CONTEXT_KEYS.samlName);
  const metadataUrl = str(CONSOLE_CONTEXT_KEYS.samlMetadataUrl);
  if ((name === undefined) !== (metadataUrl === undefined)) throw new Error(`context ${CONSOLE_CONTEXT_KEYS.samlName} and ${CONSOLE_CONTEXT_KEYS.samlMetadataUrl} go together`);
  if (metadataUrl !== undefined && !/^https:\/\/\S+$/.test(metadataUrl)) throw new Error(`context ${CONSOLE_CONTEXT_KEYS.samlMetadataUrl} must be an https URL`);
  return {
    enabled: enabled !== false && enabled !== 'false',
    domainPrefix: str(CONSOLE_CONTEXT_KEYS.domainPrefix),
    ...(name && metadataUrl ? { samlProvider: { name, metadataUrl } } : {}),
  };
}
