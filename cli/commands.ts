/**
 * The everyday commands that came after the first ones: re-run, pipelines
 * disable/enable/delete, artifacts and schema. Each takes the parsed arguments
 * and an API client, and returns the exit code.
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiClient, ApiError } from './client.ts';
import { table } from './format.ts';

export class CommandUsageError extends Error {}

type Out = (human: string, data: unknown) => void;

export async function rerunCommand(api: ApiClient, args: { runId?: string; failed: boolean; watch: boolean; json: boolean }, out: Out, watch: (runId: string) => Promise<number>): Promise<number> {
  if (!args.runId) throw new CommandUsageError('rerun needs a RUN id (add --failed to re-run only its failed jobs)');
  const res = await api.request<{ runId: string; rerunOf: string; pipelineVersion: number; commit: string; reused: string[] }>('POST', `/runs/${encodeURIComponent(args.runId)}/rerun`, { failedOnly: args.failed });
  if (!args.watch) {
    const kept = res.reused.length > 0 ? `; kept from ${res.rerunOf}: ${res.reused.join(', ')}` : '';
    out(`run ${res.runId} requested: a re-run of ${res.rerunOf} (pipeline v${res.pipelineVersion}, commit ${res.commit.slice(0, 8)}${kept}); follow it with: slipway status ${res.runId} --watch`, res);
    return 0;
  }
  return watch(res.runId);
}

export async function pipelineAdminCommand(api: ApiClient, args: { sub: string; id?: string; history?: string }, out: Out): Promise<number> {
  const { sub, id } = args;
  if (!id) throw new CommandUsageError(`pipelines ${sub} needs a PIPELINE id`);
  const p = `/pipelines/${encodeURIComponent(id)}`;
  if (sub === 'disable' || sub === 'enable') {
    const res = await api.request<{ id: string; disabled: boolean }>('POST', `${p}/${sub}`, {});
    out(sub === 'disable' ? `pipeline ${id} disabled: webhooks and schedules start no runs, and \`slipway run\` is refused, until \`slipway pipelines enable ${id}\`` : `pipeline ${id} enabled`, res);
    return 0;
  }
  const history = args.history ?? 'keep';
  if (history !== 'keep' && history !== 'delete') throw new CommandUsageError('--history takes keep (the runs stay readable) or delete (the runs go too)');
  const res = await api.request<{ id: string; runsDeleted: number }>('DELETE', `${p}?history=${history}`);
  out(`pipeline ${id} deleted${history === 'delete' ? ` with its ${res.runsDeleted} run(s)` : '; its runs stay readable (slipway status RUN)'}`, res);
  return 0;
}

interface ArtifactLink { path: string; size?: number; url: string; executable?: boolean }

/** `download`: the folder, absolute; `shownAs`: as the user typed it. */
export async function artifactsCommand(api: ApiClient, args: { runId?: string; job?: string; download?: string; shownAs?: string }, out: Out): Promise<number> {
  const { runId, job } = args;
  if (!runId || !job) throw new CommandUsageError('artifacts needs RUN and JOB (and --download DIR to fetch them)');
  const res = await api.request<{ artifacts: ArtifactLink[] }>('GET', `/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(job)}/artifacts`);
  if (args.download === undefined) {
    out(res.artifacts.length === 0 ? `${job} kept no artifacts (a job keeps what its outputs list)` : table([['PATH', 'SIZE'], ...res.artifacts.map((a) => [a.path, a.size === undefined ? '' : String(a.size)])]), res);
    return 0;
  }
  const dir = args.download;
  const written: string[] = [];
  for (const a of res.artifacts) {
    const file = path.resolve(dir, a.path);
    if (!file.startsWith(dir + path.sep)) continue; // a path that would leave the folder
    let body: Response;
    try {
      body = await fetch(a.url, { signal: AbortSignal.timeout(120_000) });
    } catch (e) {
      throw new ApiError(0, 'Unreachable', `cannot download ${a.path}: ${(e as Error).message}`);
    }
    if (!body.ok) throw new ApiError(body.status, `HTTP${body.status}`, `downloading ${a.path} failed: HTTP ${body.status} (links last 15 minutes; run the command again)`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(await body.arrayBuffer()));
    // Executable again where the build left it so (a script, a binary), as `chmod +x` would.
    if (a.executable) chmodSync(file, statSync(file).mode | 0o111);
    written.push(path.relative(dir, file));
  }
  out(`downloaded ${written.length} artifact(s) of ${job} into ${args.shownAs ?? dir}${written.length > 0 ? `:\n  ${written.join('\n  ')}` : ''}`, { dir, files: written });
  return 0;
}

export async function schemaCommand(out: (text: string) => void): Promise<number> {
  const { pipelineJsonSchema } = await import('../shared/domain/definition/json-schema.ts');
  out(`${JSON.stringify(pipelineJsonSchema(), null, 2)}`);
  return 0;
}
