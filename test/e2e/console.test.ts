/**
 * The web console end to end, in a real browser (Debian's Chromium, headless, driven by
 * playwright-core) against the local mode: find the sample pipeline, watch a run's graph
 * turn green, follow a log, approve an approval job, watch the traffic bar move through
 * the steps, roll back. axe-core checks every page; a commit message carrying HTML is
 * shown as text; no request leaves the console's origin. Screenshots of a failing step
 * are kept in test-results/console-e2e/; the README's two screenshots are taken here
 * (docs/, refreshed with SLIPWAY_UPDATE_SCREENSHOTS=1).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildConsole } from '../../scripts/build-console.mjs';
import { SAMPLE, startLocalMode, type LocalMode } from '../../cli/dev/local-mode.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env.SLIPWAY_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'console-e2e');
const TEST = { timeout: 180_000 };
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The sample pipeline with a person's approval in front of the release, and shifts slow
// enough for a page polling every second to show each step.
const PIPELINE = `name: hello
source:
  provider: github
  repository: acme/hello
  triggers:
    events: [push]
    branches: [main]
jobs:
  test:
    template: node
    install: []
    commands: [npm test]
  image:
    kind: image
    needs: [test]
    docker:
      repository: hello
  release-gate:
    kind: approval
    needs: [image]
  deploy:
    kind: deploy
    needs: [release-gate]
    deploy:
      target: staging
      strategy: blue-green
      steps: [10, 50, 100]
      interval: 3s
      bake: 2s
      healthCheck:
        path: /health
      rollbackWindow: 30m
`;
const XSS_MESSAGE = 'hello 1.1.0 <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

let mode: LocalMode;
let dataDir: string;
let context: BrowserContext;
let page: Page;
let runId: string;
const requests: string[] = [];
const lines: string[] = [];
const t0 = Date.now();

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set SLIPWAY_CHROMIUM)`);
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-console-e2e-'));
  const built = await buildConsole(path.join(dataDir, 'console'));
  mode = await startLocalMode({ dataDir: path.join(dataDir, 'state'), reset: true, quiet: true, consoleDir: built.outDir, onLog: (l) => lines.push(l) });
  await mode.api.registerPipeline(SAMPLE.pipelineId, { kind: 'definition', definition: PIPELINE });
  // A fresh profile in the test's own folder (playwright passes it as --user-data-dir).
  context = await chromium.launchPersistentContext(path.join(dataDir, 'chromium'), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
}, { timeout: 150_000 });

after(async () => {
  await context?.close().catch(() => undefined);
  await mode?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  console.log(`console e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

/** Runs a step; on failure keeps a screenshot of the page and the local mode's last lines. */
async function step(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    mkdirSync(SHOTS, { recursive: true });
    await page?.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true }).catch(() => undefined);
    (e as Error).message += `\n(screenshot: test-results/console-e2e/${name}.png)\nlocal mode:\n${lines.slice(-25).join('\n')}`;
    throw e;
  }
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(what: string): Promise<void> {
  // Evaluated by the driver, so the page's CSP (no inline script) stays on.
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run: (ctx: unknown, o: unknown) => Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown }> }> }> } })
      .axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
  });
  const serious = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${what}: ${JSON.stringify(serious, null, 2)}`);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const nodeStatus = (job: string) => page.getAttribute(`#dag [data-job="${job}"]`, 'data-status', { timeout: 1000 });

test('the console opens with the URL npm start prints, keeps the token out of the address bar, and lists the sample pipeline', TEST, async () => {
  await step('pipelines', async () => {
    await page.goto(mode.consoleUrl);
    await page.getByRole('heading', { name: 'Pipelines', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'hello', exact: true }).waitFor();
    assert.doesNotMatch(page.url(), /token/, 'the token leaves the address bar');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token') !== null), true);
    await accessible('pipelines');
  });
});

