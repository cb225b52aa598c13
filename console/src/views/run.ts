/**
 * A run: its DAG drawn live (status, attempt, duration of each job), where it comes
 * from (commit, message, author, pull request, fork or not), notices, and what a person
 * can do: cancel, approve or reject a waiting approval job (saying who may), run the
 * commit again.
 */
import { describeProvenance, trustOf, type RunState } from '../../../shared/domain/run.ts';
import { ApiError } from '../api.ts';
import { enc, type Ctx } from '../context.ts';
import { fill, h, s, statusBadge } from '../dom.ts';
import { whoMayApprove } from '../logic/approval.ts';
import { layoutDag, NODE } from '../logic/dag.ts';
import { duration, shortSha, statusLabel, TERMINAL_RUN } from '../logic/format.ts';

interface PipelineRecord { spec: { jobs: Record<string, { compute?: string; approval?: { approvers?: string[] } }>; pullRequests?: { approvers?: string[] } }; definitionSource: { kind: string } }

export async function runView(ctx: Ctx, main: HTMLElement, [runId]: string[]): Promise<void> {
  ctx.setTitle(`Run ${runId}`);
  const head = h('div');
  const provenance = h('section', { 'aria-labelledby': 'h-trigger' });
  const actions = h('section', { 'aria-labelledby': 'h-actions' });
  const graph = h('div', { class: 'graph scroll', id: 'dag' });
  const jobs = h('tbody');
  const extra = h('div');
  fill(main, head, provenance, actions,
    h('section', { 'aria-labelledby': 'h-graph' }, h('h2', { id: 'h-graph' }, 'Jobs'), graph,
      h('div', { class: 'scroll' }, h('table', { id: 'jobs' },
        h('caption', { class: 'sr-only' }, 'Jobs of the run'),
        h('thead', {}, h('tr', {}, ...['Job', 'Kind', 'Status', 'Attempt', 'Duration', 'Compute', 'Note'].map((c) => h('th', { scope: 'col' }, c)))),
        jobs))),
    extra);

  let pipeline: PipelineRecord | undefined;
  let actionKey = '';
  let run: RunState | undefined;

  const drawActions = (r: RunState) => {
    const waiting = Object.entries(r.jobs).filter(([, j]) => j.status === 'waiting_approval').map(([n]) => n);
    const key = `${r.status}|${waiting.join(',')}|${pipeline ? 1 : 0}`;
    // Redrawn only when what can be done changes, so keyboard focus stays on its button.
    if (key === actionKey) return;
    actionKey = key;
    const ended = TERMINAL_RUN.has(r.status);
    fill(actions,
      h('h2', { id: 'h-actions' }, 'Actions'),
      h('div', { class: 'buttons' },
        ended ? null : h('button', { type: 'button', class: 'danger', onclick: () => act(`/runs/${enc(r.runId)}/cancel`, {}, 'cancel requested') }, 'Cancel run'),
        // The API runs a branch's head or a given commit, not both: a branch run again takes its head.
        h('button', { type: 'button', onclick: () => void again(r) }, r.trigger.branch && r.trigger.event !== 'pull_request' ? `Run ${r.trigger.branch} again` : 'Run this commit again'),
        // POST /runs/{id}/rerun: the same commit and pipeline version, as a new run linked to this one.
        ended ? h('button', { type: 'button', onclick: () => void rerun(r, false) }, 'Re-run') : null,
        ended ? h('button', { type: 'button', onclick: () => void rerun(r, true) }, 'Re-run failed jobs') : null),
      ...waiting.map((job) => {
        const comment = h('input', { id: `c-${job}`, name: 'comment', maxlength: 1000, autocomplete: 'off' });
        return h('div', { class: 'approval', role: 'group', 'aria-labelledby': `a-${job}` },
          h('h3', { id: `a-${job}` }, `Job ${job} waits for approval`),
          h('p', {}, 'Who may answer: ', h('span', { class: 'approvers' }, whoMayApprove(pipeline?.spec, pipeline?.definitionSource, job, ctx.local))),
          h('label', { for: `c-${job}` }, 'Comment (optional)'), comment,
          h('div', { class: 'buttons' },
            h('button', { type: 'button', class: 'primary', onclick: () => act(`/runs/${enc(r.runId)}/jobs/${enc(job)}/approve`, comment.value ? { comment: comment.value } : {}, `${job} approved`) }, `Approve ${job}`),
            h('button', { type: 'button', class: 'danger', onclick: () => act(`/runs/${enc(r.runId)}/jobs/${enc(job)}/reject`, comment.value ? { comment: comment.value } : {}, `${job} rejected`) }, `Reject ${job}`)));
      }));
  };

  const act = async (path: string, body: unknown, done: string) => {
    try {
      await ctx.api.send('POST', path, body);
      ctx.announce(done);
    } catch (e) {
      ctx.announce(e instanceof ApiError ? `refused (HTTP ${e.status}): ${e.message}` : (e as Error).message, 'error');
    }
  };
  const again = async (r: RunState) => {
    try {
      const out = await ctx.api.send<{ runId: string }>('POST', `/pipelines/${enc(r.pipelineId)}/runs`, r.trigger.branch && r.trigger.event !== 'pull_request' ? { branch: r.trigger.branch } : { commit: r.trigger.commit });
      location.hash = `#/runs/${enc(out.runId)}`;
    } catch (e) { ctx.announce((e as Error).message, 'error'); }
  };

  const rerun = async (r: RunState, failedOnly: boolean) => {
    try {
      const out = await ctx.api.send<{ runId: string }>('POST', `/runs/${enc(r.runId)}/rerun`, failedOnly ? { failedOnly: true } : {});
      location.hash = `#/runs/${enc(out.runId)}`;
    } catch (e) {
      ctx.announce(e instanceof ApiError ? `refused (HTTP ${e.status}): ${e.message}` : (e as Error).message, 'error');
    }
  };

  ctx.live(async () => {
    let changed: boolean;
    try {
      ({ data: run, changed } = await ctx.api.get<RunState>(`/runs/${enc(runId)}`));
    } catch (e) {
      // A run requested a moment ago appears once the engine has planned it.
      if (e instanceof ApiError && e.status === 404) { fill(head, h('h1', {}, `Run ${runId}`), h('p', {}, e.message)); return; }
      throw e;
    }
    const r = run!;
    if (!pipeline) {
      pipeline = (await ctx.api.get<PipelineRecord>(`/pipelines/${enc(r.pipelineId)}?version=${r.pipelineVersion}`).catch(() => undefined))?.data;
      changed = true;
    }
    const ended = TERMINAL_RUN.has(r.status);
    // A running job's duration grows: redraw each second while anything runs.
    if (!changed && ended) return;
    const now = ctx.now();
    const t = r.trigger;
    fill(head,
      h('p', {}, h('a', { href: '#/' }, 'Pipelines'), ' / ', h('a', { href: `#/pipelines/${enc(r.pipelineId)}` }, r.pipelineId), ' / ', r.runId),
      h('h1', {}, 'Run ', h('span', { class: 'mono' }, r.runId), ' ', statusBadge(r.status)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Pipeline'), h('dd', {}, `${r.pipelineId} v${r.pipelineVersion} (${r.concurrency})`),
        h('dt', {}, t.tag ? 'Tag' : 'Branch'), h('dd', {}, t.tag ?? t.branch ?? '—'),
        h('dt', {}, 'Commit'), h('dd', {}, h('code', { title: t.commit }, shortSha(t.commit))),
        h('dt', {}, 'Duration'), h('dd', { id: 'run-duration' }, duration(r.startedAt ?? r.createdAt, r.finishedAt, now))),
      r.reason ? h('p', { class: r.status === 'failed' ? 'error' : 'muted' }, r.reason) : null);
    const trust = trustOf(t);
    fill(provenance,
      h('h2', { id: 'h-trigger' }, 'Trigger'),
      h('p', { id: 'provenance' }, describeProvenance(t), ' ', h('span', { class: `badge trust-${trust}` }, trust)),
      h('dl', { class: 'facts' },
        t.message ? [h('dt', {}, 'Message'), h('dd', { id: 'commit-message', class: 'message' }, t.message)] : null,
        t.author ? [h('dt', {}, 'Author'), h('dd', {}, t.author)] : null,
        t.pullRequest !== undefined ? [h('dt', {}, 'Pull request'), h('dd', {}, `#${t.pullRequest}${t.sourceBranch ? ` from ${t.sourceBranch}` : ''}`)] : null,
        t.event === 'pull_request' ? [h('dt', {}, 'Fork'), h('dd', {}, t.fork ? `yes: ${t.headRepository ?? '(repository deleted)'}` : 'no')] : null,
        t.schedule ? [h('dt', {}, 'Schedule'), h('dd', {}, t.schedule)] : null,
        t.recovered ? [h('dt', {}, 'Recovered'), h('dd', { id: 'recovered' }, `${t.recovered.reason}${t.recovered.delaySeconds !== undefined ? `, ${t.recovered.delaySeconds} s after the commit` : ''}`)] : null,
        t.parameters ? [h('dt', {}, 'Parameters'), h('dd', {}, Object.entries(t.parameters).map(([k, v]) => `${k}=${v}`).join(', '))] : null,
        t.deliveryId ? [h('dt', {}, 'Webhook delivery'), h('dd', {}, t.deliveryId)] : null));
    drawActions(r);
    drawGraph(graph, r, now);
    // The table lists jobs as the graph draws them: column by column.
    fill(jobs, ...layoutDag(r.plan).nodes.map(({ name }) => {
      const j = r.jobs[name];
      const note = j.reason ?? (j.approvedBy ? `approved by ${j.approvedBy}` : j.steps?.at(-1)?.detail ?? '');
      return h('tr', { 'data-job': name, 'data-status': j.status },
        h('td', {}, h('a', { href: `#/runs/${enc(r.runId)}/jobs/${enc(name)}` }, name)),
        h('td', {}, r.plan[name].kind),
        h('td', {}, statusBadge(j.status)),
        h('td', {}, j.attempt > 0 ? `${j.attempt} of ${r.plan[name].maxAttempts}` : ''),
        h('td', {}, duration(j.startedAt, j.finishedAt, now)),
        h('td', {}, pipeline?.spec.jobs[name]?.compute ?? ''),
        h('td', {}, note));
    }));
    const steps = Object.entries(r.jobs).flatMap(([name, j]) => (j.steps ?? []).map((st) => ({ name, ...st })));
    fill(extra,
      steps.length > 0 ? h('section', { 'aria-labelledby': 'h-steps' }, h('h2', { id: 'h-steps' }, 'Release steps'),
        h('ol', { class: 'steps' }, ...steps.map((st) => h('li', {}, h('time', { datetime: st.at }, st.at.slice(11, 19)), ` [${st.name}] `, st.detail)))) : null,
      (r.notices ?? []).length > 0 ? h('section', { 'aria-labelledby': 'h-notices' }, h('h2', { id: 'h-notices' }, 'Notices'),
        h('ul', {}, ...r.notices!.map((n) => h('li', {}, h('time', { datetime: n.at }, n.at.slice(0, 19).replace('T', ' ')), n.job ? ` [${n.job}] ` : ' ', n.message)))) : null);
  });
}

