// One integration's page: its state, schedule, runs, watermark history and audit trail, and (for keys with the
// operate scope) the run, pause and resume actions. After an action the page reloads unconditionally, so the
// operator sees its effect at once rather than on the next poll.
import { api, integrationPath, isNotFound, problemText } from './api.mjs';
import { h } from './dom.mjs';
import { announce, can, main, poll, session } from './page.mjs';
import { renderAudit, renderHead, renderHistory, renderRuns, renderSchedule } from './integration-sections.mjs';

const DETAIL_PAGE_SIZE = 20;

function readOnlyNotice() {
  return h(
    'p',
    { class: 'muted' },
    `The key "${session.caller.name}" may read only; running, pausing and resuming need the operate scope.`,
  );
}

/** A button that POSTs to one of the integration's action paths through `act`, then announces `done`. */
function actionButton(attrs, label, { path, done }, { base, act }) {
  const button = h('button', { type: 'button', ...attrs }, label);
  button.addEventListener('click', () => act(button, () => api(`${base}/${path}`, { method: 'POST' }), done));
  return button;
}

/** The pause form; its optional end is the operator's local time, sent as a UTC instant. */
function pauseForm({ base, act }) {
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
  return form;
}

/** Run now always; then Resume when paused, else the pause form. */
function renderActions(section, integration, actions) {
  const title = h('h2', { id: 'actions-title' }, 'Actions');
  if (!can('operate')) {
    section.replaceChildren(title, readOnlyNotice());
    return;
  }
  const runNow = actionButton({ id: 'run-now' }, 'Run now', { path: 'runs', done: 'Run finished' }, actions);
  if (integration.paused) {
    const resume = actionButton(
      { id: 'resume', class: 'secondary' },
      'Resume',
      { path: 'resume', done: 'Resumed' },
      actions,
    );
    section.replaceChildren(title, h('div', { class: 'actions' }, runNow, resume));
  } else {
    section.replaceChildren(title, h('div', { class: 'actions' }, runNow), pauseForm(actions));
  }
}

function detailSections() {
  return {
    alert: h('div', { role: 'alert' }),
    head: h('div'),
    schedule: h('section', { class: 'card', 'aria-labelledby': 'schedule-title' }),
    actions: h('section', { class: 'card', 'aria-labelledby': 'actions-title' }),
    history: h('section', { 'aria-labelledby': 'history-title' }),
    runs: h('section', { 'aria-labelledby': 'runs-title' }),
    audit: h('section', { 'aria-labelledby': 'audit-title' }),
  };
}

/** Everything the page shows besides the integration itself, fetched together. */
async function fetchDetails(base, sourceSystemId, integrationName) {
  const integration = `sourceSystemId=${sourceSystemId}&integrationName=${encodeURIComponent(integrationName)}`;
  const [schedule, runs, history, audit] = await Promise.all([
    api(`${base}/schedule`),
    api(`${base}/runs?limit=${DETAIL_PAGE_SIZE}`),
    api(`${base}/watermarks?limit=${DETAIL_PAGE_SIZE}`),
    api(`/audit?${integration}&limit=${DETAIL_PAGE_SIZE}`),
  ]);
  return { schedule: schedule.json, runs: runs.json, history: history.json, audit: audit.json };
}

export async function showIntegrationDetail(sourceSystemId, integrationName) {
  const base = integrationPath(sourceSystemId, integrationName);
  let etag = null;
  const sections = detailSections();
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, '← All integrations')),
    sections.alert,
    sections.head,
    h('div', { class: 'grid2' }, sections.schedule, sections.actions),
    sections.runs,
    sections.history,
    sections.audit,
  );

  function fail(error) {
    sections.alert.replaceChildren(h('p', { class: 'alert' }, problemText(error)));
  }

  /** Runs one action with its button disabled; on success announces `done` and reloads, on failure shows why. */
  async function act(button, work, done) {
    sections.alert.replaceChildren();
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

  /** Polls are conditional on the integration's own ETag: the rest is fetched only when it changed, or on `force`. */
  async function load(force = false) {
    const current = await api(base, { etag: force ? undefined : etag });
    if (current.notModified) return;
    etag = current.etag;
    const details = await fetchDetails(base, sourceSystemId, integrationName);
    renderHead(sections.head, current.json);
    renderSchedule(sections.schedule, details.schedule);
    renderActions(sections.actions, current.json, { base, act });
    renderRuns(sections.runs, details.runs);
    renderHistory(sections.history, details.history);
    renderAudit(sections.audit, details.audit);
  }

  try {
    await load(true);
  } catch (error) {
    fail(error);
    if (isNotFound(error)) return;
  }
  poll(() => load());
}
