/**
 * Release targets: the live colour, the weights as a bar that moves during a shift, the
 * release in progress step by step, the last release, and rollback while its window is
 * open (with the API's reason when it refuses).
 */
import { ApiError } from '../api.ts';
import { enc, type Ctx } from '../context.ts';
import { fill, h, statusBadge } from '../dom.ts';
import { releaseHistory, rollbackAvailability, weightsBar, type ReleaseLike, type TargetLike } from '../logic/target.ts';

export async function targetsView(ctx: Ctx, main: HTMLElement, [only]: string[]): Promise<void> {
  ctx.setTitle(only ? `Target ${only}` : 'Targets');
  const list = h('div', { class: 'cards' });
  fill(main, h('h1', {}, only ? `Target ${only}` : 'Release targets'), list);
  const cards = new Map<string, { card: HTMLElement; bar: HTMLElement; blue: HTMLElement; green: HTMLElement; body: HTMLElement; rollback: HTMLElement; key: string }>();
  ctx.live(async () => {
    let items: TargetLike[];
    try {
      items = only ? [(await ctx.api.get<TargetLike>(`/targets/${enc(only)}`)).data] : (await ctx.api.get<{ items: TargetLike[] }>('/targets')).data.items;
    } catch (e) {
      if (e instanceof ApiError) { fill(list, h('p', { class: 'error' }, e.message)); return; }
      throw e;
    }
    if (items.length === 0) fill(list, h('p', {}, 'No target is registered.'));
    for (const t of items) {
      let c = cards.get(t.name);
      if (!c) {
        const blue = h('div', { class: 'seg blue' });
        const green = h('div', { class: 'seg green' });
        const bar = h('div', { class: 'weights', role: 'img', 'data-target': t.name }, blue, green);
        c = { card: h('section', { class: 'card', 'aria-labelledby': `t-${t.name}` }), bar, blue, green, body: h('div'), rollback: h('div'), key: '' };
        fill(c.card, h('h2', { id: `t-${t.name}` }, h('a', { href: `#/targets/${enc(t.name)}` }, t.name)), bar, c.body, c.rollback);
        cards.set(t.name, c);
        list.append(c.card);
      }
      drawTarget(ctx, c, t);
    }
  });
}

function drawTarget(ctx: Ctx, c: { bar: HTMLElement; blue: HTMLElement; green: HTMLElement; body: HTMLElement; rollback: HTMLElement; key: string }, t: TargetLike): void {
  const w = weightsBar(t);
  // The bar's segments keep their elements, so the width change animates (CSS transition).
  c.blue.style.width = `${w.blue}%`;
  c.green.style.width = `${w.green}%`;
  fill(c.blue, w.blue >= 8 ? `blue ${w.blue}%` : '');
  fill(c.green, w.green >= 8 ? `green ${w.green}%` : '');
  c.bar.setAttribute('aria-label', w.label);
  c.bar.dataset.blue = String(w.blue);
  c.bar.dataset.green = String(w.green);
  c.bar.classList.toggle('shifting', w.shifting);
  fill(c.body,
    h('p', {}, 'Live colour: ', h('span', { class: `badge colour-${t.liveColour}`, 'data-live': t.liveColour }, t.liveColour),
      t.waiting.length > 0 ? ` · ${t.waiting.length} release(s) waiting` : ''),
    ...releaseHistory(t).map((r) => releaseBlock(r, r === t.current)));
  const now = ctx.now();
  const avail = rollbackAvailability(t, now);
  const key = JSON.stringify(avail.possible ? [avail.colour, avail.until] : [avail.reason]);
  if (key === c.key) return;
  c.key = key;
  const result = h('p', { role: 'status', class: 'rollback-result' });
  fill(c.rollback, h('h3', {}, 'Rollback'),
    avail.possible
      ? h('p', {}, `The previous colour (${avail.colour}) is kept running until ${avail.until}.`)
      : h('p', { class: 'muted' }, `No rollback now: ${avail.reason}.`),
    // Offered whenever the window looks open; the API checks again and its refusal is shown.
    h('button', { type: 'button', class: 'danger', disabled: !avail.possible, onclick: async () => {
      try {
        await ctx.api.send('POST', `/targets/${enc(t.name)}/rollback`, {});
        fill(result, `rollback of ${t.name} requested: traffic goes back to ${avail.possible ? avail.colour : 'the previous colour'}`);
        ctx.announce(`rollback of ${t.name} requested`);
      } catch (e) {
        fill(result, h('span', { class: 'error' }, e instanceof ApiError ? `refused: ${e.message}` : String(e)));
      }
    } }, `Roll back ${t.name}`),
    result);
}

function releaseBlock(r: ReleaseLike, inProgress: boolean): HTMLElement {
  return h('div', { class: 'release', 'data-release': r.releaseId },
    h('h3', {}, inProgress ? 'Release in progress ' : 'Last release ', statusBadge(r.outcome ?? r.phase, r.outcome ?? r.phase)),
    h('p', {}, `${r.strategy} ${r.fromColour} → ${r.toColour}`, r.percent !== undefined ? ` · ${r.percent}% on ${r.toColour}` : '', ' · ', h('code', {}, r.image)),
    h('p', {}, 'From run ', h('a', { href: `#/runs/${enc(r.runId)}` }, r.runId), ` (${r.pipelineId}, job ${r.job})`, r.rolledBackBy ? ` · rolled back by ${r.rolledBackBy}` : ''),
    r.reason ? h('p', { class: r.outcome === 'succeeded' ? 'muted' : 'error' }, r.reason) : null,
    h('ol', { class: 'steps', 'aria-label': `Steps of release ${r.releaseId}` }, ...r.history.map((st) =>
      h('li', {}, h('time', { datetime: st.at }, st.at.slice(11, 19)), ` ${st.phase}: `, st.detail))));
}
