// The steps of bench/bench.mjs that set up what the measurements share: the bench's database, the upstream
// simulator, the service's configuration and its replicas, then target 6 (start to ready, idle RSS and CPU).
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRODUCTION_NODE_ARGS, ROOT, cpuMs, query, rssMb, sleep, spawnUrlProcess, startService } from './lib.mjs';

/** A cron that never fires: every run of the bench is made due by the bench itself. */
const NEVER = '0 0 0 1 1 *';

/** `count` integrations of the shape the service syncs from INTEGRATIONS_FILE, spread over 500 source systems. */
export function writeIntegrationsFile(file, count) {
  const integrations = Array.from({ length: count }, (_, i) => ({
    sourceSystemId: 1000 + (i % 500),
    integrationName: `Feed ${i}`,
    cron: NEVER,
  }));
  writeFileSync(file, JSON.stringify(integrations));
}

/** A query function bound to one database, carrying its URL for the steps that open a connection of their own. */
export function sqlFor(databaseUrl) {
  return Object.assign((text, params) => query(databaseUrl, text, params), { url: databaseUrl });
}

/** Creates database `name` on the server of `adminUrl`, dropped at cleanup. @returns its URL */
export async function createDatabase({ adminUrl, addCleanup }, name) {
  await query(adminUrl, `CREATE DATABASE ${name}`);
  addCleanup(() => query(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database on BENCH_DATABASE_URL's server, or on an embedded Postgres without it. */
export async function createBenchDatabase({ tmp, log, addCleanup }) {
  let adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    const { startEmbeddedPostgres } = await import(join(ROOT, 'dist/src/demo/embedded-postgres.js'));
    log('no BENCH_DATABASE_URL: starting an embedded Postgres');
    const embedded = await startEmbeddedPostgres({ dataDir: join(tmp, 'pg') });
    addCleanup(() => embedded.stop());
    adminUrl = embedded.url;
  }
  const dbName = `tidemark_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = await createDatabase({ adminUrl, addCleanup }, dbName);
  return { adminUrl, dbName, databaseUrl, sql: sqlFor(databaseUrl) };
}

/** `--profile`: Node options writing a V8 CPU profile of process `name` into bench/profiles/. */
export function profileArgs(settings, name) {
  return settings.profile
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${join(ROOT, 'bench/profiles')}`,
        `--cpu-prof-name=${name}.${process.pid}.cpuprofile`,
      ]
    : [];
}

/** The upstream simulator as a process of its own, answering at once until `setLatency` says otherwise. */
export async function startSimulator({ settings, addCleanup }) {
  // The simulator runs with the service's Node options too: it stands in for an upstream, and its own CPU shares the machine.
  const simulator = await spawnUrlProcess([
    ...PRODUCTION_NODE_ARGS,
    ...profileArgs(settings, 'simulator'),
    join(ROOT, 'dist/src/demo/simulator/main.js'),
    '--port',
    '0',
    '--latency',
    '0',
  ]);
  addCleanup(() => simulator.stop());
  const setLatency = async (ms) => {
    const response = await fetch(`${simulator.url}/__simulator/latency`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ms }),
    });
    if (!response.ok) throw new Error(`simulator latency: ${response.status}`);
  };
  return { simulator, setLatency };
}

/**
 * Each measured load and the freshness runs use a key of their own: rate limits count per key, and two loads at
 * the speeds seen here pass the highest RATE_LIMIT_PER_MINUTE (1,000,000) within a minute.
 */
function loadKeysFor(settings) {
  const names = ['freshness'];
  for (let round = 1; round <= settings.readRounds; round++)
    names.push(...['one', 'one-warn', 'one-304', 'list', 'list-304'].map((load) => `${load}-${round}`));
  return Object.fromEntries(names.map((name) => [name, randomBytes(24).toString('base64url')]));
}

/** The service's environment as deployed, with the bench's key and one key per load. */
function serviceEnvironment({ settings, databaseUrl, simulator }, integrationsFile, apiKey, loadKeys) {
  const keyHash = (key) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    UPSTREAM_BASE_URL: simulator.url,
    INTEGRATIONS_FILE: integrationsFile,
    API_KEYS: JSON.stringify([
      { name: 'bench', keyHash: keyHash(apiKey), scopes: ['read', 'operate'] },
      ...Object.keys(loadKeys).map((name) => ({
        name: `bench-${name}`,
        keyHash: keyHash(loadKeys[name]),
        scopes: ['read', 'operate'],
      })),
    ]),
    RATE_LIMIT_PER_MINUTE: '1000000',
    MAX_CONCURRENT_RUNS: String(settings.maxConcurrentRuns),
    // As deployed: LOG_LEVEL is left at its default (info), so every request writes its completion line.
  };
}

/**
 * The service's configuration and `launch(name, options)`, which starts a replica of it (stopped at cleanup and
 * listed in `replicas`). @returns launch, replicas, and the request headers of the bench's and the loads' keys
 */
export function startReplicaLauncher(harness) {
  const { settings, tmp, addCleanup } = harness;
  const integrationsFile = join(tmp, 'integrations.json');
  writeIntegrationsFile(integrationsFile, settings.integrationCount);
  const apiKey = randomBytes(24).toString('base64url');
  const loadKeys = loadKeysFor(settings);
  const env = serviceEnvironment(harness, integrationsFile, apiKey, loadKeys);
  const replicas = [];
  const launch = async (name, options = {}) => {
    const replica = await startService(
      name,
      { ...env, ...options.env },
      { ...options, logFile: join(tmp, `${name}.log`) },
    );
    replicas.push(replica);
    addCleanup(() => replica.stop());
    return replica;
  };
  const authFor = (name) => ({ authorization: `Bearer ${loadKeys[name]}` });
  return { launch, replicas, auth: { authorization: `Bearer ${apiKey}` }, authFor };
}

/** Migrates and syncs once, so that later starts find a migrated database. */
export async function prepareDatabase({ settings, log, launch }) {
  log(`preparing a database with ${settings.integrationCount} integrations`);
  const first = await launch('bench-setup');
  await first.ready();
  await first.stop();
}

/**
 * Target 6: starts the replica that the later steps measure, times spawn to ready, then reads its RSS and its CPU
 * while idle. @returns that replica and the figures
 */
export async function measureFootprint({ settings, log, launch }) {
  log('target 6: start to ready, idle RSS');
  const service = await launch('bench-a', { nodeArgs: profileArgs(settings, 'service') });
  const readyMs = await service.ready();
  await sleep(3_000);
  const idleRssMb = rssMb(service.child.pid);
  // What an idle replica costs: its timers (the ticker, the staleness check, the cache's heartbeat) over 10 s.
  const idleCpuBefore = cpuMs(service.child.pid);
  const idleSince = performance.now();
  await sleep(settings.quick ? 5_000 : 10_000);
  const idleCpuShare = ((cpuMs(service.child.pid) ?? 0) - (idleCpuBefore ?? 0)) / (performance.now() - idleSince);
  return { service, results: { readyMs, idleRssMb, idleCpuShare } };
}
