/** Every pipeline with the last run of each branch: status, duration, trigger. */
import { ApiError } from '../api.ts';
import { enc, type Ctx } from '../context.ts';
import { fill, h, statusBadge } from '../dom.ts';
import { ago, duration, shortSha } from '../logic/format.ts';
import { lastRunPerBranch, type RunSummaryLike } from '../logic/runs.ts';

interface PipelineSummary { id: string; version: number; name: string; provider: string; repository: string; definitionSource: { kind: string; path?: string } }
interface RunDetail { trigger: { event: string; author?: string; pullRequest?: number; message?: string } }

export async function pipelinesView(ctx: Ctx, main: HTMLElement): Promise<void> {
  ctx.setTitle('Pipelines');
  const list = h('div', { class: 'cards' });
  fill(main, h('h1', {}, 'Pipelines'), list);
  const triggers = new Map<string, string>();
  const rendered = new Map<string, HTMLElement>();
  ctx.live(async () => {
    const { data, changed } = await ctx.api.get<{ items: PipelineSummary[] }>('/pipelines?limit=100');
    if (changed || rendered.size === 0) {
      if (data.items.length === 0) fill(list, h('p', {}, 'No pipeline is registered yet: ', h('code', {}, 'slipway pipelines apply -f slipway.yml')));
      else fill(list, ...data.items.map((p) => {
        const card = rendered.get(p.id) ?? h('section', { class: 'card', 'aria-labelledby': `p-${p.id}` });
        rendered.set(p.id, card);
        return card;
      }));
    }
    for (const p of data.items) await renderPipeline(ctx, rendered.get(p.id)!, p, triggers);
  }, 2000);
}

async function renderPipeline(ctx: Ctx, card: HTMLElement, p: PipelineSummary, triggers: Map<string, string>): Promise<void> {
  let runs: RunSummaryLike[];
  let changed: boolean;
  try {
    ({ data: { items: runs }, changed } = await ctx.api.get<{ items: RunSummaryLike[] }>(`/pipelines/${enc(p.id)}/runs?limit=50`));
  } catch (e) {
    if (e instanceof ApiError) { fill(card, h('h2', { id: `p-${p.id}` }, p.id), h('p', { class: 'error' }, e.message)); return; }
    throw e;
  }
  const lasts = lastRunPerBranch(runs);
  // The trigger is on the run itself; read once per run (a run's trigger never changes).
  for (const r of lasts.slice(0, 10)) {
    if (triggers.has(r.runId)) continue;
    const { data } = await ctx.api.get<RunDetail>(`/runs/${enc(r.runId)}`);
    const t = data.trigger;
    triggers.set(r.runId, `${t.event === 'pull_request' ? `pull request${t.pullRequest ? ` #${t.pullRequest}` : ''}` : t.event}${t.author ? ` by ${t.author}` : ''}`);
  }
  if (!changed && card.childElementCount > 0 && !lasts.some((r) => r.status === 'running' || r.status === 'queued')) return;
  const now = ctx.now();
  fill(card,
    h('h2', { id: `p-${p.id}` }, h('a', { href: `#/pipelines/${enc(p.id)}` }, p.name), ' ', h('span', { class: 'muted' }, `(${p.id} v${p.version})`)),
    h('p', { class: 'muted' }, `${p.provider}: ${p.repository}`, p.definitionSource.kind === 'repository' ? ` · defined in the repository (${p.definitionSource.path ?? '.slipway.yml'})` : ' · registered definition',
      ' · ', h('a', { href: `#/pipelines/${enc(p.id)}/definition` }, 'definition')),
    lasts.length === 0 ? h('p', {}, 'No run yet.') : h('div', { class: 'scroll' }, h('table', {},
      h('caption', { class: 'sr-only' }, `Last run of each branch of ${p.id}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Branch'), h('th', { scope: 'col' }, 'Last run'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Duration'), h('th', { scope: 'col' }, 'Trigger'), h('th', { scope: 'col' }, 'Started'))),
      h('tbody', {}, ...lasts.map((r) => h('tr', {},
        h('td', {}, r.branch ?? '—'),
        h('td', {}, h('a', { href: `#/runs/${enc(r.runId)}` }, `${r.runId.slice(-8)} @ ${shortSha(r.commit)}`)),
        h('td', {}, statusBadge(r.status)),
        h('td', {}, duration(r.createdAt, r.finishedAt, now)),
        h('td', {}, triggers.get(r.runId) ?? ''),
        h('td', {}, ago(r.createdAt, now)),
      ))),
    )),
  );
}
