// The integrations page: every integration with its health, watermark, last run and recent run durations, filtered
// and sorted in the browser (the whole list is loaded, page by page, on every change).
import { api } from './api.mjs';
import { h, tableHead } from './dom.mjs';
import { inZone } from './format.mjs';
import { main, poll } from './page.mjs';
import { ageCell, badge, sparkline, watermark } from './widgets.mjs';

const HEALTH_ORDER = ['failing', 'stale', 'paused', 'disabled', 'fresh'];
const COLUMNS = ['Integration', 'Health', 'Watermark', 'Age', 'Last run', 'Next fire time', 'Run durations'];
const OVERVIEW_PAGE_SIZE = 200;

/** The hash route of one integration's page; route() in app.mjs reads it back. */
const integrationHref = (i) => `#/integrations/${i.sourceSystemId}/${encodeURIComponent(i.integrationName)}`;

const allOption = () => h('option', { value: '' }, 'All');

function filterControls() {
  return {
    sourceSystemId: h('select', { id: 'filter-source' }, allOption()),
    health: h(
      'select',
      { id: 'filter-health' },
      allOption(),
      HEALTH_ORDER.map((x) => h('option', { value: x }, x)),
    ),
    sort: h(
      'select',
      { id: 'sort' },
      h('option', { value: 'name' }, 'Source system, name'),
      h('option', { value: 'staleness' }, 'Staleness (oldest success first)'),
    ),
  };
}

function filterBar(controls) {
  return h(
    'div',
    { class: 'filters', role: 'group', 'aria-label': 'Filter and sort' },
    h('label', {}, 'Source system', controls.sourceSystemId),
    h('label', {}, 'Health', controls.health),
    h('label', {}, 'Sort by', controls.sort),
  );
}

function integrationsTable(tbody) {
  return h(
    'table',
    { class: 'responsive', 'aria-describedby': 'list-summary' },
    h('caption', { class: 'visually-hidden' }, 'Integrations'),
    tableHead(COLUMNS),
    tbody,
  );
}

/** Offers the source systems the list has; rebuilt only when their count changes, to keep an open select stable. */
function syncSourceOptions(select, items, selected) {
  const systems = [...new Set(items.map((x) => x.integration.sourceSystemId))].sort((a, b) => a - b);
  if (select.options.length === systems.length + 1) return;
  select.replaceChildren(allOption(), ...systems.map((x) => h('option', { value: x }, x)));
  select.value = selected;
}

function visibleRows(items, filters) {
  const rows = items.filter(
    (x) =>
      (filters.sourceSystemId === '' || String(x.integration.sourceSystemId) === filters.sourceSystemId) &&
      (filters.health === '' || x.health === filters.health),
  );
  if (filters.sort !== 'staleness') return rows;
  return [...rows].sort((a, b) => Date.parse(a.staleSince) - Date.parse(b.staleSince));
}

function lastRunCell(last) {
  if (!last) return h('span', { class: 'muted' }, 'never');
  return [badge(last.outcome), last.error ? h('div', { class: 'error-text' }, last.error) : null];
}

function integrationRow(x) {
  const i = x.integration;
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
    h('td', { 'data-label': 'Last run' }, lastRunCell(i.lastRun)),
    h(
      'td',
      { 'data-label': 'Next fire time' },
      i.schedule.nextFireAt ? inZone(i.schedule.nextFireAt, i.schedule.timeZone) : '—',
    ),
    h('td', { 'data-label': 'Run durations' }, sparkline(x.recentRuns)),
  );
}

/**
 * Every page of /overview, with the first page's ETag; null when the first page is unchanged since `etag`. Only the
 * first page's call is conditional, and an unchanged first page keeps the list as shown.
 */
async function fetchOverview(etag) {
  const items = [];
  let cursor = null;
  let firstEtag = null;
  do {
    const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page = await api(`/overview?limit=${OVERVIEW_PAGE_SIZE}${query}`, { etag: cursor ? undefined : etag });
    if (page.notModified) return null;
    if (!cursor) firstEtag = page.etag;
    items.push(...page.json.items);
    cursor = page.json.nextCursor;
  } while (cursor);
  return { items, etag: firstEtag };
}

export async function showIntegrationList() {
  const filters = { sourceSystemId: '', health: '', sort: 'name' };
  let items = [];
  let etag = null;
  const controls = filterControls();
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', id: 'list-summary' });
  main.replaceChildren(
    h('h1', {}, 'Integrations'),
    filterBar(controls),
    summary,
    h('div', { class: 'table-wrap' }, integrationsTable(tbody)),
  );
  for (const [name, select] of Object.entries(controls)) {
    select.addEventListener('change', () => {
      filters[name] = select.value;
      render();
    });
  }

  function render() {
    syncSourceOptions(controls.sourceSystemId, items, filters.sourceSystemId);
    const rows = visibleRows(items, filters);
    tbody.replaceChildren(...rows.map(integrationRow));
    summary.textContent = `${rows.length} of ${items.length} integrations`;
  }

  async function load() {
    const overview = await fetchOverview(etag);
    if (!overview) return;
    ({ items, etag } = overview);
    render();
  }

  await load();
  poll(load);
}
