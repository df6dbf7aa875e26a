// Nephron's web UI: experiments, one experiment (task graph, curves, results,
// previews), workers, task logs. Data comes from the JSON API (/api/...);
// /api/events (server-sent events) says what changed, and the open view
// re-reads just that. No reloads, no polling while the stream is up.
'use strict';

const TOKEN_KEY = 'nephron.token';
const STAGES = [
  ['fingerprint', 'Fingerprint'], ['plan', 'Plan'], ['preprocess', 'Preprocess'], ['train', 'Train'],
  ['validate', 'Validate'], ['crossval', 'Cross-validation'], ['predict', 'Predict'], ['evaluate', 'Evaluate'],
];
const LOG_LINES_KEPT = 5000;   // lines in the log view; older ones are dropped from the page
const LOG_PAGE = 2000;         // lines per request while catching up

// ---- small helpers -------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

function fmtDuration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  s = Math.max(0, Math.round(s));
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), ss = s % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(ss).padStart(2, '0')}s`;
  return `${ss}s`;
}

function fmtDice(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '–';
}

function fmtTime(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  const today = new Date();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return d.toDateString() === today.toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

function badge(state) {
  return h('span', { class: `badge state-${state}`, dataset: { state } }, state);
}

function progressBar(fraction, label) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100);
  return h('div', { class: 'progress', title: label || `${pct}%` },
    h('div', { class: 'progress-fill', style: `width:${pct}%` }),
    h('span', { class: 'progress-label' }, label || `${pct}%`));
}

// Runs fn at most once per `ms`, never two at a time; calls during a run or
// the quiet period are merged into one more run.
function throttled(fn, ms) {
  let running = false, pending = false, last = 0, timer = null;
  const run = async () => {
    timer = null;
    if (running) { pending = true; return; }
    running = true; pending = false; last = Date.now();
    try { await fn(); } catch (e) { showError(e); }
    running = false;
    if (pending) schedule();
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  schedule.cancel = () => { clearTimeout(timer); timer = null; pending = false; };
  return schedule;
}

// ---- API -----------------------------------------------------------------

function token() { return localStorage.getItem(TOKEN_KEY) || ''; }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const res = await fetch(path, Object.assign({}, options, { headers }));
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) {
    let msg = (body && body.error) || `HTTP ${res.status}`;
    if (res.status === 401) msg += ' — set the bearer token (Token button, top right)';
    throw new ApiError(res.status, msg);
  }
  return body;
}

function fileUrl(experimentId, path) {
  const q = token() ? `?access_token=${encodeURIComponent(token())}` : '';
  return `/api/experiments/${experimentId}/files/${path.split('/').map(encodeURIComponent).join('/')}${q}`;
}

// ---- flash messages ------------------------------------------------------

let flashTimer = null;
function flash(message, kind) {
  const el = document.getElementById('flash');
  el.textContent = message;
  el.className = `flash ${kind || 'info'}`;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 12000 : 5000);
}
function showError(e) { flash(e && e.message ? e.message : String(e), 'error'); }

async function act(button, what, fn) {
  button.disabled = true;
  try {
    await fn();
    flash(`${what}: done`, 'ok');
  } catch (e) {
    flash(`${what} refused: ${e.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

// ---- views ---------------------------------------------------------------

class ExperimentsView {
  constructor(root) {
    this.root = root;
    this.refresh = throttled(() => this.load(), 1000);
    this.table = h('tbody');
    root.append(
      h('div', { class: 'view-head' }, h('h1', {}, 'Experiments'),
        h('span', { class: 'muted', id: 'exp-count' })),
      h('table', { class: 'grid', id: 'experiments' },
        h('thead', {}, h('tr', {}, ['#', 'Name', 'State', 'Progress', 'Elapsed', 'Best CV Dice', 'Submitted']
          .map((t) => h('th', {}, t)))),
        this.table),
      h('p', { class: 'muted hint' }, 'Submit with ', h('code', {}, 'nephron submit spec.yaml'),
        ' or POST /api/experiments; this page follows every change live.'));
    this.refresh();
  }

  onChange(c) {
    if (c.reset || c.experiments.length) this.refresh();
  }

  async load() {
    const exps = await api('/api/experiments');
    document.getElementById('exp-count').textContent = `${exps.length} experiment${exps.length === 1 ? '' : 's'}`;
    this.table.replaceChildren(...exps.map((e) => h('tr', { dataset: { id: e.id } },
      h('td', { class: 'num' }, e.id),
      h('td', {}, h('a', { href: `#/experiments/${e.id}` }, e.name)),
      h('td', {}, badge(e.state)),
      h('td', { class: 'wide' }, progressBar(e.progress, `${e.tasks_done}/${e.tasks_total} tasks`)),
      h('td', { class: 'num' }, fmtDuration(e.elapsed_s)),
      h('td', { class: 'num' }, fmtDice(e.best_cv_dice)),
      h('td', {}, fmtTime(e.created_ms)))));
    if (!exps.length)
      this.table.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No experiments yet.')));
  }

  destroy() { this.refresh.cancel(); }
}

class ExperimentView {
  constructor(root, id) {
    this.root = root;
    this.id = id;
    this.taskIds = new Set();
    this.head = h('div', { class: 'exp-head' });
    this.graph = h('div', { class: 'task-graph', id: 'task-graph' });
    this.chartBox = h('div', { class: 'charts', id: 'charts' });
    this.results = h('div', { id: 'results' });
    this.previews = h('div', { class: 'previews', id: 'previews' });
    this.events = h('ol', { class: 'events', id: 'events', reversed: true });
    root.append(this.head,
      h('section', {}, h('h2', {}, 'Tasks'), this.graph),
      h('section', {}, h('h2', {}, 'Training curves ',
        h('span', { class: 'muted small' }, 'solid: train loss / EMA pseudo Dice; dashed: validation loss; dotted: Dice per class')),
      this.chartBox),
      h('section', {}, h('h2', {}, 'Results'), this.results),
      h('section', {}, h('h2', {}, 'Segmentation previews'), this.previews),
      h('section', {}, h('h2', {}, 'Events'), this.events));
    this.charts = new NephronCharts.Panel(this.chartBox);
    this.refreshDetail = throttled(() => this.loadDetail(), 700);
    this.refreshMetrics = throttled(() => this.loadMetrics(), 1500);
    this.refreshArtifacts = throttled(() => this.loadArtifacts(), 3000);
    this.refreshDetail();
    this.refreshMetrics();
    this.refreshArtifacts();
  }

  onChange(c) {
    if (c.reset) {
      this.refreshDetail(); this.refreshMetrics(); this.refreshArtifacts();
      return;
    }
    if (c.experiments.includes(this.id)) this.refreshDetail();
    if (c.metrics.includes(this.id)) this.refreshMetrics();
    if (c.experiments.includes(this.id) && this.state !== 'running') this.refreshArtifacts();
  }

  async loadDetail() {
    let e;
    try {
      e = await api(`/api/experiments/${this.id}`);
    } catch (err) {
      if (err.status === 404) {
        this.head.replaceChildren(h('h1', {}, `Experiment ${this.id}`), h('p', { class: 'error' }, err.message));
        return;
      }
      throw err;
    }
    const wasRunning = this.state === 'running';
    this.state = e.state;
    if (wasRunning && e.state !== 'running') this.refreshArtifacts();
    this.taskIds = new Set(e.tasks.map((t) => t.id));
    this.renderHead(e);
    this.renderGraph(e.tasks);
    this.renderResults(e.results);
    this.events.replaceChildren(...e.events.slice().reverse().slice(0, 60).map((ev) =>
      h('li', {}, h('time', {}, fmtTime(ev.ts_ms)), ' ', ev.text)));
  }

  renderHead(e) {
    const active = e.state === 'pending' || e.state === 'running';
    const cancel = h('button', { class: 'danger', id: 'cancel-experiment', disabled: !active }, 'Cancel experiment');
    cancel.addEventListener('click', () => {
      if (!confirm(`Cancel experiment ${e.id} (${e.name})? Running tasks are stopped; they can be retried later.`)) return;
      act(cancel, 'Cancel', async () => {
        await api(`/api/experiments/${e.id}/cancel`, { method: 'POST' });
        this.refreshDetail();
      });
    });
    this.head.replaceChildren(
      h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / ', `#${e.id}`),
      h('div', { class: 'title-row' },
        h('h1', {}, e.name), badge(e.state), h('span', { class: 'spacer' }), cancel),
      h('div', { class: 'stats' },
        h('div', { class: 'stat wide' }, h('label', {}, 'Progress'),
          progressBar(e.progress, `${e.tasks_done}/${e.tasks_total} tasks · ${Math.round(e.progress * 100)}%`)),
        h('div', { class: 'stat' }, h('label', {}, 'Elapsed'), h('b', {}, fmtDuration(e.elapsed_s))),
        h('div', { class: 'stat' }, h('label', {}, 'Running'), h('b', {}, String(e.tasks_running))),
        h('div', { class: 'stat' }, h('label', {}, 'Failed'), h('b', {}, String(e.tasks_failed))),
        h('div', { class: 'stat' }, h('label', {}, 'Best CV Dice (EMA)'), h('b', {}, fmtDice(e.best_cv_dice))),
        h('div', { class: 'stat' }, h('label', {}, 'Folder'), h('code', { class: 'small' }, e.dir || '–'))));
    if (e.error) this.head.appendChild(h('p', { class: 'error', id: 'experiment-error' }, e.error));
  }

  renderGraph(tasks) {
    const byKind = new Map();
    for (const t of tasks) {
      if (!byKind.has(t.kind)) byKind.set(t.kind, []);
      byKind.get(t.kind).push(t);
    }
    const known = new Set(STAGES.map((s) => s[0]));
    const stages = STAGES.filter(([k]) => byKind.has(k));
    for (const k of byKind.keys()) if (!known.has(k)) stages.push([k, k]);
    this.graph.replaceChildren(...stages.map(([kind, title]) => h('div', { class: 'stage', dataset: { stage: kind } },
      h('h3', {}, title),
      ...byKind.get(kind).map((t) => this.taskCard(t)))));
  }

  taskCard(t) {
    const retryable = t.state === 'failed' || t.state === 'cancelled';
    const retry = retryable ? h('button', { class: 'small-button', dataset: { retry: t.id } }, 'Retry') : null;
    if (retry) retry.addEventListener('click', () => act(retry, `Retry ${t.name}`, async () => {
      await api(`/api/tasks/${t.id}/retry`, { method: 'POST' });
      this.refreshDetail();
    }));
    const meta = [];
    if (t.attempt) meta.push(`attempt ${t.attempt}/${t.max_attempts}`);
    if (t.worker) meta.push(t.worker);
    if (t.started_ms) {
      const end = t.finished_ms || Date.now();
      meta.push(fmtDuration((end - t.started_ms) / 1000));
    }
    const fraction = t.state === 'succeeded' ? 1 : t.progress;
    return h('div', { class: `task state-${t.state}`, dataset: { task: t.id, state: t.state } },
      h('div', { class: 'task-title' }, h('a', { href: `#/tasks/${t.id}`, title: `${t.name}: log` }, t.name)),
      h('div', { class: 'task-meta muted' }, badge(t.state), ' ', meta.join(' · ') || 'waiting'),
      t.state === 'running' || t.state === 'succeeded'
        ? progressBar(fraction, t.state === 'running' && t.progress_message ? t.progress_message : null) : null,
      t.error ? h('div', { class: 'task-error', title: t.error }, t.error) : null,
      retry);
  }

  renderResults(r) {
    if (!r) {
      this.results.replaceChildren(h('p', { class: 'muted' },
        'Cross-validation and test results appear here when validation and evaluation have run.'));
      return;
    }
    const row = (label, x, extra, cls) => h('tr', { class: cls }, h('td', {}, label), h('td', { class: 'num' }, fmtDice(x.kidney_dice)),
      h('td', { class: 'num' }, fmtDice(x.tumor_dice)), h('td', { class: 'num' }, fmtDice(x.composite)),
      h('td', { class: 'num' }, extra === undefined ? '' : String(extra)));
    const head = (first) => h('thead', {}, h('tr', {}, [first, 'Kidney Dice', 'Tumour Dice', 'Composite', 'Cases']
      .map((t) => h('th', {}, t))));
    const cv = h('table', { class: 'grid compact', id: 'cv-table' }, head('Cross-validation'),
      h('tbody', {}, ...(r.folds || []).map((f) => row(`fold ${f.fold}`, f, f.cases)),
        r.cv ? row('pooled (postprocessed)', r.cv, '', 'total') : null));
    const tables = [cv];
    if ((r.cases || []).length) {
      tables.push(h('table', { class: 'grid compact', id: 'test-table' }, head('Test case'),
        h('tbody', {}, ...r.cases.map((c) => row(c.id, c)),
          row('mean (KiTS19 composite)', r, r.cases.length, 'total'))));
    }
    this.results.replaceChildren(h('div', { class: 'result-tables' }, ...tables));
  }

  async loadMetrics() {
    const rows = await api(`/api/experiments/${this.id}/metrics`);
    if (!rows.length) {
      if (!this.chartBox.querySelector('.chart'))
        this.chartBox.replaceChildren(h('p', { class: 'muted', id: 'no-curves' }, 'No training epochs yet.'));
      return;
    }
    const placeholder = this.chartBox.querySelector('#no-curves');
    if (placeholder) placeholder.remove();
    this.charts.update(rows);
  }

  async loadArtifacts() {
    const files = await api(`/api/experiments/${this.id}/artifacts`);
    const pngs = files.filter((f) => f.path.endsWith('.png'));
    // Test-set previews first (the ensemble's), then each fold's validation previews.
    pngs.sort((a, b) => (a.path.startsWith('predictions/') ? 0 : 1) - (b.path.startsWith('predictions/') ? 0 : 1) ||
      a.path.localeCompare(b.path));
    if (!pngs.length) {
      this.previews.replaceChildren(h('p', { class: 'muted' }, 'Evaluation writes one axial slice per case here ' +
        '(prediction and ground truth: kidney red, tumour green).'));
      return;
    }
    this.previews.replaceChildren(...pngs.slice(0, 48).map((f) => h('figure', {},
      h('a', { href: fileUrl(this.id, f.path), target: '_blank' },
        h('img', { src: fileUrl(this.id, f.path), alt: f.path, loading: 'lazy' })),
      h('figcaption', {}, f.path))));
  }

  destroy() {
    this.refreshDetail.cancel(); this.refreshMetrics.cancel(); this.refreshArtifacts.cancel();
    this.charts.destroy();
  }
}

const FILES_HINT = {
  shared: "reads and writes the coordinator's data root directly (same file system)",
  fetch: 'fetches task inputs and uploads outputs over the coordinator link, cached locally',
};

class WorkersView {
  constructor(root) {
    this.table = h('tbody');
    root.append(h('div', { class: 'view-head' }, h('h1', {}, 'Workers')),
      h('table', { class: 'grid', id: 'workers' },
        h('thead', {}, h('tr', {}, ['Name', 'Host', 'Device', 'Key', 'Files', 'State', 'Current task', 'Last heartbeat',
          'Tasks done', 'Throughput', 'Threads', ''].map((t, i) => h('th', { class: i >= 7 && i <= 10 ? 'num' : null }, t)))),
        this.table),
      h('p', { class: 'muted hint' }, 'Add a worker on any machine: ',
        h('code', {}, 'nephron-worker --coordinator tcp://HOST:5555'), '. Draining lets its current task finish, then it takes no more.'));
    this.refresh = throttled(() => this.load(), 1000);
    this.refresh();
    // Heartbeat ages move on their own.
    this.timer = setInterval(() => this.refresh(), 5000);
  }

  onChange(c) {
    if (c.reset || c.workers) this.refresh();
  }

  async load() {
    const workers = await api('/api/workers');
    const now = Date.now();
    this.table.replaceChildren(...workers.map((w) => {
      const drain = h('button', { class: 'small-button', disabled: w.draining || w.state === 'lost', dataset: { drain: w.name } },
        w.draining ? 'Draining' : 'Drain');
      drain.addEventListener('click', () => {
        if (!confirm(`Drain worker ${w.name}? It finishes its current task and takes no more.`)) return;
        act(drain, `Drain ${w.name}`, async () => {
          await api(`/api/workers/${encodeURIComponent(w.name)}/drain`, { method: 'POST' });
          this.refresh();
        });
      });
      // Tasks per hour since it registered; meaningless in the first minutes.
      const hours = w.registered_ms ? (now - w.registered_ms) / 3.6e6 : 0;
      const perHour = hours > 0.05 ? `${(w.tasks_done / hours).toFixed(1)} tasks/h` : '–';
      return h('tr', { dataset: { worker: w.name } },
        h('td', {}, w.name), h('td', {}, w.host), h('td', {}, w.device),
        h('td', { title: 'CURVE key it authenticated with' }, w.key || h('span', { class: 'muted' }, 'none')),
        h('td', { dataset: { col: 'files' }, title: FILES_HINT[w.files] || 'not known until it is welcomed' },
          w.files || h('span', { class: 'muted' }, '–')),
        h('td', {}, badge(w.state), w.draining ? h('span', { class: 'muted' }, ' draining') : null),
        h('td', {}, w.task ? h('a', { href: `#/tasks/${w.task}` }, `task ${w.task}`) : '–'),
        h('td', { class: 'num' }, w.heartbeat_age_s === null ? '–' : `${fmtDuration(w.heartbeat_age_s)} ago`),
        h('td', { class: 'num', dataset: { col: 'done' } }, String(w.tasks_done)),
        h('td', { class: 'num' }, perHour),
        h('td', { class: 'num' }, String(w.threads)),
        h('td', {}, drain));
    }));
    if (!workers.length)
      this.table.replaceChildren(h('tr', {}, h('td', { colspan: 12, class: 'muted' }, 'No worker has registered yet.')));
  }

  destroy() { this.refresh.cancel(); clearInterval(this.timer); }
}

class LogView {
  constructor(root, id) {
    this.id = id;
    this.next = 0;
    this.kept = 0;
    this.dropped = 0;
    this.head = h('div', { class: 'exp-head' });
    this.follow = h('input', { type: 'checkbox', checked: true, id: 'follow' });
    this.count = h('span', { class: 'muted', id: 'line-count' });
    this.pre = h('pre', { class: 'log', id: 'log' });
    root.append(this.head,
      h('div', { class: 'log-tools' }, h('label', {}, this.follow, ' follow'), this.count),
      this.pre);
    this.refresh = throttled(() => this.load(), 500);
    this.refresh();
  }

  onChange(c) {
    if (c.reset || c.logs.includes(this.id) || c.tasks.includes(this.id)) this.refresh();
  }

  async load() {
    const t = await api(`/api/tasks/${this.id}`);
    this.head.replaceChildren(
      h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Experiments'), ' / ',
        h('a', { href: `#/experiments/${t.experiment_id}` }, `#${t.experiment_id}`), ' / ', t.name),
      h('div', { class: 'title-row' }, h('h1', {}, `Log: ${t.name}`), badge(t.state),
        h('span', { class: 'muted' }, t.attempt ? ` attempt ${t.attempt}` : '', t.worker ? ` on ${t.worker}` : '')));
    // Catch up page by page, then wait for the next change event.
    for (let pages = 0; pages < 20; pages++) {
      const page = await api(`/api/tasks/${this.id}/log?after=${this.next}&limit=${LOG_PAGE}`);
      if (page.lines.length) this.append(page.lines);
      this.next = page.next;
      if (page.lines.length < LOG_PAGE) break;
    }
  }

  append(lines) {
    const chunk = h('span', { dataset: { lines: lines.length } },
      lines.map((l) => `${l.attempt > 1 ? `[${l.attempt}] ` : ''}${l.line}\n`).join(''));
    this.pre.appendChild(chunk);
    this.kept += lines.length;
    while (this.kept > LOG_LINES_KEPT && this.pre.firstChild) {
      const n = Number(this.pre.firstChild.dataset.lines || 0);
      this.pre.firstChild.remove();
      this.kept -= n;
      this.dropped += n;
    }
    this.count.textContent = `${this.kept} lines shown` + (this.dropped ? `, ${this.dropped} older lines dropped from the page` : '');
    if (this.follow.checked) this.pre.scrollTop = this.pre.scrollHeight;
  }

  destroy() { this.refresh.cancel(); }
}

