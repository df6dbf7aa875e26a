// Browser tests of the web UI: real coordinator and worker processes on
// loopback, a tiny real experiment, Debian's headless Chromium driven by
// playwright-core. Run by ctest (webui_browser_test), which sets:
//   NEPHRON_BINARY, NEPHRON_COORDINATOR, NEPHRON_WORKER  the built programs
//   NEPHRON_NODE_MODULES                                  where playwright-core was installed
//   NEPHRON_ARTIFACTS                                     screenshots go here
//   CHROMIUM (optional)                                   default /usr/bin/chromium
// Exits 77 (ctest: skipped) when there is no Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this test through ctest)`);
  return v;
};
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or run deploy/install-deps.sh)`);
  process.exit(77);
}
const require = createRequire(path.join(env('NEPHRON_NODE_MODULES'), 'noop.js'));
const { chromium } = require('playwright-core');

const ARTIFACTS = env('NEPHRON_ARTIFACTS');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nephron_browser_'));
const children = [];
let browser, http, token, coordinatorArgs, coordinator;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, pred, seconds) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${seconds} s waiting for ${what}\n${daemonLogs()}`);
    await sleep(250);
  }
}

function daemonLogs() {
  let s = '';
  for (const f of fs.readdirSync(root).filter((f) => f.endsWith('.log')))
    s += `--- ${f} ---\n${fs.readFileSync(path.join(root, f), 'utf8').split('\n').slice(-30).join('\n')}\n`;
  return s;
}

function startDaemon(argv, logName) {
  const out = fs.openSync(path.join(root, logName), 'w');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
  children.push(child);
  return child;
}

