import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lets the write that records a run's end update its integration row in place (a HOT update: no new index entries),
 * which a sweep of thousands of runs does once per run:
 * - `integration_lease_expiry` goes: expired leases are found through the runs still `running` (`run_in_progress`),
 *   since a held lease always names a running run;
 * - `integration_max_sync_at` goes: nothing reads integrations in watermark order (the staleness gauge reads all);
 * - `integration` keeps half of each page free (fillfactor 50), so the new version of a row fits beside the old one.
 * A run's end then changes no indexed column of its integration (next_fire_at, the only one left, moves at claims).
 */
export class LetRunFinishesUpdateIntegrationsInPlace1795958400000 implements MigrationInterface {
  name = 'LetRunFinishesUpdateIntegrationsInPlace1795958400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX integration_lease_expiry`);
    await queryRunner.query(`DROP INDEX integration_max_sync_at`);
    // Applies to pages written from now on; rows rewritten by later updates move to such pages over time.
    await queryRunner.query(`ALTER TABLE integration SET (fillfactor = 50)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE integration RESET (fillfactor)`);
    await queryRunner.query(`CREATE INDEX integration_max_sync_at ON integration (max_sync_at)`);
    await queryRunner.query(
      `CREATE INDEX integration_lease_expiry ON integration (lease_expires_at) WHERE lease_expires_at IS NOT NULL`,
    );
  }
}