function drawGraph(container: HTMLElement, r: RunState, now: number): void {
  const layout = layoutDag(r.plan);
  const svg = s('svg', { width: layout.width, height: layout.height, viewBox: `0 0 ${layout.width} ${layout.height}`, role: 'group', 'aria-label': 'Job graph: each job after the jobs it needs' },
    ...layout.edges.map((e) => s('path', { d: e.path, class: `edge st-${r.jobs[e.from]?.status ?? 'pending'}` })),
    ...layout.nodes.map((n) => {
      const j = r.jobs[n.name];
      const label = n.name.length > 20 ? `${n.name.slice(0, 19)}…` : n.name;
      const line2 = `${statusLabel(j.status)}${j.attempt > 0 ? ` · attempt ${j.attempt}` : ''}`;
      // The link's name is its visible text: job, status, attempt, duration.
      return s('a', { href: `#/runs/${enc(r.runId)}/jobs/${enc(n.name)}`, class: `node st-${j.status}`, 'data-job': n.name, 'data-status': j.status, 'data-attempt': j.attempt },
        s('title', {}, n.name),
        s('rect', { x: n.x, y: n.y, width: NODE.width, height: NODE.height, rx: 8 }),
        s('text', { x: n.x + 10, y: n.y + 20, class: 'name' }, label),
        s('text', { x: n.x + 10, y: n.y + 37 }, line2),
        s('text', { x: n.x + 10, y: n.y + 52, class: 'small' }, duration(j.startedAt, j.finishedAt, now)));
    }));
  fill(container, svg);
}
