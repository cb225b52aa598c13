/**
 * A pipeline's definition as YAML (the stored, normalised version), and an editor that
 * checks a changed definition with the API's own parser (bundled into this page's chunk
 * only) and applies it; every problem is shown at its path and line.
 */
import { ApiError } from '../api.ts';
import { enc, type Ctx } from '../context.ts';
import { fill, h } from '../dom.ts';

interface PipelineRecord { id: string; version: number; spec: unknown; definitionSource: { kind: string; path?: string }; createdAt: string }

export async function definitionView(ctx: Ctx, main: HTMLElement, [pipelineId]: string[]): Promise<void> {
  ctx.setTitle(`Definition of ${pipelineId}`);
  fill(main, h('p', { class: 'muted' }, 'Loading…'));
  const [{ data: record }, logic] = await Promise.all([
    ctx.api.get<PipelineRecord>(`/pipelines/${enc(pipelineId)}`),
    import('../logic/definition.ts'),
  ]);
  const yaml = logic.toYaml(record.spec);
  const editor = h('textarea', { id: 'definition', name: 'definition', rows: 24, spellcheck: 'false', autocomplete: 'off' });
  editor.value = yaml;
  const problems = h('div', { id: 'problems', role: 'status' });
  const show = (found: Array<{ path: string; message: string; line?: number }>, what: string) => {
    if (found.length === 0) { fill(problems, h('p', { class: 'ok' }, what)); return; }
    fill(problems, h('p', { class: 'error' }, `${found.length} problem${found.length === 1 ? '' : 's'}:`),
      h('ul', { class: 'problems' }, ...found.map((p) => h('li', {},
        p.line !== undefined ? h('button', { type: 'button', class: 'link', onclick: () => goToLine(editor, p.line!) }, `line ${p.line}`) : null,
        p.line !== undefined ? ' ' : '', h('code', {}, p.path || '(document)'), `: ${p.message}`))));
  };
  const check = () => show(logic.checkDefinition(editor.value), 'No problems: this definition is valid.');
  const apply = async () => {
    const local = logic.checkDefinition(editor.value);
    if (local.length > 0) { show(local, ''); return; }
    try {
      const out = await ctx.api.send<PipelineRecord>('PUT', `/pipelines/${enc(pipelineId)}`, editor.value, 'application/yaml');
      show([], `Applied: version ${out.version} is now the latest.`);
    } catch (e) {
      if (e instanceof ApiError && e.problems.length > 0) show(logic.locateProblems(editor.value, e.problems, 'definition.'), '');
      else fill(problems, h('p', { class: 'error' }, (e as Error).message));
    }
  };
  fill(main,
    h('p', {}, h('a', { href: '#/' }, 'Pipelines'), ' / ', h('a', { href: `#/pipelines/${enc(pipelineId)}` }, pipelineId), ' / definition'),
    h('h1', {}, `Definition of ${pipelineId}`),
    h('p', { class: 'muted' }, `Version ${record.version}, registered ${record.createdAt}`,
      record.definitionSource.kind === 'repository' ? `; the jobs live in the repository (${record.definitionSource.path ?? '.slipway.yml'}) and are read at each run's commit` : ''),
    h('label', { for: 'definition' }, 'Definition (YAML)'),
    editor,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: check }, 'Check'),
      record.definitionSource.kind === 'registered' ? h('button', { type: 'button', class: 'primary', onclick: () => void apply() }, 'Apply as a new version') : null),
    problems);
}

function goToLine(editor: HTMLTextAreaElement, line: number): void {
  const lines = editor.value.split('\n');
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  editor.focus();
  editor.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
}
