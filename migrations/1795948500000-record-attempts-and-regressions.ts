import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Keeps what a run learned about the upstream's behaviour: every HTTP attempt (status, duration, error), whether a
 * retried attempt followed one whose outcome was unknown (a timeout after the POST was sent), and whether the
 * answer moved the watermark backwards.
 */
export class RecordAttemptsAndRegressions1795948500000 implements MigrationInterface {
  name = 'RecordAttemptsAndRegressions1795948500000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE run
        ADD COLUMN attempts jsonb NOT NULL DEFAULT '[]'::jsonb,
        ADD COLUMN outcome_unknown_retried boolean NOT NULL DEFAULT false,
        ADD COLUMN watermark_regressed boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`CREATE INDEX run_regressed ON run (integration_id) WHERE watermark_regressed`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX run_regressed`);
    await queryRunner.query(`
      ALTER TABLE run DROP COLUMN watermark_regressed, DROP COLUMN outcome_unknown_retried, DROP COLUMN attempts`);
  }
}
