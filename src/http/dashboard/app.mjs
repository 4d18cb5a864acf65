// Tidemark dashboard: plain DOM, no dependencies. Runs under `script-src 'self'` (no inline code, no eval) and
// builds every element with createElement, so no server text is ever parsed as HTML.

const KEY_STORAGE = 'tidemark.apiKey';
const POLL_MS = 2000;
const main = document.getElementById('main');
const who = document.getElementById('who');
const signOut = document.getElementById('sign-out');
const status = document.getElementById('status');

const state = { caller: null, skewMs: 0, timer: null, view: null };

/** Builds an element: h('a', { href: '#/' }, 'text', child). Attributes starting with "on" become listeners. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Calls the API with the stored key; `etag` makes it conditional (answers { notModified: true } on 304). */
async function api(path, { method = 'GET', body, etag } = {}) {
  const headers = { accept: 'application/json' };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.authorization = `Bearer ${key}`;
  if (etag) headers['if-none-match'] = etag;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const date = response.headers.get('date');
  if (date) state.skewMs = Date.parse(date) - Date.now();
  if (response.status === 304) return { notModified: true, etag };
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, json);
  return { json, etag: response.headers.get('etag') };
}

function announce(text) {
  status.textContent = text;
}

const can = (scope) => Boolean(state.caller?.scopes.includes(scope));
const integrationHref = (i) => `#/integrations/${i.sourceSystemId}/${encodeURIComponent(i.integrationName)}`;
const apiPath = (sourceSystemId, name) => `/integrations/${sourceSystemId}/${encodeURIComponent(name)}`;
const serverNow = () => Date.now() + state.skewMs;

/** Milliseconds of a .NET "O" UTC text (7 fractional digits: JS dates keep 3). */
function utcMs(text) {
  return text ? Date.parse(text.replace(/(\.\d{3})\d*/, '$1')) : NaN;
}

function age(ms) {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function inZone(iso, timeZone) {
  if (!iso) return '—';
  try {
    const text = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: 'short',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    }).format(new Date(iso));
    return text;
  } catch {
    return iso;
  }
}

function badge(text) {
  return h('span', { class: `badge ${text}` }, text.replace(/_/g, ' '));
}

function watermark(w) {
  if (!w || w.maxSyncDateTime === null) return h('span', { class: 'muted' }, 'none yet');
  return h(
    'div',
    { class: 'wm' },
    h('code', { title: 'MaxSyncDateTime as the upstream sent it' }, w.maxSyncDateTime),
    h('code', { title: 'UTC' }, w.maxSyncDateTimeUtc),
    h('code', { title: 'MaxSyncDateMaxPkId' }, `pk ${w.maxSyncDateMaxPkId}`),
  );
}

function ageCell(utc) {
  return h('span', { 'data-age-of': utc ?? '' }, age(serverNow() - utcMs(utc)));
}

/** Refreshes every age on the page from the clock, between polls. */
function tickAges() {
  for (const el of document.querySelectorAll('[data-age-of]')) {
    el.textContent = age(serverNow() - utcMs(el.getAttribute('data-age-of')));
  }
}

function sparkline(runs) {
  const durations = runs.filter((r) => r.durationMs !== null);
  if (durations.length === 0) return h('span', { class: 'muted' }, 'no runs');
  const width = 120;
  const height = 28;
  const max = Math.max(...durations.map((r) => r.durationMs), 1);
  const step = durations.length > 1 ? width / (durations.length - 1) : 0;
  const points = durations.map((r, i) => [i * step, height - 2 - (r.durationMs / max) * (height - 4)]);
  const label = `Durations of the last ${durations.length} runs: ${Math.min(...durations.map((r) => r.durationMs))} to ${max} ms`;
  const chart = svg(
    'svg',
    { class: 'spark', viewBox: `-2 0 ${width + 4} ${height}`, role: 'img', 'aria-label': label },
    svg('title', {}, label),
    svg('polyline', { points: points.map((p) => p.map((n) => n.toFixed(1)).join(',')).join(' ') }),
  );
  durations.forEach((r, i) => {
    if (durations.length === 1) chart.append(svg('circle', { cx: points[i][0], cy: points[i][1], r: 2.5 }));
    if (r.outcome !== 'succeeded')
      chart.append(svg('circle', { class: 'bad', cx: points[i][0], cy: points[i][1], r: 2.5 }));
  });
  return chart;
}

