/** A job: its build log, following live while the job runs (the API's cursor returns only new lines), and its artifacts. */
import type { RunState } from '../../../shared/domain/run.ts';
import { ApiError } from '../api.ts';
import { enc, type Ctx } from '../context.ts';
import { fill, h, statusBadge } from '../dom.ts';
import { duration } from '../logic/format.ts';

interface LogPage { events: Array<{ timestamp: string; message: string }>; cursor?: string; complete: boolean; status: string; attempt: number; attempts: number }
interface Artifacts { artifacts: Array<{ path: string; size?: number; url: string; expiresAt?: string }> }

export async function jobView(ctx: Ctx, main: HTMLElement, [runId, job]: string[]): Promise<void> {
  ctx.setTitle(`${job} of run ${runId}`);
  const head = h('div');
  const attemptSelect = h('select', { id: 'attempt', name: 'attempt' });
  const follow = h('input', { type: 'checkbox', id: 'follow', name: 'follow', checked: true });
  const state = h('p', { class: 'muted', id: 'log-state', role: 'status' });
  const log = h('pre', { id: 'log', class: 'log', role: 'log', 'aria-label': `Build log of ${job}`, tabindex: 0 });
  const artifacts = h('div', { id: 'artifacts' });
  fill(main, head,
    h('section', { 'aria-labelledby': 'h-log' }, h('h2', { id: 'h-log' }, 'Build log'),
      h('div', { class: 'filters' }, h('label', { for: 'attempt' }, 'Attempt'), attemptSelect, follow, h('label', { for: 'follow' }, 'Follow the log')),
      state, log),
    h('section', { 'aria-labelledby': 'h-artifacts' }, h('h2', { id: 'h-artifacts' }, 'Artifacts'), artifacts));

  let attempt: number | undefined;
  let cursor: string | undefined;
  let complete = false;
  let attemptsShown = 0;
  attemptSelect.addEventListener('change', () => { attempt = Number(attemptSelect.value); cursor = undefined; complete = false; log.replaceChildren(); });

  const readLog = async (kind: string) => {
    if (kind !== 'build' && kind !== 'image') { fill(state, `A ${kind} job has no build log.`); return; }
    if (complete) return;
    const q = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}), ...(attempt ? { attempt: String(attempt) } : {}) });
    // Each answer holds only lines after the cursor; an unchanged one (304) adds nothing.
    const { data, changed } = await ctx.api.get<LogPage>(`/runs/${enc(runId)}/jobs/${enc(job)}/logs?${q}`);
    if (!changed) return;
    if (data.attempts !== attemptsShown) {
      attemptsShown = data.attempts;
      fill(attemptSelect, ...Array.from({ length: data.attempts }, (_, i) => h('option', { value: i + 1, selected: i + 1 === data.attempt }, `attempt ${i + 1}`)));
    }
    if (data.events.length > 0) {
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      log.append(...data.events.map((e) => h('span', { class: 'line' }, e.message.endsWith('\n') ? e.message : `${e.message}\n`)));
      if (follow.checked && atBottom) log.scrollTop = log.scrollHeight;
    }
    if (data.cursor) cursor = data.cursor;
    complete = data.complete;
    fill(state, complete ? `attempt ${data.attempt}: ${data.status}; the log is complete (${log.childElementCount} lines)` : `attempt ${data.attempt}: ${data.status}; following…`);
  };

  let artifactsRead = false;
  ctx.live(async () => {
    const { data: run } = await ctx.api.get<RunState>(`/runs/${enc(runId)}`);
    const j = run.jobs[job];
    const plan = run.plan[job];
    if (!j || !plan) { fill(head, h('h1', {}, job), h('p', { class: 'error' }, `run ${runId} has no job "${job}"`)); return; }
    fill(head,
      h('p', {}, h('a', { href: '#/' }, 'Pipelines'), ' / ', h('a', { href: `#/pipelines/${enc(run.pipelineId)}` }, run.pipelineId), ' / ', h('a', { href: `#/runs/${enc(runId)}` }, runId), ' / ', job),
      h('h1', {}, `Job ${job} `, statusBadge(j.status)),
      h('p', {}, `${plan.kind} job · attempt ${j.attempt} of ${plan.maxAttempts} · ${duration(j.startedAt, j.finishedAt, ctx.now())}`, j.reason ? ` · ${j.reason}` : ''));
    await readLog(plan.kind);
    const ended = ['succeeded', 'failed', 'skipped', 'cancelled'].includes(j.status);
    if (ended && !artifactsRead) {
      artifactsRead = true;
      try {
        const { data } = await ctx.api.get<Artifacts>(`/runs/${enc(runId)}/jobs/${enc(job)}/artifacts`);
        fill(artifacts, data.artifacts.length === 0 ? h('p', {}, 'This job kept no artifacts.') : h('ul', {}, ...data.artifacts.map((a) =>
          h('li', {}, h('a', { href: a.url, download: a.path.split('/').at(-1), rel: 'noopener noreferrer' }, a.path), a.size !== undefined ? ` (${a.size} bytes)` : '', a.expiresAt ? ` · link valid until ${a.expiresAt}` : ''))));
      } catch (e) {
        fill(artifacts, h('p', { class: 'muted' }, e instanceof ApiError ? e.message : String(e)));
      }
    } else if (!ended) fill(artifacts, h('p', { class: 'muted' }, 'Artifacts are listed once the job has ended.'));
  });
}
