// `npm run bench [-- --quick] [-- --profile]`: measures targets 1 to 6 of the performance issue side by side with
// their baselines (a bare node:http server, pgbench) in one run, prints one table and exits 1 if a ratio misses.
//
// Starts everything it needs: a database (BENCH_DATABASE_URL names a server whose user may CREATE DATABASE; without
// it, an embedded Postgres), the upstream simulator, the built service (`node dist/src/main.js`, 1 to 3 replicas)
// and the baselines. Load comes from wrk when installed, else autocannon. All traffic goes to 127.0.0.1, and every
// loop is bounded in count and time.
//
// This file reads the command line and runs the steps in their order; each step takes the harness (what the steps
// share: settings, database, simulator, replicas) and returns its figures, which go into one results object that
// bench/report.mjs turns into the table. The steps: bench/setup.mjs (database, simulator, replicas, footprint),
// bench/sweeps.mjs (sweeps, the pg-boss peer, scale), bench/reads.mjs (read loads), bench/freshness.mjs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureFreshness } from './freshness.mjs';
import { LOAD_TOOL, ROOT, upsertTps } from './lib.mjs';
import { measureReads } from './reads.mjs';
import { report } from './report.mjs';
import {
  createBenchDatabase,
  measureFootprint,
  prepareDatabase,
  startReplicaLauncher,
  startSimulator,
} from './setup.mjs';
import { measureCoordination, measureScale, measureSweeps } from './sweeps.mjs';

/** Undone in reverse order when the bench ends, however it ends (the watchdog included). */
const cleanups = [];
const log = (message) => process.stderr.write(`[bench] ${message}\n`);

/** The command line's options and the sizes that follow from them; read once, never changed. */
function parseSettings(argv) {
  const flags = new Set(argv);
  const quick = flags.has('--quick');
  // `--only reads,sweeps,freshness,footprint`: a subset, for development (the table then shows only those rows).
  const onlyFlag = argv.find((a) => a.startsWith('--only='));
  const only = onlyFlag ? new Set(onlyFlag.slice('--only='.length).split(',')) : null;
  return Object.freeze({
    quick,
    profile: flags.has('--profile'),
    only,
    wants: (part) => only === null || only.has(part),
    integrationCount: quick ? 2_000 : 10_000,
    loadSeconds: quick ? 3 : 10,
    /**
     * The read loads run in rounds, bare server and service by turns (ABAB), each load readRoundSeconds long: on a
     * shared machine the bare server alone was seen at 40,000 and 64,000 req/s in one run, so one load of each,
     * minutes apart, compared moments rather than servers.
     */
    readRounds: quick ? 2 : 3,
    readRoundSeconds: quick ? 2 : 4,
    /** Rounds of target 4's sweep and the pg-boss peer, taking turns. */
    sweepRounds: 3,
    freshnessRuns: quick ? 50 : 200,
    maxConcurrentRuns: 200,
    slowUpstreamMs: 50,
    /** Integrations of the scale part (3 replicas): 30,000, or 6,000 with --quick (which runs it only with --only=scale). */
    scaleIntegrationCount: quick ? 6_000 : 30_000,
  });
}

/** The steps in their order; each adds its figures to `results`, which the report reads. */
async function main() {
  const settings = parseSettings(process.argv.slice(2));
  if (LOAD_TOOL === 'autocannon')
    log(
      'wrk is not installed (apt-get install -y wrk): loads come from autocannon, a Node process that takes a whole core and inflates p99 on a small machine',
    );
  const tmp = mkdtempSync(join(tmpdir(), 'tidemark-bench-'));
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));
  const results = {};
  /** `--profile`: each sweep's window on the profiles' clock, written next to them for `bench/profile-summary.mjs`. */
  const profileWindows = {};
  const harness = { settings, log, tmp, profileWindows, addCleanup: (step) => cleanups.push(step) };
  Object.assign(harness, await createBenchDatabase(harness));
  // Delivery load (bench/events.mjs): a database and a service of its own; its result is logged.
  if (settings.wants('events')) {
    const { measureDeliveries } = await import('./events.mjs');
    results.deliveries = await measureDeliveries({ adminUrl: harness.adminUrl, quick: settings.quick, log });
  }
  Object.assign(harness, await startSimulator(harness));
  Object.assign(harness, startReplicaLauncher(harness));
  await prepareDatabase(harness);
  if (settings.wants('sweeps')) {
    log('baseline: single-row upsert tps, 8 clients');
    results.upsert = await upsertTps(harness.databaseUrl, settings.loadSeconds, tmp);
  }
  const footprint = await measureFootprint(harness);
  harness.service = footprint.service;
  Object.assign(results, footprint.results);
  if (settings.wants('sweeps')) Object.assign(results, await measureSweeps(harness));
  if (settings.wants('reads')) Object.assign(results, await measureReads(harness));
  if (settings.wants('freshness')) {
    const { freshness, trio } = await measureFreshness(harness);
    results.freshness = freshness;
    results.sweepTrio = await measureCoordination(harness, trio);
  }
  if (settings.wants('scale') && (!settings.quick || settings.only?.has('scale')))
    results.scale = await measureScale(harness);
  for (const replica of harness.replicas) await replica.stop();
  const allMet = report(results, settings);
  if (settings.profile) writeProfileWindows(profileWindows);
  process.exitCode = allMet ? 0 : 1;
}

function writeProfileWindows(profileWindows) {
  const file = join(ROOT, `bench/profiles/windows.${process.pid}.json`);
  writeFileSync(file, JSON.stringify(profileWindows, null, 2));
  log(
    `profiles in bench/profiles/ (*.${process.pid}.cpuprofile), windows (each sweep, each round of GET one) in ${file}: node bench/profile-summary.mjs <profile> --window='sweep at 50 ms' [--stretches=5]`,
  );
}

async function cleanup() {
  for (const step of cleanups.reverse()) await step().catch((error) => log(`cleanup: ${error.message}`));
}

const watchdog = setTimeout(() => {
  log('the bench took longer than 30 minutes: stopping');
  void cleanup().then(() => process.exit(2));
}, 30 * 60_000);
watchdog.unref();

main()
  .catch((error) => {
    log(`failed: ${error.stack ?? error}`);
    process.exitCode = 2;
  })
  .finally(async () => {
    await cleanup();
    clearTimeout(watchdog);
  });