function problemText(error) {
  const params = error.problem?.['invalid-params'];
  if (params?.length) return params.map((p) => `${p.name}: ${p.reason}`).join('; ');
  return error.message;
}

function stopPolling() {
  clearInterval(state.timer);
  state.timer = null;
}

function poll(work) {
  stopPolling();
  let busy = false;
  state.timer = setInterval(async () => {
    tickAges();
    if (busy || document.hidden) return;
    busy = true;
    try {
      await work();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return showSignIn('The API key is no longer accepted.');
    } finally {
      busy = false;
    }
  }, POLL_MS);
}

// ---- sign-in ---------------------------------------------------------------------------------------------------

function showSignIn(message) {
  stopPolling();
  sessionStorage.removeItem(KEY_STORAGE);
  state.caller = null;
  who.textContent = '';
  signOut.hidden = true;
  const input = h('input', { id: 'api-key', name: 'apiKey', type: 'password', required: true, autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', {}, 'Paste an API key (npm run apikey makes one). It is kept in this tab only, until you close it.'),
    message ? h('p', { class: 'alert', role: 'alert' }, message) : null,
    h('label', { for: 'api-key' }, 'API key', input),
    h('p', {}, h('button', { type: 'submit' }, 'Sign in')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, input.value.trim());
    await start();
  });
  main.replaceChildren(form);
  input.focus();
}

async function start() {
  try {
    state.caller = (await api('/me')).json;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return showSignIn(sessionStorage.getItem(KEY_STORAGE) ? 'That API key is not recognised.' : null);
    }
    main.replaceChildren(h('p', { class: 'alert', role: 'alert' }, `The API did not answer: ${error.message}`));
    return;
  }
  const { name, scopes, authRequired } = state.caller;
  who.textContent = authRequired ? `Signed in as ${name} (${scopes.join(', ')})` : 'No sign-in needed';
  signOut.hidden = !authRequired;
  route();
}

signOut.addEventListener('click', () => showSignIn('Signed out.'));

// ---- integrations page -----------------------------------------------------------------------------------------

const HEALTH_ORDER = ['failing', 'stale', 'paused', 'disabled', 'fresh'];

