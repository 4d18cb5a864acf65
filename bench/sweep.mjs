// One measured sweep for bench/sweeps.mjs: every integration made due at one instant, the time from that instant
// to the last run's recorded end, and where the time went (CPU per process, commits, the pipeline of a run).
import { connectClient, cpuMs, postgresCpuMs, sleep } from './lib.mjs';

/** CPU spent so far by the service's replicas, the simulator and Postgres: where a sweep's time goes. */
function cpuSnapshot(servicePids, simulator) {
  return {
    service: servicePids.reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0),
    simulator: cpuMs(simulator.child.pid) ?? 0,
    postgres: postgresCpuMs(),
  };
}

async function commitCount(db) {
  const [{ xact_commit: commits }] = await db(
    `SELECT pg_stat_force_next_flush(), xact_commit FROM pg_stat_database WHERE datname = current_database()`,
  );
  return Number(commits);
}

/** Makes every integration due at the next whole second plus 2 s. @returns that instant and ms until it */
async function makeAllDue(db) {
  const [{ due, msToDue }] = await db(
    `WITH d AS (SELECT date_trunc('second', now()) + interval '2 seconds' AS due),
            u AS (UPDATE integration SET next_fire_at = (SELECT due FROM d), version = version + 1 RETURNING id)
       SELECT (SELECT due FROM d) AS due, EXTRACT(EPOCH FROM (SELECT due FROM d) - clock_timestamp()) * 1000 AS "msToDue",
              pg_notify('tidemark_state', '*'), (SELECT count(*) FROM u) AS n`,
  );
  return { due, msToDue };
}

/**
 * Waits for the sweep due at `due` to end, within 180 s. @returns the run rows' counts and the sweep's ms
 *
 * A cheap probe on one connection while the sweep goes on (a connection per probe forked a backend each time, CPU
 * the sweep needs): whether the due instant has passed and no integration is still due nor any run of this sweep
 * still running, two lookups in partial indexes (integration_due, run_in_progress). Counting the finished runs
 * instead read every run of the sweep, 5.7 ms of Postgres every 200 ms. The figures, and the check that all the
 * runs are there, come from one query once the probe sees nothing left.
 */
async function waitForSweep(db, { label, due, lastRunId, runs }) {
  const deadline = Date.now() + 180_000;
  const probe = await connectClient(db.url);
  try {
    for (;;) {
      await sleep(200);
      const {
        rows: [{ busy }],
      } = await probe.query(
        `SELECT now() < $2::timestamptz
                  OR EXISTS (SELECT 1 FROM integration WHERE enabled AND NOT paused AND next_fire_at <= now())
                  OR EXISTS (SELECT 1 FROM run WHERE outcome = 'running' AND id > $1) AS busy`,
        [lastRunId, due],
      );
      if (!busy || Date.now() > deadline) break;
    }
  } finally {
    await probe.end();
  }
  const [row] = await db(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE outcome <> 'running')::int AS done,
              count(*) FILTER (WHERE outcome = 'succeeded')::int AS succeeded,
              EXTRACT(EPOCH FROM (max(finished_at) - $1::timestamptz)) * 1000 AS ms,
              count(DISTINCT replica_id)::int AS replicas
       FROM run WHERE scheduled_for = $1`,
    [due],
  );
  // Nothing due and nothing running, yet runs missing: the sweep lost them, which no wait would mend.
  if (row.done < runs) throw new Error(`${label}: only ${row.done} of ${runs} runs finished within 180 s`);
  return row;
}

/** Where a run's time goes: its upstream call (as the service timed it) and its whole life, start to recorded end. */
async function medianDurations(db, due) {
  const [life] = await db(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY (attempts->0->>'durationMs')::float) AS call_p50,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at) * 1000) AS life_p50
           FROM run WHERE scheduled_for = $1`,
    [due],
  );
  return life;
}

