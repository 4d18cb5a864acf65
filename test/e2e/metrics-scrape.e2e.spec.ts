import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { STATE_CACHE_MS } from '../../src/observability/integration-states';
import { MetricsService } from '../../src/observability/metrics.service';
import { NEVER, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const INTEGRATION_COUNT = 300;
const INTEGRATIONS = Array.from({ length: INTEGRATION_COUNT }, (_, i) => ({
  sourceSystemId: 1000 + i,
  integrationName: `Feed ${i}`,
  cron: NEVER,
}));

/** The `# TYPE` lines of an exposition, in order: which metrics it holds. */
const typeLines = (exposition: string) => exposition.split('\n').filter((line) => line.startsWith('# TYPE '));
/** The lines of one per-integration gauge. */
const pausedLines = (exposition: string) =>
  exposition.split('\n').filter((line) => line.startsWith('tidemark_integration_paused{'));
/** The first line of each metric's block (blocks are separated by an empty line). */
const blockHeads = (exposition: string) => exposition.split('\n\n').map((block) => block.split('\n')[0]);

describe('metrics e2e: a scrape of many integrations', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let app: RunningApp;

  beforeAll(async () => {
    db = await createTestDatabase('scrape');
    simulator = new UpstreamSimulator();
    app = await startApp({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: await simulator.start(),
      INTEGRATIONS: JSON.stringify(INTEGRATIONS),
    });
  });

  afterAll(async () => {
    await app?.close();
    await simulator?.stop();
    await db?.drop();
  });

  it('serves the metrics prom-client renders, in its order, with a series per integration', async () => {
    const response = await fetch(`${app.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const registry = app.tidemark.app.get(MetricsService).registry;
    const direct = await registry.metrics();
    expect(typeLines(text)).toStrictEqual(typeLines(direct));
    expect(blockHeads(text)).toStrictEqual(blockHeads(direct));
    expect(blockHeads(text).length).toBe(typeLines(text).length);
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
    const paused = pausedLines(text);
    expect(paused.length).toBe(INTEGRATION_COUNT);
    expect(paused[0]).toBe('tidemark_integration_paused{source_system_id="1000",integration_name="Feed 0"} 0');
    expect(text).toContain('tidemark_state_read_success 1\n');
  });

  it('renders each metric in a turn of the event loop of its own', async () => {
    const metrics = app.tidemark.app.get(MetricsService);
    const registry = metrics.registry;
    let turn = 0;
    let rendering = true;
    const nextTurn = () => {
      if (!rendering) return;
      turn += 1;
      setImmediate(nextTurn);
    };
    setImmediate(nextTurn);
    const turnOfEachMetric: number[] = [];
    const render = registry.getSingleMetricAsString.bind(registry);
    const spy = vi.spyOn(registry, 'getSingleMetricAsString').mockImplementation(async (name) => {
      const text = await render(name);
      turnOfEachMetric.push(turn);
      return text;
    });
    try {
      const { body } = await metrics.exposition();
      expect(turnOfEachMetric.length).toBe(typeLines(body).length);
      // Rendered in one go (as `registry.metrics()` does), several metrics would share a turn.
      expect(new Set(turnOfEachMetric).size).toBe(turnOfEachMetric.length);
    } finally {
      rendering = false;
      spy.mockRestore();
    }
  });

  it('gives scrapes that overlap one rendering, and the next scrape a new one', async () => {
    const metrics = app.tidemark.app.get(MetricsService);
    const [first, second] = await Promise.all([metrics.exposition(), metrics.exposition()]);
    expect(second).toBe(first);
    expect(await metrics.exposition()).not.toBe(first);
  });

  it('keeps a scrape whose state read failed consistent, and reads again on the next scrape', async () => {
    const metrics = app.tidemark.app.get(MetricsService);
    const registry = metrics.registry;
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    const good = (await metrics.exposition()).body;
    const render = registry.getSingleMetricAsString.bind(registry);
    let restored = false;
    const restore = async () => {
      if (restored) return;
      restored = true;
      await admin.query('ALTER TABLE integration_hidden RENAME TO integration');
    };
    // The table is back as soon as the success gauge has seen the read fail, before the per-integration gauges
    // render: they must show that failed read, not read again and disagree with it.
    const spy = vi.spyOn(registry, 'getSingleMetricAsString').mockImplementation(async (name) => {
      const text = await render(name);
      if (name === 'tidemark_state_read_success') await restore();
      return text;
    });
    try {
      // A real failure of the state read: the table is gone until it is renamed back.
      await admin.query('ALTER TABLE integration RENAME TO integration_hidden');
      await sleep(STATE_CACHE_MS + 100);
      const { body } = await metrics.exposition();
      expect(restored).toBe(true);
      expect(body).toContain('tidemark_state_read_success 0\n');
      expect(pausedLines(body)).toStrictEqual([]);
      // Every metric is still rendered, the per-integration ones without series.
      expect(typeLines(body)).toStrictEqual(typeLines(good));
    } finally {
      spy.mockRestore();
      await restore();
      await admin.end();
    }
    // A failed read is not cached: the next scrape reads again.
    const text = await (await fetch(`${app.url}/metrics`)).text();
    expect(text).toContain('tidemark_state_read_success 1\n');
    expect(pausedLines(text).length).toBe(INTEGRATION_COUNT);
  });
});
