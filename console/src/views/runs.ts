/** A pipeline's runs: live first page, older pages by the API's cursor, filters by branch and status. */
import { enc, type Ctx } from '../context.ts';
import { fill, h, statusBadge } from '../dom.ts';
import { ago, duration, shortSha } from '../logic/format.ts';
import { branchesOf, filterRuns, mergeRunPages, type RunSummaryLike } from '../logic/runs.ts';

const PAGE = 25;

export async function runsView(ctx: Ctx, main: HTMLElement, [pipelineId]: string[]): Promise<void> {
  ctx.setTitle(`Runs of ${pipelineId}`);
  let first: RunSummaryLike[] = [];
  let older: RunSummaryLike[] = [];
  let cursor: string | undefined;
  let olderCursor: string | undefined;
  const branch = h('select', { id: 'f-branch', name: 'branch' });
  const status = h('select', { id: 'f-status', name: 'status' },
    ...['', 'active', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'superseded'].map((s) => h('option', { value: s }, s === '' ? 'any status' : s === 'active' ? 'queued or running' : s)));
  const body = h('tbody');
  const more = h('button', { type: 'button', onclick: () => void loadOlder() }, 'Older runs');
  const count = h('p', { class: 'muted', role: 'status' });
  const runBranch = h('input', { id: 'run-branch', name: 'run-branch', autocomplete: 'off', placeholder: 'default branch' });
  const form = h('form', { class: 'inline', onsubmit: (e: Event) => { e.preventDefault(); void start(); } },
    h('label', { for: 'run-branch' }, 'Run on branch'), runBranch, h('button', { type: 'submit' }, 'Start a run'));

  fill(main,
    h('p', {}, h('a', { href: '#/' }, 'Pipelines'), ' / ', pipelineId),
    h('h1', {}, `Runs of ${pipelineId}`),
    h('p', {}, h('a', { href: `#/pipelines/${enc(pipelineId)}/definition` }, 'Definition')),
    form,
    h('div', { class: 'filters' }, h('label', { for: 'f-branch' }, 'Branch'), branch, h('label', { for: 'f-status' }, 'Status'), status),
    h('div', { class: 'scroll' }, h('table', {},
      h('caption', { class: 'sr-only' }, `Runs of ${pipelineId}, newest first`),
      h('thead', {}, h('tr', {}, ...['Run', 'Branch', 'Commit', 'Status', 'Duration', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
      body)),
    count, more);

  const draw = () => {
    const all = mergeRunPages(first, older);
    const selected = branch.value;
    fill(branch, h('option', { value: '' }, 'any branch'), ...branchesOf(all).map((b) => h('option', { value: b, selected: b === selected }, b)));
    const shown = filterRuns(all, { branch: branch.value || undefined, status: status.value || undefined });
    const now = ctx.now();
    fill(body, ...shown.map((r) => h('tr', {},
      h('td', {}, h('a', { href: `#/runs/${enc(r.runId)}` }, r.runId)),
      h('td', {}, r.branch ?? '—'),
      h('td', {}, h('code', {}, shortSha(r.commit))),
      h('td', {}, statusBadge(r.status)),
      h('td', {}, duration(r.createdAt, r.finishedAt, now)),
      h('td', {}, ago(r.createdAt, now)))));
    fill(count, `${shown.length} of ${all.length} loaded runs shown`);
    more.hidden = (older.length > 0 ? olderCursor : cursor) === undefined;
  };
  branch.addEventListener('change', draw);
  status.addEventListener('change', draw);

  const loadOlder = async () => {
    const from = older.length > 0 ? olderCursor : cursor;
    if (!from) return;
    const { data } = await ctx.api.get<{ items: RunSummaryLike[]; cursor?: string }>(`/pipelines/${enc(pipelineId)}/runs?limit=${PAGE}&cursor=${enc(from)}`);
    older = [...older, ...data.items];
    olderCursor = data.cursor;
    draw();
  };
  const start = async () => {
    try {
      const out = await ctx.api.send<{ runId: string }>('POST', `/pipelines/${enc(pipelineId)}/runs`, runBranch.value ? { branch: runBranch.value } : {});
      ctx.announce(`run ${out.runId} requested`);
      location.hash = `#/runs/${enc(out.runId)}`;
    } catch (e) { ctx.announce((e as Error).message, 'error'); }
  };

  ctx.live(async () => {
    const { data, changed } = await ctx.api.get<{ items: RunSummaryLike[]; cursor?: string }>(`/pipelines/${enc(pipelineId)}/runs?limit=${PAGE}`);
    first = data.items;
    cursor = data.cursor;
    if (changed || first.some((r) => r.status === 'running')) draw();
  });
}