/**
 * The pipeline, from the run rows: claim to call, the call, call end to recorded end (means, ms), and how many
 * calls were on their way on average between the first call's start and the last call's end.
 */
async function pipelineMeans(db, due) {
  const [flow] = await db(
    `WITH t AS (
             SELECT started_at AS s, (attempts->0->>'startedAt')::timestamptz AS c0, (attempts->0->>'durationMs')::float AS d, finished_at AS f
             FROM run WHERE scheduled_for = $1)
           SELECT EXTRACT(EPOCH FROM min(s) - $1::timestamptz) * 1000 AS first_claim,
                  avg(EXTRACT(EPOCH FROM c0 - s) * 1000) AS claim_to_call,
                  avg(d) AS call, percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS call_p99,
                  avg(EXTRACT(EPOCH FROM f - c0) * 1000 - d) AS call_to_recorded,
                  sum(d) / NULLIF(EXTRACT(EPOCH FROM max(c0 + d * interval '1 millisecond') - min(c0)) * 1000, 0) AS calls_in_flight
           FROM t`,
    [due],
  );
  return flow;
}

/**
 * The same calls as the simulator timed them, from receipt to its answer: the rest of a call's time is the
 * service's and the network's. @returns the mean ms and how many calls it covers
 */
async function simulatorCallTimes(simulator, due) {
  const dueMs = new Date(due).getTime();
  const simulated = (await (await fetch(`${simulator.url}/__simulator/calls`)).json()).filter(
    (c) => c.receivedAt >= dueMs && c.finishedAt,
  );
  const meanMs = simulated.reduce((sum, c) => sum + c.finishedAt - c.receivedAt, 0) / Math.max(1, simulated.length);
  return { meanMs, count: simulated.length };
}

/** Calls in flight in each tenth of the call window: a ramp, a tail, or slots idle in the middle. */
async function callsInFlightByTenth(db, due) {
  return db(
    `WITH t AS (
             SELECT (attempts->0->>'startedAt')::timestamptz AS c0, (attempts->0->>'durationMs')::float AS d FROM run WHERE scheduled_for = $1),
           w AS (SELECT min(c0) AS a, max(c0 + d * interval '1 millisecond') AS b FROM t),
           b AS (SELECT k, w.a + (w.b - w.a) * k / 10.0 AS lo, w.a + (w.b - w.a) * (k + 1) / 10.0 AS hi FROM w, generate_series(0, 9) AS k)
           SELECT b.k, sum(GREATEST(0, EXTRACT(EPOCH FROM LEAST(b.hi, t.c0 + t.d * interval '1 millisecond') - GREATEST(b.lo, t.c0))))
                       / NULLIF(EXTRACT(EPOCH FROM b.hi - b.lo), 0) AS n
           FROM b, t GROUP BY b.k, b.lo, b.hi ORDER BY b.k`,
    [due],
  );
}

/** Logs the pipeline of the sweep due at `due`: the simulator's own time, the means, the calls in flight by tenth. */
async function logPipeline({ log, simulator }, db, label, due) {
  const flow = await pipelineMeans(db, due);
  const simulatorCalls = await simulatorCallTimes(simulator, due);
  log(
    `${label}: simulator's own time per call ${simulatorCalls.meanMs.toFixed(1)} ms (mean of ${simulatorCalls.count}); first claim ${Number(flow.first_claim).toFixed(0)} ms after the due instant; per run (means): claim → call ${Number(flow.claim_to_call).toFixed(1)} ms, ` +
      `call ${Number(flow.call).toFixed(1)} ms (p99 ${Number(flow.call_p99).toFixed(1)}), call end → recorded ${Number(flow.call_to_recorded).toFixed(1)} ms; ` +
      `${Number(flow.calls_in_flight).toFixed(0)} calls in flight on average`,
  );
  const tenths = await callsInFlightByTenth(db, due);
  log(`${label}: calls in flight by tenth of the call window: ${tenths.map((t) => Number(t.n).toFixed(0)).join(' ')}`);
}

