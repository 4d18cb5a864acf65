// Delivery load: N watermark events (10,000; 2,000 with --quick) committed at once to the outbox, delivered by one
// Tidemark process to one webhook subscription on loopback (a receiver answering 204). Reports deliveries/s from
// the commit of the events to the last delivery recorded. Run by `npm run bench` (`--only=events` for this alone),
// or directly: `node bench/events.mjs [--quick]` with BENCH_DATABASE_URL set (after `npm run build`).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { freePort, query, sleep, startService } from './lib.mjs';

const INTEGRATIONS = 100;

/** @returns {{ events: number, seconds: number, deliveriesPerSecond: number, received: number }} */
export async function measureDeliveries({ adminUrl, quick = false, log = () => undefined }) {
  const events = quick ? 2_000 : 10_000;
  const dbName = `tidemark_bench_events_${process.pid}_${randomBytes(3).toString('hex')}`;
  await query(adminUrl, `CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;
  const databaseUrl = dbUrl.toString();
  const receiver = await startReceiver();
  const service = await startService('bench-events', serviceEnv(databaseUrl, receiver.port));
  try {
    await service.ready();
    log(`events: committing ${events} watermark events over ${INTEGRATIONS} integrations`);
    const started = performance.now();
    await commitEvents(databaseUrl, events);
    await waitForDeliveries(databaseUrl, events);
    const seconds = (performance.now() - started) / 1000;
    const result = { events, seconds, deliveriesPerSecond: events / seconds, received: receiver.received() };
    log(
      `events: ${events} delivered in ${seconds.toFixed(1)} s: ${result.deliveriesPerSecond.toFixed(0)} deliveries/s`,
    );
    return result;
  } finally {
    await service.stop();
    await receiver.close();
    await query(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
}

/** A webhook receiver on loopback answering 204 to every delivery, counting them. */
async function startReceiver() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, received: () => received, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** One Tidemark process with one webhook subscription to the receiver on `port`, and no upstream it would call. */
function serviceEnv(databaseUrl, port) {
  return {
    DATABASE_URL: databaseUrl,
    UPSTREAM_BASE_URL: 'http://127.0.0.1:9',
    INTEGRATIONS: JSON.stringify([{ sourceSystemId: 1, integrationName: 'Bench', cron: '0 0 0 1 1 *' }]),
    LOG_LEVEL: 'warn',
    WEBHOOKS: JSON.stringify([
      {
        name: 'bench',
        url: `http://127.0.0.1:${port}/hook`,
        secret: `whsec_${randomBytes(32).toString('base64')}`,
        types: ['tidemark.watermark.*'],
      },
    ]),
  };
}

/** Commits `events` watermark events at once, spread over INTEGRATIONS integrations. */
async function commitEvents(databaseUrl, events) {
  await query(
    databaseUrl,
    `INSERT INTO event (type, source, subject, integration_id, run_id, data)
     SELECT 'tidemark.watermark.advanced', 'urn:tidemark', '1/Feed ' || (n % $2), n % $2 + 1, n,
            jsonb_build_object('runId', n::text, 'trigger', 'schedule',
              'before', jsonb_build_object('maxSyncDateTime', '2026-01-31T17:59:59.9999999-06:00',
                'maxSyncDateTimeUtc', '2026-01-31T23:59:59.9999999Z', 'maxSyncDateMaxPkId', n::text),
              'after', jsonb_build_object('maxSyncDateTime', '2026-01-31T18:00:00.0000000-06:00',
                'maxSyncDateTimeUtc', '2026-02-01T00:00:00.0000000Z', 'maxSyncDateMaxPkId', (n + 1)::text))
     FROM generate_series(1, $1) AS n`,
    [events, INTEGRATIONS],
  );
}

/** Waits until `events` deliveries are recorded as delivered, within 300 s. */
async function waitForDeliveries(databaseUrl, events) {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const [row] = await query(
      databaseUrl,
      `SELECT count(*)::int AS n FROM webhook_delivery WHERE status = 'delivered'`,
    );
    if (row.n >= events) return;
    if (Date.now() > deadline) throw new Error(`events: only ${row.n} of ${events} delivered within 300 s`);
    await sleep(50);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) throw new Error('set BENCH_DATABASE_URL (a Postgres URL that may create databases)');
  const result = await measureDeliveries({
    adminUrl,
    quick: process.argv.includes('--quick'),
    log: (message) => process.stderr.write(`[bench] ${message}\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
