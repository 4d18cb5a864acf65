// The read step of bench/bench.mjs, targets 1 and 2: the measured replica's GET one and GET page, with and without
// If-None-Match, in rounds with their baselines and peers (bare node:http servers, the replica at LOG_LEVEL=warn, a
// stock NestJS app), every server warmed up first.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOAD_TOOL, PRODUCTION_NODE_ARGS, ROOT, combineLoads, cpuMs, load, sleep, spawnUrlProcess } from './lib.mjs';

const ONE_PATH = `/integrations/1007/${encodeURIComponent('Feed 7')}`;
const LIST_PATH = '/integrations?limit=100';

/** The stock NestJS peer (bench/peers/stock-nest), compiled with the project's TypeScript, against `databaseUrl`. */
async function startStockNest(databaseUrl) {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'bench/peers/stock-nest'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  return spawnUrlProcess([...PRODUCTION_NODE_ARGS, join(ROOT, 'dist/bench-peers/stock-nest/main.js')], 20_000, {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
  });
}

/** One response of each read, for its size, its ETag and its head. */
async function sampleReads(service, auth) {
  const sample = await fetch(service.url + ONE_PATH, { headers: auth });
  const sampleBody = Buffer.from(await sample.arrayBuffer());
  const etag = sample.headers.get('etag');
  if (sample.status !== 200 || !etag) throw new Error(`GET ${ONE_PATH}: ${sample.status}, etag ${etag}`);
  const listSample = await fetch(service.url + LIST_PATH, { headers: auth });
  const listBytes = (await listSample.arrayBuffer()).byteLength;
  const listEtag = listSample.headers.get('etag');
  const notModified = await fetch(service.url + ONE_PATH, { headers: { ...auth, 'if-none-match': etag } });
  await notModified.arrayBuffer();
  return {
    headers: sample.headers,
    etag,
    listEtag,
    results: { conditionalStatus: notModified.status, payloadBytes: sampleBody.length, listBytes },
  };
}

/** A bare node:http server answering `bodyBytes` bytes (with the head in `headersFile` if given), stopped at cleanup. */
async function startBareServer({ addCleanup }, bodyBytes, headersFile) {
  const args = [join(ROOT, 'bench/bare-server.mjs'), String(bodyBytes)];
  const bare = await spawnUrlProcess(headersFile ? [...args, headersFile] : args);
  addCleanup(() => bare.stop());
  return bare;
}

/** The service's response head without the headers every server sends, for a bare server to send. */
function writeResponseHead(tmp, headers) {
  const headersFile = join(tmp, 'headers.json');
  const head = {};
  for (const [name, value] of headers)
    if (!/^(date|connection|keep-alive|content-length|content-type|transfer-encoding|x-request-id)$/i.test(name))
      head[name] = value;
  writeFileSync(headersFile, JSON.stringify(head));
  return headersFile;
}

/**
 * Starts the baselines and peers and warms every server up unmeasured, so that the figures are steady-state ones,
 * not JIT warm-up. @returns the servers by name
 */