test('a run pushed with an HTML commit message: the graph updates live and the message is shown as text', TEST, async () => {
  await step('run', async () => {
    // A test that takes a while, so the page is there to see the job run, however loaded the machine.
    const sha = mode.commit({ VERSION: '1.1.0\n', 'slow.test.mjs': "import { test } from 'node:test';\ntest('takes a while', () => new Promise((r) => setTimeout(r, 8000)));\n" }, XSS_MESSAGE);
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, repository: { full_name: SAMPLE.repository }, head_commit: { id: sha, message: XSS_MESSAGE }, sender: { login: 'octo<b>cat</b>' }, commits: [{ modified: ['VERSION'] }] });
    const res = await fetch(`${mode.apiUrl}/webhooks/github`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', mode.webhookSecret).update(body).digest('hex')}` },
    });
    assert.equal(res.status, 202);
    runId = ((await res.json()) as { runs: Array<{ runId: string }> }).runs[0].runId;
    // From the pipeline's runs page, as a person would.
    await page.getByRole('link', { name: 'hello', exact: true }).click();
    await page.getByRole('heading', { name: 'Runs of hello' }).waitFor();
    await page.getByRole('link', { name: runId }).click({ timeout: 20_000 });
    await page.locator('#dag [data-job="test"]').waitFor();
    const seen = new Set<string>();
    await waitFor('the test job to succeed in the graph', async () => {
      const s = await nodeStatus('test');
      if (s) seen.add(s);
      return s === 'succeeded';
    });
    assert.ok([...seen].some((s) => s === 'queued' || s === 'running' || s === 'pending'), `the graph showed the job before it ended: ${[...seen].join(', ')}`);
    const message = await page.locator('#commit-message').textContent();
    assert.equal(message, XSS_MESSAGE, 'the commit message is text');
    assert.equal(await page.locator('main img, main script').count(), 0, 'no element came out of the message');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.match(await page.locator('#provenance').textContent() ?? '', /push to main by octo<b>cat<\/b>: trusted/);
    await accessible('run');
  });
});

test('a job\'s log follows live, then says it is complete', TEST, async () => {
  await step('log', async () => {
    await page.goto(`${new URL(mode.consoleUrl).origin}/console/#/runs/${runId}/jobs/image`);
    const states = new Set<string>();
    await waitFor('the image log to be complete', async () => {
      states.add((await page.locator('#log-state').textContent()) ?? '');
      return /the log is complete/.test([...states].at(-1) ?? '');
    });
    assert.ok([...states].some((s) => /following/.test(s)), `the log was followed while the job ran: ${[...states].join(' | ')}`);
    const log = (await page.locator('#log').textContent()) ?? '';
    assert.match(log, /local process image|Dockerfile/i, log.slice(0, 400));
    await page.getByText(/Artifacts|artifacts/).first().waitFor();
    await accessible('job');
    // Back to the test job's finished log, read in one go.
    await page.goto(`${new URL(mode.consoleUrl).origin}/console/#/runs/${runId}/jobs/test`);
    await waitFor('the test log', async () => /npm test|pass/i.test((await page.locator('#log').textContent()) ?? ''));
  });
});

