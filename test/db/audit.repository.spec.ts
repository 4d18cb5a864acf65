import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { AuditRepository, type AuditEntry } from '../../src/persistence/audit.repository';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { PauseRepository } from '../../src/persistence/pause.repository';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import { createTestDatabase, type TestDatabase } from '../support/database';

const entry = (n: number, sourceSystemId: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  actor: `operator-${n}`,
  action: 'pause',
  sourceSystemId,
  integrationName: `Integration ${n}`,
  integrationId: null,
  reason: `reason ${n}`,
  before: { paused: false },
  after: { paused: true, n },
  ...extra,
});

describe('AuditRepository and PauseRepository on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let audit: AuditRepository;
  let pauses: PauseRepository;
  let state: IntegrationsRepository;

  beforeAll(async () => {
    db = await createTestDatabase('audit');
    dataSource = createDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
    audit = new AuditRepository(dataSource);
    pauses = new PauseRepository(dataSource, audit);
    state = new IntegrationsRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('appends entries in order and pages them newest first, by source system and integration', async () => {
    await audit.append([entry(1, 5), entry(2, 6), entry(3, 5, { reason: null, before: null, after: null })]);
    await audit.append([entry(4, 5, { action: 'run', integrationName: 'Integration 1' })]);
    const first = await audit.list({ limit: 2, sourceSystemId: 5 });
    expect(first.hasMore).toBe(true);
    expect(first.items.map((e) => [e.actor, e.action, e.integrationName, e.reason, e.before, e.after])).toStrictEqual([
      ['operator-4', 'run', 'Integration 1', 'reason 4', { paused: false }, { paused: true, n: 4 }],
      ['operator-3', 'pause', 'Integration 3', null, null, null],
    ]);
    const second = await audit.list({ limit: 2, sourceSystemId: 5, beforeId: first.items[1].id });
    expect(second.hasMore).toBe(false);
    expect(second.items.map((e) => e.actor)).toStrictEqual(['operator-1']);
    const ofOne = await audit.list({ limit: 10, sourceSystemId: 5, integrationName: 'Integration 1' });
    expect(ofOne.items.map((e) => e.actor)).toStrictEqual(['operator-4', 'operator-1']);
    const all = await audit.list({ limit: 10 });
    expect(all.items.map((e) => e.actor)).toStrictEqual(['operator-4', 'operator-3', 'operator-2', 'operator-1']);
    expect(all.items.map((e) => Number(e.id))).toStrictEqual(
      [...all.items.map((e) => Number(e.id))].sort((a, b) => b - a),
    );
  });

  it('refuses an unknown action (the table names what may be audited)', async () => {
    await expect(audit.append([entry(9, 5, { action: 'delete' as AuditEntry['action'] })])).rejects.toThrow(
      /audit_action_check/,
    );
  });

  it('pauses with reason and end, resumes by itself once the end passed, and audits both in order', async () => {
    await state.syncIntegrations(
      [
        {
          sourceSystemId: 8,
          integrationName: 'A',
          cron: '0 */5 * * * *',
          timeZone: 'UTC',
          enabled: true,
          misfirePolicy: 'skip',
        },
        {
          sourceSystemId: 8,
          integrationName: 'B',
          cron: '0 */5 * * * *',
          timeZone: 'UTC',
          enabled: true,
          misfirePolicy: 'skip',
        },
      ],
      nextFireTime,
    );
    const until = new Date(Date.now() + 60_000);
    const paused = await pauses.pause({ sourceSystemId: 8 }, { actor: 'ops', reason: 'upstream upgrade', until });
    expect(paused.map((c) => [c.integrationName, c.before.paused, c.after])).toStrictEqual([
      [
        'A',
        false,
        { paused: true, reason: 'upstream upgrade', pausedBy: 'ops', pausedAt: paused[0].after.pausedAt, until },
      ],
      [
        'B',
        false,
        { paused: true, reason: 'upstream upgrade', pausedBy: 'ops', pausedAt: paused[0].after.pausedAt, until },
      ],
    ]);
    // A second bulk pause changes nothing: both are paused already.
    expect(await pauses.pause({ sourceSystemId: 8 }, { actor: 'ops', reason: 'again', until: null })).toStrictEqual([]);
    expect(await pauses.resumeEnded(nextFireTime)).toStrictEqual([]);

    await dataSource.query(
      `UPDATE integration SET paused_until = now() - interval '1 second' WHERE integration_name = 'A'`,
    );
    const resumed = await pauses.resumeEnded(nextFireTime);
    expect(resumed.map((c) => [c.integrationName, c.before.reason, c.after.paused])).toStrictEqual([
      ['A', 'upstream upgrade', false],
    ]);
    const a = (await state.findIntegration(8, 'A'))!;
    expect([a.paused, a.nextFireAt?.getTime()]).toStrictEqual([false, resumed[0].nextFireAt?.getTime()]);
    expect((await pauses.findPause(a.id))!).toStrictEqual({
      paused: false,
      reason: null,
      pausedBy: null,
      pausedAt: null,
      until: null,
    });
    expect(await pauses.resumeEnded(nextFireTime)).toStrictEqual([]);

    const trail = await audit.list({ limit: 10, sourceSystemId: 8 });
    expect(
      trail.items.map((e) => [e.actor, e.action, e.integrationName, e.reason, e.before?.paused, e.after?.paused]),
    ).toStrictEqual([
      ['system', 'resume', 'A', 'the pause ended', true, false],
      ['ops', 'pause', 'B', 'upstream upgrade', false, true],
      ['ops', 'pause', 'A', 'upstream upgrade', false, true],
    ]);
    expect(trail.items[0].after).toStrictEqual({
      paused: false,
      reason: null,
      pausedBy: null,
      pausedAt: null,
      until: null,
      nextFireAt: resumed[0].nextFireAt!.toISOString(),
    });
  });

  it('lets only one of two concurrent automatic resumes act on an ended pause', async () => {
    const b = (await state.findIntegration(8, 'B'))!;
    await dataSource.query(`UPDATE integration SET paused_until = now() - interval '1 second' WHERE id = $1`, [b.id]);
    const [one, two] = await Promise.all([pauses.resumeEnded(nextFireTime), pauses.resumeEnded(nextFireTime)]);
    expect([...one, ...two].map((c) => c.integrationName)).toStrictEqual(['B']);
    const trail = await audit.list({ limit: 10, sourceSystemId: 8, integrationName: 'B' });
    expect(trail.items.map((e) => [e.actor, e.action])).toStrictEqual([
      ['system', 'resume'],
      ['ops', 'pause'],
    ]);
  });
});
