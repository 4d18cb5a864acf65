import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The operators' audit trail and the reason of a pause.
 *
 * `audit` is append-only: the service only ever INSERTs into it (every manual run, pause, resume and automatic
 * resume, with who, when, why and the state before and after). Rows name their integration by identity as well as
 * by id, so an entry stays readable after its integration row is gone; `integration_id` has no foreign key for the
 * same reason. A pause carries its reason, who paused, when, and optionally when it ends by itself
 * (`paused_until`, acted on by whichever replica's scheduler tick sees it pass first).
 */
export class AuditAndPauseReason1796100000000 implements MigrationInterface {
  name = 'AuditAndPauseReason1796100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit (
        id                bigserial PRIMARY KEY,
        at                timestamptz NOT NULL DEFAULT now(),
        actor             text NOT NULL CHECK (length(actor) BETWEEN 1 AND 256),
        action            text NOT NULL CHECK (action IN ('run', 'pause', 'resume')),
        source_system_id  integer NOT NULL CHECK (source_system_id >= 0),
        integration_name  text COLLATE "C" NOT NULL,
        integration_id    bigint,
        reason            text,
        before            jsonb,
        after             jsonb
      )`);
    await queryRunner.query(`CREATE INDEX audit_by_source_system ON audit (source_system_id, id DESC)`);
    await queryRunner.query(`CREATE INDEX audit_by_integration ON audit (integration_id, id DESC)`);
    await queryRunner.query(`
      ALTER TABLE integration
        ADD COLUMN pause_reason text,
        ADD COLUMN paused_at timestamptz,
        ADD COLUMN paused_by text,
        ADD COLUMN paused_until timestamptz`);
    await queryRunner.query(
      `CREATE INDEX integration_pause_ends ON integration (paused_until) WHERE paused AND paused_until IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX integration_pause_ends`);
    await queryRunner.query(`
      ALTER TABLE integration
        DROP COLUMN paused_until, DROP COLUMN paused_by, DROP COLUMN paused_at, DROP COLUMN pause_reason`);
    await queryRunner.query(`DROP TABLE audit`);
  }
}
