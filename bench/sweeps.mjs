// The sweep steps of bench/bench.mjs: targets 4 and 5 with the pg-boss peer, coordination on 3 replicas, and scale.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, cpuMs, postgresCpuMs } from './lib.mjs';
import { createDatabase, sqlFor, writeIntegrationsFile } from './setup.mjs';
import { sweep } from './sweep.mjs';

/** The element whose `key` is the median of an odd-length list (the lower middle of an even one). */
function medianBy(items, key) {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor((items.length - 1) / 2)];
}

/**
 * The pg-boss peer (bench/peers/pg-boss/sweep.mjs) doing `jobs` runs' work against the simulator, with the CPU each
 * process spent per job.
 */
async function runPgBossPeer(databaseUrl, simulator, jobs) {
  const simulatorBefore = cpuMs(simulator.child.pid) ?? 0;
  const postgresBefore = postgresCpuMs();
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bench/peers/pg-boss/sweep.mjs'), databaseUrl, simulator.url, String(jobs)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`pg-boss peer exited ${code}: ${out}`);
  const result = JSON.parse(out.trim().split('\n').at(-1));
  const perJob = (ms) => (ms * 1000) / jobs;
  return {
    ...result,
    cpuUsPerJob: {
      peer: perJob(result.cpuMs),
      simulator: perJob((cpuMs(simulator.child.pid) ?? 0) - simulatorBefore),
      postgres: perJob(postgresCpuMs() - postgresBefore),
    },
  };
}

/**
 * Target 4 and the pg-boss peer take turns, as the read loads do: one sweep of each compared two moments of a
 * machine whose speed moved by a quarter within minutes. Each side's figure is its median round.
 */
async function sweepAndPeerRounds(harness) {
  const { settings, log } = harness;
  const n = settings.integrationCount;
  const fastRounds = [];
  const bossRounds = [];
  for (let round = 1; round <= settings.sweepRounds; round++) {
    log(`target 4, round ${round} of ${settings.sweepRounds}: ${n} integrations due at once, simulator at 0 ms`);
    fastRounds.push(await sweep(harness, round === 1 ? 'sweep at 0 ms' : `sweep at 0 ms (round ${round})`));
    log(
      `peer: pg-boss, round ${round}: ${n} jobs queued at once, ${settings.maxConcurrentRuns} at a time, simulator at 0 ms`,
    );
    const boss = await runPgBossPeer(harness.databaseUrl, harness.simulator, n);
    bossRounds.push(boss);
    log(
      `pg-boss: ${n} jobs (${boss.failed} failed) in ${Math.round(boss.ms)} ms; CPU per job: ` +
        `pg-boss process ${Math.round(boss.cpuUsPerJob.peer)} µs, simulator ${Math.round(boss.cpuUsPerJob.simulator)} µs, ` +
        `Postgres ${Math.round(boss.cpuUsPerJob.postgres)} µs (over the peer's whole process: its start, queueing and stop)`,
    );
  }
  return {
    sweepFast: {
      ...medianBy(fastRounds, (r) => r.ms),
      succeeded: Math.min(...fastRounds.map((r) => r.succeeded)),
      msRounds: fastRounds.map((r) => r.ms),
    },
    pgBoss: {
      ...medianBy(bossRounds, (r) => r.ms),
      failed: bossRounds.reduce((sum, r) => sum + r.failed, 0),
      msRounds: bossRounds.map((r) => r.ms),
    },
  };
}

/** Targets 4 and 5 and the pg-boss peer on the measured replica. @returns sweepFast, pgBoss, sweepSlow */
export async function measureSweeps(harness) {
  const { settings, log, setLatency } = harness;
  // Like the loads, the sweeps are measured warm: the first sweep of a fresh service and simulator spends about a
  // seventh of their CPU compiling the run path (TurboFan), which a long-running replica did long ago.
  log('warm-up: one unmeasured sweep at 0 ms');
  await sweep(harness, 'warm-up sweep at 0 ms');
  const { sweepFast, pgBoss } = await sweepAndPeerRounds(harness);
  log(
    `target 5: ${settings.integrationCount} integrations due at once, simulator at ${settings.slowUpstreamMs} ms, MAX_CONCURRENT_RUNS=${settings.maxConcurrentRuns}`,
  );
  await setLatency(settings.slowUpstreamMs);
  const sweepSlow = await sweep(harness, `sweep at ${settings.slowUpstreamMs} ms`);
  await setLatency(0);
  const tables = await harness.sql(
    `SELECT relname, n_tup_upd::int AS updates, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relname IN ('integration', 'run') ORDER BY relname`,
  );
  log(`row updates (in place, HOT): ${tables.map((t) => `${t.relname} ${t.updates} (${t.hot})`).join(', ')}`);
  return { sweepFast, pgBoss, sweepSlow };
}

/** Coordination overhead: the 0 ms sweep on the 3 replicas `trio` (to set against 1). */
export async function measureCoordination(harness, trio) {
  harness.log(
    `coordination: ${harness.settings.integrationCount} integrations due at once on 3 replicas, simulator at 0 ms`,
  );
  return sweep(harness, 'sweep at 0 ms, 3 replicas', { servicePids: trio.map((r) => r.child.pid) });
}

/** Three replicas on a database of their own with `count` integrations. @returns their pids and that database */
async function startScaleReplicas(harness, count) {
  const { settings, launch, replicas } = harness;
  for (const replica of replicas) await replica.stop();
  const scaleUrl = await createDatabase(harness, `${harness.dbName}_scale`);
  const scaleFile = join(harness.tmp, 'integrations-scale.json');
  writeIntegrationsFile(scaleFile, count);
  const scaleEnv = { DATABASE_URL: scaleUrl, INTEGRATIONS_FILE: scaleFile };
  harness.log(`scale: ${count} integrations on 3 replicas, MAX_CONCURRENT_RUNS=${settings.maxConcurrentRuns} each`);
  const scaleFirst = await launch('scale-a', { env: scaleEnv });
  await scaleFirst.ready();
  const scaleOthers = await Promise.all(['scale-b', 'scale-c'].map((name) => launch(name, { env: scaleEnv })));
  await Promise.all(scaleOthers.map((r) => r.ready()));
  return { pids: [scaleFirst, ...scaleOthers].map((r) => r.child.pid), db: sqlFor(scaleUrl) };
}

/** Scale: 3 replicas, each with all its slots busy, on a larger database, upstream at the slow latency. */
export async function measureScale(harness) {
  const { settings, setLatency } = harness;
  const count = settings.scaleIntegrationCount;
  const { pids, db } = await startScaleReplicas(harness, count);
  await setLatency(0);
  await sweep(harness, 'warm-up sweep at 0 ms, 3 replicas (scale)', { servicePids: pids, runs: count, db });
  await setLatency(settings.slowUpstreamMs);
  const scale = await sweep(harness, `sweep of ${count} at ${settings.slowUpstreamMs} ms, 3 replicas`, {
    servicePids: pids,
    runs: count,
    db,
  });
  await setLatency(0);
  return scale;
}
