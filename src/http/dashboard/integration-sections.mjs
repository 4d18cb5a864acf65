// The read-only sections of one integration's page; each replaces the contents of the element it is given.
import { dataTable, h } from './dom.mjs';
import { inZone } from './format.mjs';
import { ageCell, badge, watermark } from './widgets.mjs';

const RUN_COLUMNS = ['Run', 'Trigger', 'Started (UTC)', 'Outcome', 'Attempts', 'HTTP', 'Error'];
const HISTORY_COLUMNS = ['Stored at (UTC)', 'By run', 'From', 'To'];
const AUDIT_COLUMNS = ['When (UTC)', 'Who', 'Action', 'Reason', 'Result'];

/** The one word for where the integration stands; a paused or disabled one is that before it is failing. */
function stateWord(i) {
  if (!i.enabled) return 'disabled';
  if (i.paused) return 'paused';
  return i.consecutiveFailures > 0 ? 'failing' : 'scheduled';
}

export function renderHead(head, i) {
  head.replaceChildren(
    h('h1', {}, `${i.sourceSystemId} / ${i.integrationName}`),
    h(
      'section',
      { class: 'card', 'aria-label': 'State' },
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'State'),
        h('dd', {}, badge(stateWord(i))),
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

function pauseFacts(s) {
  if (!s.pause) return null;
  return [
    h('dt', {}, 'Paused'),
    h(
      'dd',
      { id: 'pause-info' },
      `${s.pause.reason} — by ${s.pause.pausedBy ?? 'unknown'}`,
      s.pause.until ? `, until ${inZone(s.pause.until, s.timeZone)}` : '',
    ),
  ];
}

function nextFireTimes(s) {
  return h(
    'ol',
    { class: 'times', id: 'next-fire-times' },
    s.nextFireTimes.map((t) => h('li', {}, h('time', { datetime: t }, inZone(t, s.timeZone)))),
  );
}

export function renderSchedule(card, s) {
  card.replaceChildren(
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
      pauseFacts(s),
      h('dt', {}, s.paused ? 'Next fire times once resumed' : 'Next fire times'),
      h('dd', {}, nextFireTimes(s)),
    ),
  );
}

function attemptsCell(attempts) {
  if (attempts.length === 0) return '—';
  return attempts.map((a) => h('div', {}, `#${a.attempt}: ${a.httpStatus ?? '—'} in ${a.durationMs} ms`));
}

function runRow(r) {
  return h(
    'tr',
    { 'data-run': r.id },
    h('td', { 'data-label': 'Run' }, r.id),
    h('td', { 'data-label': 'Trigger' }, r.trigger),
    h('td', { 'data-label': 'Started (UTC)' }, h('time', { datetime: r.startedAt }, r.startedAt)),
    h('td', { 'data-label': 'Outcome' }, badge(r.outcome)),
    h('td', { 'data-label': 'Attempts' }, attemptsCell(r.attempts)),
    h('td', { 'data-label': 'HTTP' }, r.httpStatus ?? '—'),
    h('td', { 'data-label': 'Error', class: 'error-text' }, r.error ?? ''),
  );
}

export function renderRuns(section, page) {
  section.replaceChildren(
    h('h2', { id: 'runs-title' }, 'Runs'),
    dataTable('runs', RUN_COLUMNS, page.items.map(runRow)),
  );
}

function historyRow(c) {
  return h(
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
  );
}

export function renderHistory(section, page) {
  section.replaceChildren(
    h('h2', { id: 'history-title' }, 'Watermark history'),
    page.items.length === 0
      ? h('p', { class: 'muted' }, 'No change yet.')
      : dataTable('watermark-history', HISTORY_COLUMNS, page.items.map(historyRow)),
  );
}

/** What an operator action came to, from the audit entry's `after` state. */
function auditResult(entry) {
  const after = entry.after ?? {};
  if (entry.action === 'run')
    return `run ${after.runId}: ${after.outcome}${after.errorCode ? ` (${after.errorCode})` : ''}`;
  if (entry.action === 'pause') return after.until ? `paused until ${after.until}` : 'paused';
  return after.nextFireAt ? `resumed; next fire ${after.nextFireAt}` : 'resumed';
}

function auditRow(e) {
  return h(
    'tr',
    { 'data-audit': e.id },
    h('td', { 'data-label': 'When (UTC)' }, e.at),
    h('td', { 'data-label': 'Who' }, e.actor),
    h('td', { 'data-label': 'Action' }, e.action),
    h('td', { 'data-label': 'Reason' }, e.reason ?? ''),
    h('td', { 'data-label': 'Result' }, auditResult(e)),
  );
}

export function renderAudit(section, page) {
  section.replaceChildren(
    h('h2', { id: 'audit-title' }, 'Audit trail'),
    page.items.length === 0
      ? h('p', { class: 'muted' }, 'No operator action yet.')
      : dataTable('audit', AUDIT_COLUMNS, page.items.map(auditRow)),
  );
}