test('the approval job shows who may answer; approved from the keyboard, the release starts and the traffic bar moves through 10, 50, 100', TEST, async () => {
  await step('approve', async () => {
    await page.goto(`${new URL(mode.consoleUrl).origin}/console/#/runs/${runId}`);
    const approve = page.getByRole('button', { name: 'Approve release-gate' });
    await approve.waitFor({ timeout: 120_000 });
    assert.match(await page.locator('.approvers').textContent() ?? '', /local mode/);
    await accessible('run waiting for approval');
    // Keyboard only: tab until the button has focus, then Enter.
    for (let i = 0; i < 40 && !(await approve.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
    assert.equal(await approve.evaluate((b) => b === document.activeElement), true, 'the approve button is reachable with Tab');
    await page.keyboard.press('Enter');
    await waitFor('the approval to be recorded', async () => (await nodeStatus('release-gate')) === 'succeeded');
    assert.match(await page.locator('#jobs tr[data-job="release-gate"]').textContent() ?? '', /approved by local developer/);
  });
  await step('traffic', async () => {
    await page.getByRole('link', { name: 'Targets' }).click();
    const bar = page.locator('.weights[data-target="staging"]');
    await bar.waitFor();
    const before = Number(await bar.getAttribute('data-green'));
    const newColour = before === 100 ? 'blue' : 'green';
    const seen: number[] = [];
    let shot = false;
    await waitFor('all traffic on the new colour', async () => {
      const v = Number(await bar.getAttribute(`data-${newColour}`));
      if (seen.at(-1) !== v) seen.push(v);
      if (!shot && v > 0 && v < 100) {
        shot = true;
        if (process.env.SLIPWAY_UPDATE_SCREENSHOTS) await page.screenshot({ path: path.join(ROOT, 'docs', 'console-target-mid-shift.png'), fullPage: true });
        await accessible('target mid-shift');
      }
      return v === 100 && !(await page.locator('text=Release in progress').count());
    }, 150_000);
    assert.ok(seen.includes(10) && seen.includes(50), `the bar moved through the steps: ${seen.join(' -> ')}`);
    assert.deepEqual(seen.filter((v) => v > 0), [...seen.filter((v) => v > 0)].sort((a, b) => a - b), 'only forward');
  });
});

test('the run ends green in the graph; the console asked the API conditionally and nothing else', TEST, async () => {
  await step('green', async () => {
    await page.goto(`${new URL(mode.consoleUrl).origin}/console/#/runs/${runId}`);
    await waitFor('the run to succeed', async () => /succeeded/.test((await page.locator('h1 .badge').textContent()) ?? ''));
    for (const job of ['test', 'image', 'release-gate', 'deploy']) assert.equal(await nodeStatus(job), 'succeeded', job);
    if (process.env.SLIPWAY_UPDATE_SCREENSHOTS) await page.screenshot({ path: path.join(ROOT, 'docs', 'console-run.png'), fullPage: true });
    // Readable at 390 px: nothing wider than the screen but the graph's own scroll box.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll at 390 px');
    await accessible('run at 390 px');
    await page.setViewportSize({ width: 1280, height: 900 });
    // Unchanged answers were 304s; and the page never asked another host.
    const stats = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => (e as PerformanceResourceTiming).responseStatus));
    assert.ok(stats.includes(304), 'some polls were answered 304 Not Modified');
    const origin = new URL(mode.apiUrl).origin;
    assert.deepEqual(requests.filter((u) => new URL(u).origin !== origin), [], 'every request went to the console\'s own origin');
    // Re-run: offered once the run ended; "failed jobs only" of a green run is refused by the API, and the console says why.
    await page.getByRole('button', { name: 'Re-run failed jobs' }).click();
    await waitFor('the re-run refusal', async () => /refused \(HTTP 409\): every job of run .* succeeded/.test((await page.locator('#status').textContent()) ?? ''));
    assert.equal(await page.getByRole('button', { name: 'Re-run', exact: true }).count(), 1, 'a whole re-run is offered too');
  });
});

test('rollback puts the traffic back, and the console says why no further rollback is possible', TEST, async () => {
  await step('rollback', async () => {
    await page.goto(`${new URL(mode.consoleUrl).origin}/console/#/targets/staging`);
    const bar = page.locator('.weights[data-target="staging"]');
    await bar.waitFor();
    const live = Number(await bar.getAttribute('data-green')) === 100 ? 'green' : 'blue';
    const old = live === 'green' ? 'blue' : 'green';
    const button = page.getByRole('button', { name: 'Roll back staging' });
    await waitFor('the rollback button to be enabled', async () => !(await button.isDisabled()));
    await button.click();
    await waitFor(`all traffic back on ${old}`, async () => Number(await bar.getAttribute(`data-${old}`)) === 100, 60_000);
    await waitFor('the reason no rollback is possible now', async () => /No rollback now: /.test((await page.locator('.card').textContent()) ?? ''));
    assert.equal(await button.isDisabled(), true);
    await accessible('target after rollback');
  });
});

test('the definition page shows the YAML and a problem at its path and line', TEST, async () => {
  await step('definition', async () => {
    await page.goto(`${new URL(mode.consoleUrl).origin}/console/#/pipelines/hello/definition`);
    const editor = page.getByLabel('Definition (YAML)');
    await editor.waitFor();
    const yaml = await editor.inputValue();
    assert.match(yaml, /release-gate:/);
    await editor.fill(yaml.replace(/needs:\n(\s+)- release-gate/, 'needs:\n$1- relase-gate'));
    await page.getByRole('button', { name: 'Check' }).click();
    const problems = (await page.locator('#problems').textContent()) ?? '';
    assert.match(problems, /line \d+\s*jobs\.deploy\.needs\[0\]: unknown job "relase-gate" \(did you mean "release-gate"\?\)/, problems);
    await accessible('definition');
  });
});
