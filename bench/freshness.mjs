// The freshness step of bench/bench.mjs, target 3: how long after a run's commit every one of 3 replicas serves it.
import { sleep } from './lib.mjs';

/** When `replica` first serves run `runId` at `path`: a time from Date.now(), or Infinity after 5 s. */
async function whenServed(replica, path, runId, headers) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const state = await (await fetch(replica.url + path, { headers })).json();
    if (state.lastRun?.id === runId) return Date.now();
    if (Date.now() > deadline) return Infinity;
    await sleep(1);
  }
}

/** Run `i` of the freshness step, started on one replica of `trio`. @returns ms from its commit until all serve it */
async function freshnessLag(trio, i, headers) {
  const path = `/integrations/${1000 + ((i + 20) % 500)}/${encodeURIComponent(`Feed ${i + 20}`)}`;
  // Every replica holds the current state in its cache first.
  await Promise.all(trio.map((r) => fetch(r.url + path, { headers }).then((res) => res.arrayBuffer())));
  const response = await fetch(`${trio[i % 3].url}${path}/runs`, { method: 'POST', headers });
  const run = await response.json();
  if (response.status !== 201) throw new Error(`POST ${path}/runs: ${response.status} ${JSON.stringify(run)}`);
  const committedAt = Date.parse(run.finishedAt);
  const seen = await Promise.all(trio.map((replica) => whenServed(replica, path, run.id, headers)));
  return Math.max(...seen) - committedAt;
}

/**
 * Starts 2 more replicas beside the measured one and runs the freshness runs, each started on the next replica.
 * @returns the worst and median lag, and the 3 replicas (the coordination sweep runs on them next)
 */
export async function measureFreshness(harness) {
  const { settings, log, launch, service } = harness;
  log(`target 3: freshness over ${settings.freshnessRuns} runs on 3 replicas`);
  const others = await Promise.all(['bench-b', 'bench-c'].map((name) => launch(name)));
  await Promise.all(others.map((r) => r.ready()));
  const trio = [service, ...others];
  const headers = harness.authFor('freshness');
  let worstMs = 0;
  const lags = [];
  for (let i = 0; i < settings.freshnessRuns; i++) {
    const lag = await freshnessLag(trio, i, headers);
    lags.push(lag);
    worstMs = Math.max(worstMs, lag);
  }
  lags.sort((a, b) => a - b);
  return { freshness: { worstMs, medianMs: lags[Math.floor(lags.length / 2)], runs: settings.freshnessRuns }, trio };
}