async function startReadServers(harness, sample) {
  const { settings, log, service, auth, launch } = harness;
  const bare = await startBareServer(harness, sample.results.payloadBytes);
  // For reference: the same build at LOG_LEVEL=warn (no request lines), and a stock NestJS app on the same table.
  const quiet = await launch('bench-warn', { env: { LOG_LEVEL: 'warn' } });
  await quiet.ready();
  const stock = await startStockNest(harness.databaseUrl);
  harness.addCleanup(() => stock.stop());
  const stockSample = await fetch(stock.url + ONE_PATH);
  if (stockSample.status !== 200) throw new Error(`stock NestJS GET ${ONE_PATH}: ${stockSample.status}`);
  await stockSample.arrayBuffer();
  log(
    `target 1: bare node:http vs GET ${ONE_PATH} (${sample.results.payloadBytes} bytes), ${LOAD_TOOL}, 50 connections`,
  );
  const seconds = settings.quick ? 1 : 2;
  await load({ url: bare.url, seconds });
  await load({ url: service.url + ONE_PATH, seconds, headers: auth });
  await load({ url: quiet.url + ONE_PATH, seconds, headers: auth });
  await load({ url: stock.url + ONE_PATH, seconds });
  await load({ url: service.url + LIST_PATH, seconds, headers: auth });
  // For reference: the same bare server sending the service's response head (security, rate-limit, ETag headers).
  const bareHead = await startBareServer(
    harness,
    sample.results.payloadBytes,
    writeResponseHead(harness.tmp, sample.headers),
  );
  await load({ url: bareHead.url, seconds });
  // For reference: the bare server sending a body of the page's size, the ceiling of target 2's ratio.
  const barePage = await startBareServer(harness, sample.results.listBytes);
  await load({ url: barePage.url, seconds });
  return { bare, quiet, stock, bareHead, barePage };
}

/**
 * The replica's longest event-loop delay since the last call, ms: prom-client's `nodejs_eventloop_lag_max_seconds`,
 * whose histogram restarts at every scrape. Read before and after a load, it tells a stall of the service's own
 * event loop (a long task, a collection) from one of the machine or the load generator.
 */
async function loopLagMaxMs(url) {
  return loopLagMaxMsOf(await (await fetch(`${url}/metrics`)).text());
}

/** `nodejs_eventloop_lag_max_seconds` of a scrape, ms, or null when it holds none. */
function loopLagMaxMsOf(metrics) {
  const seconds = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1];
  return seconds === undefined ? null : Number(seconds) * 1000;
}

/**
 * Six Prometheus scrapes of the replica in a row (the state of every integration, the runs it made): the body's
 * size, the median time to the last byte, and the longest event-loop delay they caused. Each scrape's reading of
 * `nodejs_eventloop_lag_max_seconds` covers the scrape before it, so the first reading is left out.
 */
async function measureScrapes(url) {
  const times = [];
  const lagsMs = [];
  let bytes = 0;
  for (let i = 0; i < 6; i++) {
    const started = performance.now();
    const text = await (await fetch(`${url}/metrics`)).text();
    times.push(performance.now() - started);
    bytes = Buffer.byteLength(text);
    if (i > 0) lagsMs.push(loopLagMaxMsOf(text));
  }
  times.sort((a, b) => a - b);
  return { bytes, medianMs: (times[2] + times[3]) / 2, longestLoopDelayMs: Math.max(...lagsMs) };
}

/** Now on the monotonic clock that V8's CPU profiles use, µs. */
function monotonicUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

/** One round of every read load, each with a key of its own, in this order; pushed onto `rounds`. */
async function readRound({ settings, service, authFor, profileWindows }, servers, sample, round, rounds) {
  const { bare, quiet, stock, bareHead, barePage } = servers;
  const seconds = settings.readRoundSeconds;
  const pid = service.child.pid;
  rounds.bare.push(await load({ url: bare.url, seconds, pid: bare.child.pid }));
  await loopLagMaxMs(service.url);
  const startUs = monotonicUs();
  rounds.single.push(await load({ url: service.url + ONE_PATH, seconds, headers: authFor(`one-${round}`), pid }));
  if (settings.profile) profileWindows[`GET one, round ${round}`] = [startUs, monotonicUs()];
  rounds.singleLoopLagMs.push(await loopLagMaxMs(service.url));
  rounds.singleWarn.push(
    await load({ url: quiet.url + ONE_PATH, seconds, headers: authFor(`one-warn-${round}`), pid: quiet.child.pid }),
  );
  rounds.stockNest.push(await load({ url: stock.url + ONE_PATH, seconds, pid: stock.child.pid }));
  const oneNotModified = { ...authFor(`one-304-${round}`), 'if-none-match': sample.etag };
  rounds.conditional.push(await load({ url: service.url + ONE_PATH, seconds, headers: oneNotModified, pid }));
  rounds.list.push(await load({ url: service.url + LIST_PATH, seconds, headers: authFor(`list-${round}`), pid }));
  const listNotModified = { ...authFor(`list-304-${round}`), 'if-none-match': sample.listEtag };
  rounds.listConditional.push(await load({ url: service.url + LIST_PATH, seconds, headers: listNotModified, pid }));
  rounds.bareWithHead.push(await load({ url: bareHead.url, seconds, pid: bareHead.child.pid }));
  rounds.barePage.push(await load({ url: barePage.url, seconds, pid: barePage.child.pid }));
}

