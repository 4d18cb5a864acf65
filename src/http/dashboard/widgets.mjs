// Small pieces both pages show: badges, watermarks, live ages and the run-duration sparkline.
import { serverNow } from './api.mjs';
import { h, svg } from './dom.mjs';
import { age, utcMs } from './format.mjs';

const SPARK_WIDTH = 120;
const SPARK_HEIGHT = 28;
const DOT_RADIUS = 2.5;

/** A status word as a badge; the word is also its CSS class, so only API enum values belong here. */
export function badge(text) {
  return h('span', { class: `badge ${text}` }, text.replace(/_/g, ' '));
}

/** A watermark exactly as stored: the upstream's text, its UTC form and the tie-breaking primary key. */
export function watermark(w) {
  if (!w || w.maxSyncDateTime === null) return h('span', { class: 'muted' }, 'none yet');
  return h(
    'div',
    { class: 'wm' },
    h('code', { title: 'MaxSyncDateTime as the upstream sent it' }, w.maxSyncDateTime),
    h('code', { title: 'UTC' }, w.maxSyncDateTimeUtc),
    h('code', { title: 'MaxSyncDateMaxPkId' }, `pk ${w.maxSyncDateMaxPkId}`),
  );
}

/** The age of a UTC time, marked so tickAges keeps it current. */
export function ageCell(utc) {
  return h('span', { 'data-age-of': utc ?? '' }, age(serverNow() - utcMs(utc)));
}

/** Refreshes every age on the page from the clock, between polls. */
export function tickAges() {
  for (const el of document.querySelectorAll('[data-age-of]')) {
    el.textContent = age(serverNow() - utcMs(el.getAttribute('data-age-of')));
  }
}

/** Chart coordinates of each run's duration, the longest at the top; x spreads the runs over the full width. */
function sparkPoints(durations, max) {
  const step = durations.length > 1 ? SPARK_WIDTH / (durations.length - 1) : 0;
  return durations.map((r, i) => [i * step, SPARK_HEIGHT - 2 - (r.durationMs / max) * (SPARK_HEIGHT - 4)]);
}

/** Durations of the finished runs as a line; a lone run is a dot, and every run that did not succeed is marked. */
export function sparkline(runs) {
  const durations = runs.filter((r) => r.durationMs !== null);
  if (durations.length === 0) return h('span', { class: 'muted' }, 'no runs');
  const ms = durations.map((r) => r.durationMs);
  const max = Math.max(...ms, 1);
  const points = sparkPoints(durations, max);
  const label = `Durations of the last ${durations.length} runs: ${Math.min(...ms)} to ${max} ms`;
  const chart = svg(
    'svg',
    { class: 'spark', viewBox: `-2 0 ${SPARK_WIDTH + 4} ${SPARK_HEIGHT}`, role: 'img', 'aria-label': label },
    svg('title', {}, label),
    svg('polyline', { points: points.map((p) => p.map((n) => n.toFixed(1)).join(',')).join(' ') }),
  );
  durations.forEach((r, i) => {
    const [cx, cy] = points[i];
    if (durations.length === 1) chart.append(svg('circle', { cx, cy, r: DOT_RADIUS }));
    if (r.outcome !== 'succeeded') chart.append(svg('circle', { class: 'bad', cx, cy, r: DOT_RADIUS }));
  });
  return chart;
}