/** The ramp: from the due instant to the start of the call that fills the last slot, which no sweep avoids. */
async function rampMs(db, due, slots) {
  const [ramp] = await db(
    `SELECT EXTRACT(EPOCH FROM c0 - $1::timestamptz) * 1000 AS ms FROM (
             SELECT (attempts->0->>'startedAt')::timestamptz AS c0 FROM run WHERE scheduled_for = $1 ORDER BY 1 OFFSET $2 LIMIT 1) t`,
    [due, slots - 1],
  );
  return ramp ? Number(ramp.ms) : 0;
}

/**
 * One sweep of `runs` integrations on the replicas `servicePids` against database `db` (the bench's database and
 * its one measured replica unless given). Logs where its time went. @returns its ms, runs/s and CPU per run
 */
export async function sweep(harness, label, options = {}) {
  const {
    servicePids = [harness.service.child.pid],
    runs = harness.settings.integrationCount,
    db = harness.sql,
  } = options;
  // Steady state between sweeps: what autovacuum (naptime 1 min) does for a deployment whose sweeps come minutes
  // apart, done here because the bench's come seconds apart. Without it every sweep ran on the dead rows of the
  // last and on statistics from before the tables filled, which planned the per-tick queries as scans. Outside
  // the measured window and its CPU figures.
  await db('VACUUM (ANALYZE)');
  const perProcessBefore = servicePids.map((pid) => cpuMs(pid) ?? 0);
  const cpuBefore = cpuSnapshot(servicePids, harness.simulator);
  const commitsBefore = await commitCount(db);
  const { due, msToDue } = await makeAllDue(db);
  // The due instant on the monotonic clock that V8's CPU profiles use (µs), to cut them to the sweep (`--profile`).
  const dueMonotonicUs = Number(process.hrtime.bigint() / 1000n) + Math.round(Number(msToDue) * 1000);
  const [{ lastRunId }] = await db(`SELECT coalesce(max(id), 0)::text AS "lastRunId" FROM run`);
  const row = await waitForSweep(db, { label, due, lastRunId, runs });
  const cpuAfter = cpuSnapshot(servicePids, harness.simulator);
  // Backends report their counts about once a second.
  await sleep(1_200);
  const commitsPerRun = ((await commitCount(db)) - commitsBefore) / row.done;
  const life = await medianDurations(db, due);
  await logPipeline(harness, db, label, due);
  const perReplicaUsPerRun = servicePids.map((pid, i) => (((cpuMs(pid) ?? 0) - perProcessBefore[i]) * 1000) / row.done);
  const cpuUsPerRun = Object.fromEntries(
    Object.keys(cpuAfter).map((k) => [k, ((cpuAfter[k] - cpuBefore[k]) * 1000) / row.done]),
  );
  harness.log(
    `${label}: ${row.done} runs (${row.succeeded} succeeded) in ${Math.round(row.ms)} ms on ${row.replicas} replica(s); CPU per run: ` +
      Object.entries(cpuUsPerRun)
        .map(([k, us]) => `${k} ${Math.round(us)} µs`)
        .join(', ') +
      `; ${commitsPerRun.toFixed(2)} commits per run; median upstream call ${Number(life.call_p50).toFixed(1)} ms, median run ${Number(life.life_p50).toFixed(1)} ms`,
  );
  const ramp = await rampMs(db, due, harness.settings.maxConcurrentRuns * servicePids.length);
  if (harness.settings.profile)
    harness.profileWindows[label] = [dueMonotonicUs, dueMonotonicUs + Math.round(Number(row.ms) * 1000)];
  return {
    ms: Number(row.ms),
    runs: row.done,
    succeeded: row.succeeded,
    replicas: row.replicas,
    rate: (row.done * 1000) / Number(row.ms),
    rampMs: ramp,
    perReplicaUsPerRun,
    cpuUsPerRun,
    commitsPerRun,
  };
}