async function showIntegrations() {
  const filters = { sourceSystemId: '', health: '', sort: 'name' };
  let items = [];
  let etag = null;
  const sourceSelect = h('select', { id: 'filter-source' }, h('option', { value: '' }, 'All'));
  const healthSelect = h(
    'select',
    { id: 'filter-health' },
    h('option', { value: '' }, 'All'),
    HEALTH_ORDER.map((x) => h('option', { value: x }, x)),
  );
  const sortSelect = h(
    'select',
    { id: 'sort' },
    h('option', { value: 'name' }, 'Source system, name'),
    h('option', { value: 'staleness' }, 'Staleness (oldest success first)'),
  );
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const table = h(
    'table',
    { class: 'responsive', 'aria-describedby': 'list-summary' },
    h('caption', { class: 'visually-hidden' }, 'Integrations'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Integration', 'Health', 'Watermark', 'Age', 'Last run', 'Next fire time', 'Run durations'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    tbody,
  );
  summary.id = 'list-summary';
  main.replaceChildren(
    h('h1', {}, 'Integrations'),
    h(
      'div',
      { class: 'filters', role: 'group', 'aria-label': 'Filter and sort' },
      h('label', {}, 'Source system', sourceSelect),
      h('label', {}, 'Health', healthSelect),
      h('label', {}, 'Sort by', sortSelect),
    ),
    summary,
    h('div', { class: 'table-wrap' }, table),
  );
  for (const [select, name] of [
    [sourceSelect, 'sourceSystemId'],
    [healthSelect, 'health'],
    [sortSelect, 'sort'],
  ]) {
    select.addEventListener('change', () => {
      filters[name] = select.value;
      render();
    });
  }

  function render() {
    const systems = [...new Set(items.map((x) => x.integration.sourceSystemId))].sort((a, b) => a - b);
    if (sourceSelect.options.length !== systems.length + 1) {
      sourceSelect.replaceChildren(
        h('option', { value: '' }, 'All'),
        ...systems.map((x) => h('option', { value: x }, x)),
      );
      sourceSelect.value = filters.sourceSystemId;
    }
    let rows = items.filter(
      (x) =>
        (filters.sourceSystemId === '' || String(x.integration.sourceSystemId) === filters.sourceSystemId) &&
        (filters.health === '' || x.health === filters.health),
    );
    if (filters.sort === 'staleness')
      rows = [...rows].sort((a, b) => Date.parse(a.staleSince) - Date.parse(b.staleSince));
    tbody.replaceChildren(...rows.map(row));
    summary.textContent = `${rows.length} of ${items.length} integrations`;
  }

  function row(x) {
    const i = x.integration;
    const last = i.lastRun;
    return h(
      'tr',
      { 'data-integration': `${i.sourceSystemId}/${i.integrationName}` },
      h(
        'td',
        { 'data-label': 'Integration' },
        h('a', { href: integrationHref(i) }, `${i.sourceSystemId} / ${i.integrationName}`),
      ),
      h(
        'td',
        { 'data-label': 'Health' },
        badge(x.health),
        x.pauseReason ? h('div', { class: 'muted' }, x.pauseReason) : null,
      ),
      h('td', { 'data-label': 'Watermark' }, watermark(i)),
      h('td', { 'data-label': 'Age' }, ageCell(i.maxSyncDateTimeUtc)),
      h(
        'td',
        { 'data-label': 'Last run' },
        last
          ? [badge(last.outcome), last.error ? h('div', { class: 'error-text' }, last.error) : null]
          : h('span', { class: 'muted' }, 'never'),
      ),
      h(
        'td',
        { 'data-label': 'Next fire time' },
        i.schedule.nextFireAt ? inZone(i.schedule.nextFireAt, i.schedule.timeZone) : '—',
      ),
      h('td', { 'data-label': 'Run durations' }, sparkline(x.recentRuns)),
    );
  }

  async function load() {
    const collected = [];
    let cursor = null;
    let first = null;
    do {
      const page = await api(`/overview?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
        etag: cursor ? undefined : etag,
      });
      if (page.notModified) return;
      if (!cursor) first = page.etag;
      collected.push(...page.json.items);
      cursor = page.json.nextCursor;
    } while (cursor);
    etag = first;
    items = collected;
    render();
  }

  await load();
  poll(load);
}

// ---- integration page ------------------------------------------------------------------------------------------

async function showIntegration(sourceSystemId, integrationName) {
  const base = apiPath(sourceSystemId, integrationName);
  let etag = null;
  const alert = h('div', { role: 'alert' });
  const head = h('div');
  const scheduleCard = h('section', { class: 'card', 'aria-labelledby': 'schedule-title' });
  const actions = h('section', { class: 'card', 'aria-labelledby': 'actions-title' });
  const history = h('section', { 'aria-labelledby': 'history-title' });
  const runs = h('section', { 'aria-labelledby': 'runs-title' });
  const audit = h('section', { 'aria-labelledby': 'audit-title' });
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, '← All integrations')),
    alert,
    head,
    h('div', { class: 'grid2' }, scheduleCard, actions),
    runs,
    history,
    audit,
  );

  function fail(error) {
    alert.replaceChildren(h('p', { class: 'alert' }, problemText(error)));
  }

  async function act(button, work, done) {
    alert.replaceChildren();
    button.disabled = true;
    try {
      await work();
      announce(done);
      await load(true);
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  }

  function renderActions(integration) {
    if (!can('operate')) {
      actions.replaceChildren(
        h('h2', { id: 'actions-title' }, 'Actions'),
        h(
          'p',
          { class: 'muted' },
          `The key "${state.caller.name}" may read only; running, pausing and resuming need the operate scope.`,
        ),
      );
      return;
    }
    const runButton = h('button', { type: 'button', id: 'run-now' }, 'Run now');
    runButton.addEventListener('click', () =>
      act(runButton, () => api(`${base}/runs`, { method: 'POST' }), 'Run finished'),
    );
    const children = [h('h2', { id: 'actions-title' }, 'Actions'), h('div', { class: 'actions' }, runButton)];
    if (integration.paused) {
      const resumeButton = h('button', { type: 'button', id: 'resume', class: 'secondary' }, 'Resume');
      resumeButton.addEventListener('click', () =>
        act(resumeButton, () => api(`${base}/resume`, { method: 'POST' }), 'Resumed'),
      );
      children[1].append(resumeButton);
    } else {
      const reason = h('textarea', { id: 'pause-reason', name: 'reason', rows: 2, required: true, maxlength: 500 });
      const until = h('input', { id: 'pause-until', name: 'until', type: 'datetime-local' });
      const pauseButton = h('button', { type: 'submit', id: 'pause', class: 'secondary' }, 'Pause');
      const form = h(
        'form',
        { 'aria-label': 'Pause scheduled runs' },
        h('label', { for: 'pause-reason' }, 'Reason (required)', reason),
        h('label', { for: 'pause-until' }, 'Resume by itself at (your local time, optional)', until),
        h('p', {}, pauseButton),
      );
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const body = { reason: reason.value };
        if (until.value) body.until = new Date(until.value).toISOString();
        void act(pauseButton, () => api(`${base}/pause`, { method: 'POST', body }), 'Paused');
      });
      children.push(form);
    }
    actions.replaceChildren(...children);
  }

  function renderHead(i) {
    head.replaceChildren(
      h('h1', {}, `${i.sourceSystemId} / ${i.integrationName}`),
      h(
        'section',
        { class: 'card', 'aria-label': 'State' },
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'State'),
          h(
            'dd',
            {},
            badge(!i.enabled ? 'disabled' : i.paused ? 'paused' : i.consecutiveFailures > 0 ? 'failing' : 'scheduled'),
          ),
          h('dt', {}, 'Watermark'),
          h('dd', { id: 'current-watermark' }, watermark(i)),
          h('dt', {}, 'Age'),
          h('dd', {}, ageCell(i.maxSyncDateTimeUtc)),
          h('dt', {}, 'Last run'),
          h('dd', {}, i.lastRun ? [badge(i.lastRun.outcome), ' ', i.lastRun.error ?? ''] : 'never'),
          h('dt', {}, 'Consecutive failures'),
          h('dd', {}, String(i.consecutiveFailures)),
        ),
      ),
    );
  }

  function renderSchedule(s) {
    scheduleCard.replaceChildren(
      h('h2', { id: 'schedule-title' }, 'Schedule'),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Cron'),
        h('dd', {}, h('code', {}, s.cron), ' — ', h('span', { id: 'cron-words' }, s.description)),
        h('dt', {}, 'Time zone'),
        h('dd', {}, s.timeZone),
        h('dt', {}, 'Misfire policy'),
        h('dd', {}, s.misfirePolicy.replace(/_/g, ' ')),
        s.pause
          ? [
              h('dt', {}, 'Paused'),
              h(
                'dd',
                { id: 'pause-info' },
                `${s.pause.reason} — by ${s.pause.pausedBy ?? 'unknown'}`,
                s.pause.until ? `, until ${inZone(s.pause.until, s.timeZone)}` : '',
              ),
            ]
          : null,
        h('dt', {}, s.paused ? 'Next fire times once resumed' : 'Next fire times'),
        h(
          'dd',
          {},
          h(
            'ol',
            { class: 'times', id: 'next-fire-times' },
            s.nextFireTimes.map((t) => h('li', {}, h('time', { datetime: t }, inZone(t, s.timeZone)))),
          ),
        ),
      ),
    );
  }

  function renderRuns(page) {
    runs.replaceChildren(
      h('h2', { id: 'runs-title' }, 'Runs'),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'responsive', id: 'runs' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Run', 'Trigger', 'Started (UTC)', 'Outcome', 'Attempts', 'HTTP', 'Error'].map((t) =>
                h('th', { scope: 'col' }, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            page.items.map((r) =>
              h(
                'tr',
                { 'data-run': r.id },
                h('td', { 'data-label': 'Run' }, r.id),
                h('td', { 'data-label': 'Trigger' }, r.trigger),
                h('td', { 'data-label': 'Started (UTC)' }, h('time', { datetime: r.startedAt }, r.startedAt)),
                h('td', { 'data-label': 'Outcome' }, badge(r.outcome)),
                h(
                  'td',
                  { 'data-label': 'Attempts' },
                  r.attempts.length === 0
                    ? '—'
                    : r.attempts.map((a) =>
                        h('div', {}, `#${a.attempt}: ${a.httpStatus ?? '—'} in ${a.durationMs} ms`),
                      ),
                ),
                h('td', { 'data-label': 'HTTP' }, r.httpStatus ?? '—'),
                h('td', { 'data-label': 'Error', class: 'error-text' }, r.error ?? ''),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function renderHistory(page) {
    history.replaceChildren(
      h('h2', { id: 'history-title' }, 'Watermark history'),
      page.items.length === 0
        ? h('p', { class: 'muted' }, 'No change yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'responsive', id: 'watermark-history' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Stored at (UTC)', 'By run', 'From', 'To'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              h(
                'tbody',
                {},
                page.items.map((c) =>
                  h(
                    'tr',
                    {},
                    h('td', { 'data-label': 'Stored at (UTC)' }, c.finishedAt),
                    h(
                      'td',
                      { 'data-label': 'By run' },
                      `${c.runId} (${c.trigger})`,
                      c.regressed ? h('div', { class: 'error-text' }, 'moved backwards') : null,
                    ),
                    h('td', { 'data-label': 'From' }, watermark(c.before)),
                    h('td', { 'data-label': 'To' }, watermark(c.after)),
                  ),
                ),
              ),
            ),
          ),
    );
  }

  function renderAudit(page) {
    audit.replaceChildren(
      h('h2', { id: 'audit-title' }, 'Audit trail'),
      page.items.length === 0
        ? h('p', { class: 'muted' }, 'No operator action yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'responsive', id: 'audit' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['When (UTC)', 'Who', 'Action', 'Reason', 'Result'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              h(
                'tbody',
                {},
                page.items.map((e) =>
                  h(
                    'tr',
                    { 'data-audit': e.id },
                    h('td', { 'data-label': 'When (UTC)' }, e.at),
                    h('td', { 'data-label': 'Who' }, e.actor),
                    h('td', { 'data-label': 'Action' }, e.action),
                    h('td', { 'data-label': 'Reason' }, e.reason ?? ''),
                    h('td', { 'data-label': 'Result' }, auditResult(e)),
                  ),
                ),
              ),
            ),
          ),
    );
  }

  async function load(force = false) {
    const current = await api(base, { etag: force ? undefined : etag });
    if (current.notModified) return;
    etag = current.etag;
    const query = `sourceSystemId=${sourceSystemId}&integrationName=${encodeURIComponent(integrationName)}&limit=20`;
    const [schedule, runPage, historyPage, auditPage] = await Promise.all([
      api(`${base}/schedule`),
      api(`${base}/runs?limit=20`),
      api(`${base}/watermarks?limit=20`),
      api(`/audit?${query}`),
    ]);
    renderHead(current.json);
    renderSchedule(schedule.json);
    renderActions(current.json);
    renderRuns(runPage.json);
    renderHistory(historyPage.json);
    renderAudit(auditPage.json);
  }

  try {
    await load(true);
  } catch (error) {
    fail(error);
    if (error instanceof ApiError && error.status === 404) return;
  }
  poll(() => load());
}

function auditResult(entry) {
  const after = entry.after ?? {};
  if (entry.action === 'run')
    return `run ${after.runId}: ${after.outcome}${after.errorCode ? ` (${after.errorCode})` : ''}`;
  if (entry.action === 'pause') return after.until ? `paused until ${after.until}` : 'paused';
  return after.nextFireAt ? `resumed; next fire ${after.nextFireAt}` : 'resumed';
}

// ---- routing ---------------------------------------------------------------------------------------------------

function route() {
  stopPolling();
  if (!state.caller) return;
  const match = /^#\/integrations\/(\d+)\/(.+)$/.exec(location.hash);
  const work = match ? showIntegration(Number(match[1]), decodeURIComponent(match[2])) : showIntegrations();
  work.catch((error) => {
    if (error instanceof ApiError && error.status === 401) return showSignIn('The API key is no longer accepted.');
    main.replaceChildren(h('p', { class: 'alert', role: 'alert' }, problemText(error)));
  });
  main.focus();
}

window.addEventListener('hashchange', route);
void start();
