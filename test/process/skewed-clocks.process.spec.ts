import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startReplica, type Replica } from '../support/replica';

/**
 * Replicas whose whole process sees a skewed wall clock (libfaketime moves every clock the C library reports, not
 * only JS `Date`), each running the same integrations on a 1-second cron: every tick of every integration must run
 * exactly once, with no gap.
 */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const haveFaketime = existsSync(LIBFAKETIME);
if (!haveFaketime && !process.env.CI) {
  console.warn(
    `skewed-clocks.process.spec: skipped, libfaketime is absent (${LIBFAKETIME}); install it with "apt-get install faketime"`,
  );
}

const INTEGRATION_COUNT = 10;
const RUN_FOR_MS = 20_000;
/** Two calls of one integration on a 1 s cron further apart than this mean a tick was lost. */
const MAX_GAP_MS = 1_900;

describe.skipIf(!haveFaketime && !process.env.CI)('replicas with skewed process clocks (libfaketime)', () => {
  let simulator: UpstreamSimulator;
  let upstream: string;
  let db: TestDatabase;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    if (!haveFaketime)
      throw new Error(`CI is set but libfaketime is absent (${LIBFAKETIME}): apt-get install faketime`);
    simulator = new UpstreamSimulator();
    upstream = await simulator.start();
    db = await createTestDatabase('skew');
  });

  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((r) => r.stop('SIGKILL')));
  });

  afterAll(async () => {
    await simulator?.stop();
    await db?.drop();
  });

  async function query<T>(text: string): Promise<T[]> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query(text)).rows as T[];
    } finally {
      await client.end();
    }
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('clocks +1 s, 0 and -1 s, 10 integrations on a 1 s cron for 20 s: every tick runs exactly once, none is skipped', async () => {
    const integrations = JSON.stringify(
      Array.from({ length: INTEGRATION_COUNT }, (_, i) => ({
        sourceSystemId: 200 + i,
        integrationName: `Skewed ${i}`,
        cron: '* * * * * *',
      })),
    );
    const skews: Record<string, string> = { ahead: '+1s', ontime: '+0s', behind: '-1s' };
    const started = await Promise.all(
      Object.entries(skews).map(async ([name, offset]) => {
        const replica = await startReplica(`skew-${name}`, {
          UPSTREAM_BASE_URL: upstream,
          DATABASE_URL: db.url,
          INTEGRATIONS: integrations,
          LD_PRELOAD: LIBFAKETIME,
          FAKETIME: offset,
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        });
        replicas.push(replica);
        return replica;
      }),
    );
    // A loaded machine boots three services slowly; the ticks are counted from the first run on.
    await Promise.all(started.map((r) => r.ready(90_000)));
    // The skew is real: each replica's HTTP Date header comes from its own (faked) clock.
    const clocks = await Promise.all(
      started.map(async (r) => Date.parse((await fetch(`${r.url}/health/live`)).headers.get('date') ?? '')),
    );
    expect(clocks[0] - clocks[2]).toBeGreaterThanOrEqual(1_000);
    await sleep(RUN_FOR_MS);
    await Promise.all(started.map((r) => r.stop('SIGTERM')));

    const output = started.map((r) => r.output()).join('\n');
    expect(output).not.toMatch(/skipped: the previous run is still going/);

    const runs = await query<{ source_system_id: number; seconds: string[]; outcomes: string[]; replicas: string[] }>(
      `SELECT i.source_system_id,
              array_agg(floor(EXTRACT(EPOCH FROM r.scheduled_for))::text ORDER BY r.scheduled_for) AS seconds,
              array_agg(DISTINCT r.outcome) AS outcomes, array_agg(DISTINCT r.replica_id) AS replicas
       FROM run r JOIN integration i ON i.id = r.integration_id
       GROUP BY i.source_system_id ORDER BY 1`,
    );
    expect(runs.map((r) => r.source_system_id)).toStrictEqual(
      Array.from({ length: INTEGRATION_COUNT }, (_, i) => 200 + i),
    );
    const replicasUsed = new Set<string>();
    for (const row of runs) {
      row.replicas.forEach((r) => replicasUsed.add(r));
      expect(row.outcomes).toStrictEqual(['succeeded']);
      // One run per tick and no tick missing between the first and the last.
      const seconds = row.seconds.map(Number);
      expect(seconds.length).toBeGreaterThanOrEqual(RUN_FOR_MS / 1000 - 2);
      expect(seconds).toStrictEqual(seconds.map((_, i) => seconds[0] + i));

      const key = { sourceSystemId: row.source_system_id, integrationName: `Skewed ${row.source_system_id - 200}` };
      const calls = simulator.calls
        .filter((c) => c.sourceSystemId === key.sourceSystemId && c.integrationName === key.integrationName)
        .map((c) => c.receivedAt);
      expect(calls.length).toBe(seconds.length);
      const gaps = calls.slice(1).map((at, i) => at - calls[i]);
      expect(gaps.filter((gap) => gap > MAX_GAP_MS)).toStrictEqual([]);
    }
    expect(replicasUsed.size).toBeGreaterThan(1);
  }, 90_000);
});
