import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The integration state (one row per source system + integration, with the watermark) and the run history.
 *
 * Watermarks are kept three ways, for three readers: the upstream's exact text (what we serve), a timestamptz
 * floored to µs (indexed, for queries; floored because a later instant would make a consumer skip rows), and the
 * keyset cursor's PK id as bigint. `integration_name` uses the "C" collation so that keyset paging is byte-ordered
 * and stable whatever the database's default collation.
 */
export class CreateIntegrationAndRunTables1795948200000 implements MigrationInterface {
  name = 'CreateIntegrationAndRunTables1795948200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE integration (
        id                      bigserial PRIMARY KEY,
        source_system_id        integer NOT NULL CHECK (source_system_id >= 0),
        integration_name        text COLLATE "C" NOT NULL CHECK (length(integration_name) BETWEEN 1 AND 256),
        cron                    text NOT NULL,
        time_zone               text NOT NULL,
        misfire_policy          text NOT NULL CHECK (misfire_policy IN ('fire_once_now', 'skip')),
        enabled                 boolean NOT NULL DEFAULT true,
        paused                  boolean NOT NULL DEFAULT false,
        next_fire_at            timestamptz,
        lease_owner             text,
        lease_run_id            bigint,
        lease_expires_at        timestamptz,
        last_status             jsonb,
        max_sync_date_time      text,
        max_sync_date_time_utc  text,
        max_sync_at             timestamptz,
        max_sync_pk_id          bigint,
        custom_database_values  jsonb,
        last_run_id             bigint,
        last_succeeded_at       timestamptz,
        consecutive_failures    integer NOT NULL DEFAULT 0,
        version                 bigint NOT NULL DEFAULT 1,
        created_at              timestamptz NOT NULL DEFAULT now(),
        updated_at              timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT integration_identity UNIQUE (source_system_id, integration_name),
        CONSTRAINT integration_lease_whole CHECK (
          (lease_owner IS NULL) = (lease_run_id IS NULL) AND (lease_owner IS NULL) = (lease_expires_at IS NULL)
        )
      )`);
    await queryRunner.query(`CREATE INDEX integration_due ON integration (next_fire_at) WHERE enabled AND NOT paused`);
    await queryRunner.query(
      `CREATE INDEX integration_lease_expiry ON integration (lease_expires_at) WHERE lease_expires_at IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX integration_max_sync_at ON integration (max_sync_at)`);

    await queryRunner.query(`
      CREATE TABLE run (
        id                bigserial PRIMARY KEY,
        integration_id    bigint NOT NULL REFERENCES integration (id) ON DELETE CASCADE,
        trigger           text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
        scheduled_for     timestamptz,
        replica_id        text NOT NULL,
        started_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at       timestamptz,
        outcome           text NOT NULL CHECK (outcome IN
                            ('running', 'succeeded', 'failed', 'abandoned', 'interrupted', 'skipped_breaker_open')),
        error_code        text,
        error             text,
        http_status       integer,
        watermark_before  jsonb,
        watermark_after   jsonb,
        status            jsonb,
        CONSTRAINT run_scheduled_has_tick CHECK ((trigger = 'schedule') = (scheduled_for IS NOT NULL)),
        CONSTRAINT run_finished_when_done CHECK ((outcome = 'running') = (finished_at IS NULL)),
        -- One run per (integration, fire time): the database, not a replica, decides who runs a tick.
        CONSTRAINT run_one_per_tick UNIQUE (integration_id, scheduled_for)
      )`);
    await queryRunner.query(`CREATE INDEX run_history ON run (integration_id, id DESC)`);
    await queryRunner.query(`CREATE INDEX run_started_at ON run (started_at)`);
    await queryRunner.query(`CREATE INDEX run_in_progress ON run (id) WHERE outcome = 'running'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE run`);
    await queryRunner.query(`DROP TABLE integration`);
  }
}