async function apiCall(method, p, body) {
  const res = await fetch(`http://${http}${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function spec(name, epochs) {
  return [
    `name: ${name}`,
    'dataset:',
    `  root: ${JSON.stringify(path.join(root, 'data'))}`,
    '  test_cases: [case_00006]',
    'plan:',
    '  num_folds: 2',
    '  patch_size: [16, 32, 32]',
    '  batch_size: 2',
    '  base_features: 8',
    '  max_features: 32',
    'train:',
    `  epochs: ${epochs}`,
    '  iterations_per_epoch: 6',
    '  val_iterations: 2',
    '  checkpoint_every: 1',
    '  augmentation: false',
    'inference:',
    '  tta: false',
    '',
  ].join('\n');
}

async function newPage(withToken) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(String(e)); });
  page.on('dialog', (d) => d.accept());
  if (withToken) await page.goto(`http://${http}/#token=${token}`);
  return page;
}

async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

before(async () => {
  execFileSync(env('NEPHRON_BINARY'), ['synth', '--out', path.join(root, 'data'), '--cases', '7', '--seed', '5',
    '--size', 'tiny'], { stdio: 'pipe' });
  const ready = path.join(root, 'ready.json');
  coordinatorArgs = (zmq, web) => [env('NEPHRON_COORDINATOR'), '--db', path.join(root, 'nephron.db'), '--bind', zmq,
    '--http', web, '--data-root', root, '--ready-file', ready, '--heartbeat-ms', '300'];
  coordinator = startDaemon(coordinatorArgs('tcp://127.0.0.1:0', '127.0.0.1:0'), 'coordinator.log');
  await waitFor('the coordinator', () => fs.existsSync(ready), 30);
  const info = JSON.parse(fs.readFileSync(ready, 'utf8'));
  http = info.http;
  coordinatorArgs = coordinatorArgs.bind(null, info.zmq, info.http);  // a restart keeps both ports
  token = fs.readFileSync(info.token_file, 'utf8').trim();
  for (const name of ['w1', 'w2'])
    startDaemon([env('NEPHRON_WORKER'), '--coordinator', info.zmq, '--name', name, '--threads', '1',
      '--engine', env('NEPHRON_BINARY')], `${name}.log`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

after(async () => {
  if (browser) await browser.close();
  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (!process.exitCode) fs.rmSync(root, { recursive: true, force: true });
});

test('an experiment runs to the end live: tasks, curves, results, previews, workers, logs', { timeout: 420_000 }, async () => {
  const { id } = await apiCall('POST', '/api/experiments', { spec: spec('browser-run', 6), source: 'browser.yaml' });
  const page = await newPage(true);

  // Experiments list: the new experiment appears.
  await page.goto(`http://${http}/#/`);
  const row = page.locator(`#experiments tr[data-id="${id}"]`);
  await row.waitFor({ timeout: 20_000 });
  assert.match(await row.innerText(), /browser-run/);
  await waitFor('the live indicator', async () => (await page.locator('#live').innerText()) === 'live', 20);

  // One experiment: every task of the graph, by stage.
  await row.locator('a').click();
  await page.waitForSelector('#task-graph .task');
  const detail = await apiCall('GET', `/api/experiments/${id}`);
  assert.equal(await page.locator('#task-graph .task').count(), detail.tasks.length);
  for (const stage of ['fingerprint', 'plan', 'preprocess', 'train', 'validate', 'crossval', 'predict', 'evaluate'])
    assert.equal(await page.locator(`.stage[data-stage="${stage}"]`).count(), 1, stage);
  assert.equal(await page.locator('.stage[data-stage="train"] .task').count(), 2);
  const firstStates = await page.locator('#task-graph .task').evaluateAll((els) => els.map((e) => e.dataset.state));
  assert.ok(firstStates.some((s) => s !== 'succeeded'), 'a fresh experiment has unfinished tasks');

  // Everything turns succeeded without a reload: a marker on the window survives.
  await page.evaluate(() => { window.__noReload = 'still here'; });
  const seen = new Set();
  await waitFor('every task to succeed on the page', async () => {
    const states = await page.locator('#task-graph .task').evaluateAll((els) => els.map((e) => e.dataset.state));
    states.forEach((s) => seen.add(s));
    return states.length === detail.tasks.length && states.every((s) => s === 'succeeded');
  }, 360);
  assert.equal(await page.evaluate(() => window.__noReload), 'still here');
  assert.ok(seen.has('running') || seen.has('pending'), `saw states ${[...seen]}`);
  await page.locator('.title-row [data-state="succeeded"]').waitFor({ timeout: 20_000 });

  // Curves: every chart has data points, and its canvas has ink.
  await page.waitForSelector('.chart[data-chart="loss"] canvas');
  await waitFor('metric points on every chart', async () => {
    const points = await page.locator('.chart').evaluateAll((els) => els.map((e) => Number(e.dataset.points)));
    return points.length === 4 && points.every((n) => n > 0);
  }, 30);
  const metrics = await apiCall('GET', `/api/experiments/${id}/metrics`);
  assert.equal(metrics.length, 2 * 6, 'one row per fold and epoch');
  assert.equal(Number(await page.locator('.chart[data-chart="loss"]').getAttribute('data-points')), 2 * 2 * 6);
  const inked = await page.locator('.chart[data-chart="dice"] canvas').evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;
    return n;
  });
  assert.ok(inked > 200, `the Dice chart drew ${inked} coloured pixels`);

  // Results and previews.
  await page.locator('#cv-table').waitFor({ timeout: 20_000 });
  assert.match(await page.locator('#cv-table').innerText(), /fold 0[\s\S]*fold 1/);
  await page.locator('#test-table').waitFor();
  assert.match(await page.locator('#test-table').innerText(), /case_00006/);
  await page.locator('#previews img').first().waitFor({ timeout: 20_000 });
  await waitFor('a preview image to load', () => page.locator('#previews img').first()
    .evaluate((img) => img.complete && img.naturalWidth > 0), 20);
  await shot(page, 'experiment');

  // Workers: both, with the tasks they did.
  await page.locator('nav a[data-nav="workers"]').click();
  await page.locator('#workers tr[data-worker="w1"]').waitFor();
  assert.equal(await page.locator('#workers tr[data-worker]').count(), 2);
  const done = await page.locator('#workers tr[data-worker] td[data-col="done"]').allInnerTexts();
  // Local workers see the coordinator's data root: they use its files directly.
  assert.deepEqual(await page.locator('#workers tr[data-worker] td[data-col="files"]').allInnerTexts(),
    ['shared', 'shared']);
  assert.equal(done.map(Number).reduce((a, b) => a + b, 0), detail.tasks.length);
  await shot(page, 'workers');

  // A task's log.
  const train = detail.tasks.find((t) => t.kind === 'train');
  await page.goto(`http://${http}/#/tasks/${train.id}`);
  await waitFor('log lines', async () => (await page.locator('#log').innerText()).includes('epoch'), 20);
  assert.match(await page.locator('#line-count').innerText(), /^\d+ lines shown/);
  await shot(page, 'log');
  // A flood of lines stays bounded: the page keeps the newest 5000.
  const flood = await page.evaluate(() => {
    const v = window.nephron.view();
    const t0 = performance.now();
    for (let b = 0; b < 40; b++)
      v.append(Array.from({ length: 500 }, (_, i) => ({ attempt: 1, line: `flood ${b * 500 + i}` })));
    return { ms: performance.now() - t0, text: document.getElementById('log').textContent };
  });
  const kept = flood.text.split('\n').filter((l) => l.startsWith('flood '));
  assert.ok(kept.length <= 5000 && kept.length >= 4500, `${kept.length} flood lines kept`);
  assert.equal(kept[kept.length - 1], 'flood 19999');
  assert.ok(flood.ms < 5000, `appending 20 000 lines took ${flood.ms} ms`);
  assert.match(await page.locator('#line-count').innerText(), /older lines dropped/);

  await page.goto(`http://${http}/#/`);
  await page.locator(`#experiments tr[data-id="${id}"] [data-state="succeeded"]`).waitFor();
  await shot(page, 'experiments');
  assert.deepEqual(page.errors || [], []);
});

test('cancel through the button needs the token', { timeout: 240_000 }, async () => {
  const { id } = await apiCall('POST', '/api/experiments', { spec: spec('browser-cancel', 500), source: 'long.yaml' });
  const page = await newPage(false);
  await page.goto(`http://${http}/#/experiments/${id}`);
  await page.locator('.stage[data-stage="train"] .task[data-state="running"]').first().waitFor({ timeout: 180_000 });

  // The coordinator dies (kill -9) and comes back on the same ports: the
  // page says so and resumes by itself, without a reload.
  await page.evaluate(() => { window.__noReload = 'still here'; });
  coordinator.kill('SIGKILL');
  await waitFor('the page to notice', async () => (await page.locator('#live').innerText()) !== 'live', 20);
  fs.rmSync(path.join(root, 'ready.json'), { force: true });
  coordinator = startDaemon(coordinatorArgs(), 'coordinator-2.log');
  await waitFor('the page to reconnect', async () => (await page.locator('#live').innerText()) === 'live', 30);
  assert.equal(await page.evaluate(() => window.__noReload), 'still here');
  await page.locator('.stage[data-stage="train"] .task[data-state="running"]').first().waitFor({ timeout: 60_000 });

  // Without a token: refused, nothing changes.
  await page.locator('#cancel-experiment').click();
  await page.locator('#flash.error').waitFor();
  assert.match(await page.locator('#flash').innerText(), /refused.*(missing bearer token|401)/i);
  assert.equal((await apiCall('GET', `/api/experiments/${id}`)).state, 'running');
  await shot(page, 'cancel-refused');

  // With the token (the dialog), the same button cancels.
  await page.locator('#token-button').click();
  await page.locator('#token-input').fill(token);
  await page.locator('#token-save').click();
  await page.locator('#cancel-experiment:not([disabled])').click();
  await page.locator('.title-row [data-state="cancelled"]').waitFor({ timeout: 20_000 });
  assert.equal((await apiCall('GET', `/api/experiments/${id}`)).state, 'cancelled');
  await waitFor('running tasks to stop', async () =>
    (await apiCall('GET', `/api/experiments/${id}`)).tasks.every((t) => t.state !== 'running'), 30);
  await shot(page, 'cancelled');

  // Retry on a cancelled training resumes the experiment (from its checkpoint).
  const train0 = (await apiCall('GET', `/api/experiments/${id}`)).tasks.find((t) => t.name === 'train fold 0');
  await page.locator(`[data-retry="${train0.id}"]`).click();
  await waitFor('the experiment to run again', async () =>
    (await apiCall('GET', `/api/experiments/${id}`)).state === 'running', 20);
  await page.locator('.title-row [data-state="running"]').waitFor({ timeout: 20_000 });
  await apiCall('POST', `/api/experiments/${id}/cancel`);
  await page.locator('.title-row [data-state="cancelled"]').waitFor({ timeout: 20_000 });
  assert.deepEqual(page.errors || [], []);
});
