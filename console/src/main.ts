/** The console: one page, hash routes, live views over the management API. */
import { Api } from './api.ts';
import { createAuth, type ConsoleConfig } from './auth.ts';
import type { Ctx, View } from './context.ts';
import { fill, h } from './dom.ts';
import { jobView } from './views/job.ts';
import { pipelinesView } from './views/pipelines.ts';
import { runView } from './views/run.ts';
import { runsView } from './views/runs.ts';
import { targetsView } from './views/targets.ts';

const ROUTES: Array<[RegExp, View | (() => Promise<View>)]> = [
  [/^#?\/?$/, pipelinesView],
  [/^#\/pipelines\/?$/, pipelinesView],
  [/^#\/pipelines\/([^/]+)\/definition$/, async () => (await import('./views/definition.ts')).definitionView],
  [/^#\/pipelines\/([^/]+)$/, runsView],
  [/^#\/runs\/([^/]+)\/jobs\/([^/]+)$/, jobView],
  [/^#\/runs\/([^/]+)$/, runView],
  [/^#\/targets\/?$/, targetsView],
  [/^#\/targets\/([^/]+)$/, targetsView],
];

async function boot(): Promise<void> {
  const main = document.getElementById('main')!;
  const status = document.getElementById('status')!;
  const who = document.getElementById('who')!;
  const config = (await (await fetch('config.json', { cache: 'no-store', credentials: 'omit' })).json()) as ConsoleConfig;
  const auth = await createAuth(config.auth);
  let generation = 0;
  let clearing: ReturnType<typeof setTimeout> | undefined;
  const announce = (message: string, kind: 'info' | 'error' = 'info') => {
    status.className = kind;
    fill(status, message);
    // A confirmation fades after a while; an error stays until the next refresh succeeds.
    clearTimeout(clearing);
    if (kind === 'info' && message) clearing = setTimeout(() => fill(status, ''), 8000);
  };
  const signedOut = () => {
    generation += 1;
    fill(who, '');
    fill(main, h('h1', {}, 'Signed out'), h('p', {}, auth.signedOutHelp),
      config.auth.kind === 'cognito' ? h('button', { type: 'button', class: 'primary', onclick: () => void auth.signIn() }, 'Sign in') : null);
  };
  const api = new Api(config.apiBase, () => auth.credential(), signedOut);

  const show = async () => {
    const mine = ++generation;
    if (!(await auth.credential())) { signedOut(); return; }
    const name = auth.who();
    fill(who, name ? `Signed in as ${name} ` : '', config.auth.kind === 'cognito' ? h('button', { type: 'button', class: 'link', onclick: () => auth.signOut() }, 'Sign out') : null);
    const hash = location.hash || '#/';
    const route = ROUTES.find(([re]) => re.test(hash));
    if (!route) { fill(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'All pipelines'))); return; }
    const params = route[0].exec(hash)!.slice(1).map((p) => decodeURIComponent(p));
    const ctx: Ctx = {
      api, local: config.auth.kind === 'local-token', now: () => Date.now(), announce,
      setTitle: (t) => { document.title = `${t} · Slipway`; },
      live(tick, ms = 1000) {
        const loop = async () => {
          while (mine === generation) {
            if (!document.hidden) {
              try {
                await tick();
                if (status.dataset.refresh) { delete status.dataset.refresh; announce(''); }
              } catch (e) {
                announce(`could not refresh: ${(e as Error).message}`, 'error');
                status.dataset.refresh = 'failed';
              }
            }
            await new Promise((r) => setTimeout(r, ms));
          }
        };
        void loop();
      },
    };
    for (const a of document.querySelectorAll('nav a')) a.toggleAttribute('aria-current', (a as HTMLAnchorElement).hash === hash.split('/').slice(0, 2).join('/'));
    try {
      const view = route[1].length === 0 ? await (route[1] as () => Promise<View>)() : (route[1] as View);
      await view(ctx, main, params);
      main.focus({ preventScroll: true });
    } catch (e) {
      fill(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, (e as Error).message));
    }
  };
  window.addEventListener('hashchange', () => void show());
  await show();
}

void boot();
