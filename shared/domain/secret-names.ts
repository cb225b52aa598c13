/**
 * Secret names belong to their pipeline: every secret a pipeline names (webhook secret,
 * git host token, chat webhooks) is `slipway/<pipelineId>/<rest>`. Every handler may read
 * every `slipway/*` secret (IAM cannot tell one pipeline's request from another's), so
 * this rule is what keeps whoever edits pipeline A from making Slipway use pipeline B's
 * git token or chat webhook. Checked at registration, when a definition is read from a
 * repository, and again where a secret is used.
 */
import type { Problem } from './errors.ts';
import type { PipelineSpec } from './pipeline.ts';

/** The prefix of every secret pipeline `pipelineId` may name. */
export function secretPrefix(pipelineId: string): string {
  return `slipway/${pipelineId}/`;
}

/** True when `name` is `slipway/<pipelineId>/<something>`, with no way out of that folder. */
export function isPipelineSecret(pipelineId: string, name: string): boolean {
  const prefix = secretPrefix(pipelineId);
  if (!name.startsWith(prefix) || name.length === prefix.length) return false;
  return !name.slice(prefix.length).split('/').some((s) => s === '' || s === '.' || s === '..');
}

/** One problem per secret name given that does not belong to the pipeline, saying the expected prefix. */
export function secretNameProblems(pipelineId: string, names: ReadonlyArray<{ path: string; name: string | undefined | null }>): Problem[] {
  return names
    .filter((n): n is { path: string; name: string } => typeof n.name === 'string' && n.name !== '' && !isPipelineSecret(pipelineId, n.name))
    .map((n) => ({ path: n.path, message: `secret "${n.name}" must be named ${secretPrefix(pipelineId)}<name> (secrets belong to their pipeline)` }));
}

/** The secret names a definition's notifications use, with their paths. */
export function notificationSecrets(spec: Pick<PipelineSpec, 'notifications'>, base = 'notifications'): Array<{ path: string; name: string | undefined }> {
  return (spec.notifications ?? []).map((n, i) => ({ path: `${base}[${i}].secret`, name: n.secret }));
}
