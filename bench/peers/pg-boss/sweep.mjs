// The bench's sweep peer: pg-boss, the Postgres job queue Node teams reach for, doing a sweep's work. N jobs are
// queued at once; each makes the IntegrationStart call to the same upstream through axios and upserts the
// watermark it answers through a TypeORM repository. 200 jobs at a time, as Tidemark's MAX_CONCURRENT_RUNS: 20
// workers fetching 10 jobs each and fetching again at once while their fetches come back full (pg-boss's tuning for a
// backlog; one job per worker would wait its polling interval between fetches). Prints one JSON line: the ms from queueing to the last job's completion, and the CPU this
// process spent.
// usage: node bench/peers/pg-boss/sweep.mjs <databaseUrl> <upstreamUrl> <jobs>
import axios from 'axios';
import { PgBoss } from 'pg-boss';
import { EntitySchema, DataSource } from 'typeorm';

const [databaseUrl, upstreamUrl, jobsArg] = process.argv.slice(2);
const JOBS = Number(jobsArg);
const WORKERS = 20;
const BATCH = 10;
const QUEUE = 'integration-start';

const Watermark = new EntitySchema({
  name: 'PeerWatermark',
  tableName: 'peer_watermark',
  columns: {
    sourceSystemId: { name: 'source_system_id', type: 'integer', primary: true },
    integrationName: { name: 'integration_name', type: 'text', primary: true },
    maxSyncDateTime: { name: 'max_sync_date_time', type: 'text', nullable: true },
    maxSyncPkId: { name: 'max_sync_pk_id', type: 'bigint', nullable: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz' },
  },
});

const dataSource = new DataSource({
  type: 'postgres',
  url: databaseUrl,
  entities: [Watermark],
  synchronize: true,
  extra: { max: 20 },
});
await dataSource.initialize();
const watermarks = dataSource.getRepository(Watermark);
const http = axios.create({ baseURL: upstreamUrl, timeout: 30_000 });

const boss = new PgBoss({ connectionString: databaseUrl, max: 20 });
boss.on('error', (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
await boss.start();
await boss.createQueue(QUEUE);

let done = 0;
let failed = 0;
let finish;
const finished = new Promise((resolve) => (finish = resolve));
const options = { localConcurrency: WORKERS, batchSize: BATCH, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 };
await boss.work(QUEUE, options, (jobs) => Promise.all(jobs.map(runJob)));

async function runJob(job) {
  try {
    const { sourceSystemId, integrationName } = job.data;
    const { data } = await http.post(
      '/api/integration/IntegrationStatus/IntegrationStart',
      { SourceSystemId: sourceSystemId, IntegrationName: integrationName },
      { headers: { accept: 'application/json' } },
    );
    await watermarks.upsert(
      {
        sourceSystemId,
        integrationName,
        maxSyncDateTime: data.MaxSyncDateTime ?? null,
        maxSyncPkId: data.MaxSyncDateMaxPKId === undefined ? null : String(data.MaxSyncDateMaxPKId),
        updatedAt: new Date(),
      },
      ['sourceSystemId', 'integrationName'],
    );
  } catch (error) {
    failed += 1;
    process.stderr.write(`job ${job.id}: ${error.message}\n`);
  } finally {
    done += 1;
    if (done === JOBS) finish();
  }
}

const cpuBefore = process.cpuUsage();
const startedAt = performance.now();
const jobs = Array.from({ length: JOBS }, (_, i) => ({
  data: { sourceSystemId: 1000 + (i % 500), integrationName: `Feed ${i}` },
}));
for (let i = 0; i < jobs.length; i += 1000) await boss.insert(QUEUE, jobs.slice(i, i + 1000));
await finished;
const ms = performance.now() - startedAt;
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ jobs: JOBS, failed, ms, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
await boss.stop({ graceful: false, wait: false }).catch(() => undefined);
await dataSource.destroy();
process.exit(0);
