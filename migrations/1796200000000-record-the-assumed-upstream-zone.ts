import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `integration.max_sync_zone_assumed`: the IANA zone the stored watermark's text was read in because it carried no
 * offset, null when it carried one (or there is no watermark). Nullable without a default, so adding it rewrites no
 * row.
 */
export class RecordTheAssumedUpstreamZone1796200000000 implements MigrationInterface {
  name = 'RecordTheAssumedUpstreamZone1796200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE integration ADD COLUMN max_sync_zone_assumed text`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE integration DROP COLUMN max_sync_zone_assumed`);
  }
}