/** The rounds of each load combined into one figure per load, named as the report reads them. */
function combineReadRounds({ singleLoopLagMs, ...rounds }) {
  const [bareAll, single, singleWarn, stockNest, conditional, list, listConditional, bareWithHead, barePageAll] =
    Object.values(rounds).map(combineLoads);
  // A refused request (a 429 above all) is not the read being measured: such a load measures nothing.
  for (const [name, result] of Object.entries({ single, singleWarn, stockNest, conditional, list, listConditional })) {
    if (result.failed > 0)
      throw new Error(`load ${name}: ${result.failed} of ${result.requests} responses had a status of 400 or above`);
  }
  return {
    bare1: bareAll,
    bareRounds: rounds.bare.map((r) => r.rps),
    bareRps: bareAll.rps,
    bareWithHead,
    barePage: barePageAll,
    single: { ...single, loopLagMsRounds: singleLoopLagMs },
    singleWarn,
    stockNest,
    conditional,
    list,
    listConditional,
  };
}

/**
 * After the sweeps, lets the database and the replica come to rest before the reads: VACUUM and CHECKPOINT the sweeps'
 * rows (the autovacuum and checkpoint they would start meanwhile share the two cores with the replica and the load
 * generator; Postgres runs on other machines in a deployment), then waits, at most 10 s, for a second in which the
 * replica spends under 5 % of a core (what the sweeps left it to do: events, staleness checks).
 */
async function settleAfterSweeps({ sql, service, log }) {
  await sql('VACUUM (ANALYZE)');
  await sql('CHECKPOINT');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const before = cpuMs(service.child.pid) ?? 0;
    await sleep(1_000);
    const share = ((cpuMs(service.child.pid) ?? 0) - before) / 1_000;
    if (share < 0.05 || Date.now() > deadline) {
      log(`reads: after the sweeps, the replica at ${(share * 100).toFixed(1)} % of a core before the loads`);
      return;
    }
  }
}

/** Targets 1 and 2 with their reference rows. @returns the figures the report's read rows and detail line use */
export async function measureReads(harness) {
  const { settings, log } = harness;
  if (settings.wants('sweeps')) await settleAfterSweeps(harness);
  const sample = await sampleReads(harness.service, harness.auth);
  const servers = await startReadServers(harness, sample);
  log(
    `target 2: GET ${LIST_PATH} (${sample.results.listBytes} bytes); ${settings.readRounds} rounds of bare, GET one, 304, page, page 304, bare with the head, bare with a page-sized body, ${settings.readRoundSeconds} s each`,
  );
  // The order of the keys is the order of combineReadRounds's names; the loop delays are not loads.
  const rounds = {
    bare: [],
    single: [],
    singleWarn: [],
    stockNest: [],
    conditional: [],
    list: [],
    listConditional: [],
    bareWithHead: [],
    barePage: [],
    singleLoopLagMs: [],
  };
  for (let round = 1; round <= settings.readRounds; round++) await readRound(harness, servers, sample, round, rounds);
  for (const name of ['bare', 'bareHead', 'barePage', 'stock', 'quiet']) await servers[name].stop();
  return { ...sample.results, ...combineReadRounds(rounds), scrape: await measureScrapes(harness.service.url) };
}