// ---- router, live updates, token ----------------------------------------

let view = null;

function route() {
  const root = document.getElementById('view');
  if (view && view.destroy) view.destroy();
  root.replaceChildren();
  const hash = location.hash || '#/';
  let m;
  if ((m = hash.match(/^#\/experiments\/(\d+)$/))) view = new ExperimentView(root, Number(m[1]));
  else if ((m = hash.match(/^#\/tasks\/(\d+)$/))) view = new LogView(root, Number(m[1]));
  else if (hash === '#/workers') view = new WorkersView(root);
  else view = new ExperimentsView(root);
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', (a.dataset.nav === 'workers') === (hash === '#/workers'));
}

let source = null;
function connect() {
  const live = document.getElementById('live');
  const q = token() ? `?access_token=${encodeURIComponent(token())}` : '';
  source = new EventSource(`/api/events${q}`);
  source.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  source.addEventListener('change', (ev) => {
    const change = JSON.parse(ev.data);
    document.body.dataset.seq = String(change.seq);
    if (view && view.onChange) view.onChange(change);
  });
  source.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
    // The browser retries by itself unless the server refused the stream.
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      setTimeout(connect, 3000);
    }
  });
}

function setUpToken() {
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  const button = document.getElementById('token-button');
  const show = () => { button.textContent = token() ? 'Token ✓' : 'Set token'; };
  button.addEventListener('click', () => { input.value = token(); dialog.showModal(); });
  document.getElementById('token-save').addEventListener('click', () => {
    localStorage.setItem(TOKEN_KEY, input.value.trim());
    dialog.close(); show(); reconnect();
  });
  document.getElementById('token-forget').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    dialog.close(); show(); reconnect();
  });
  document.getElementById('token-cancel').addEventListener('click', () => dialog.close());
  show();
}

function reconnect() {
  if (source) source.close();
  connect();
  route();
}

// `nephron local` prints the URL with #token=...: keep it, then drop it from
// the address bar (fragments never reach the server).
const fromUrl = location.hash.match(/^#token=([0-9A-Za-z]+)/);
if (fromUrl) {
  localStorage.setItem(TOKEN_KEY, fromUrl[1]);
  history.replaceState(null, '', '#/');
}
setUpToken();
// For tests and the browser console: the open view and the event stream.
window.nephron = { view: () => view, source: () => source };
window.addEventListener('hashchange', route);
route();
connect();
