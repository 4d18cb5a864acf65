import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox and webhook deliveries.
 *
 * - `event`: one row per change that matters, inserted by the transaction that made the change. `txid` is that
 *   transaction's id: readers take events in (txid, id) order and only below the oldest transaction still running
 *   (`pg_snapshot_xmin`), so an event that commits late can never be skipped by a reader that already moved on.
 * - `webhook_cursor`: per subscription, the (txid, id) position up to which events became deliveries.
 * - `webhook_delivery`: one row per (subscription, event), claimed by any replica with `FOR UPDATE SKIP LOCKED`;
 *   `webhook_delivery_pending` finds the oldest pending delivery of each (subscription, integration).
 * - `integration_staleness`: the stale flag that a conditional update flips once across replicas.
 * - Statement triggers send `NOTIFY tidemark_events` when events ('e') or deliveries ('d') are inserted, on commit,
 *   so every replica streams and delivers without waiting for a poll, whichever code path wrote the rows.
 */
export class EventOutbox1795970000000 implements MigrationInterface {
  name = 'EventOutbox1795970000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE event (
        id bigserial PRIMARY KEY,
        txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        type text NOT NULL,
        source text NOT NULL,
        subject text NOT NULL,
        integration_id bigint,
        run_id bigint,
        time timestamptz NOT NULL DEFAULT clock_timestamp(),
        data jsonb NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX event_position ON event (txid, id)`);
    await queryRunner.query(`CREATE INDEX event_time ON event (time)`);
    await queryRunner.query(`
      CREATE TABLE webhook_cursor (
        subscription text PRIMARY KEY,
        txid xid8 NOT NULL,
        event_id bigint NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE webhook_delivery (
        id bigserial PRIMARY KEY,
        event_id bigint NOT NULL REFERENCES event (id) ON DELETE CASCADE,
        subscription text NOT NULL,
        integration_id bigint,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'exhausted')),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_owner text,
        lease_expires_at timestamptz,
        last_status int,
        last_error text,
        latency_ms int,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        UNIQUE (subscription, event_id)
      )`);
    await queryRunner.query(
      `CREATE INDEX webhook_delivery_pending ON webhook_delivery (subscription, integration_id, id) WHERE status = 'pending'`,
    );
    await queryRunner.query(`CREATE INDEX webhook_delivery_event ON webhook_delivery (event_id)`);
    await queryRunner.query(`CREATE INDEX webhook_delivery_list ON webhook_delivery (subscription, id)`);
    await queryRunner.query(`
      CREATE TABLE integration_staleness (
        integration_id bigint PRIMARY KEY REFERENCES integration (id),
        stale boolean NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE FUNCTION tidemark_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM inserted) THEN
          PERFORM pg_notify('tidemark_events', TG_ARGV[0]);
        END IF;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER event_inserted AFTER INSERT ON event REFERENCING NEW TABLE AS inserted
      FOR EACH STATEMENT EXECUTE FUNCTION tidemark_notify_events('e')`);
    await queryRunner.query(`
      CREATE TRIGGER webhook_delivery_inserted AFTER INSERT ON webhook_delivery REFERENCING NEW TABLE AS inserted
      FOR EACH STATEMENT EXECUTE FUNCTION tidemark_notify_events('d')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE integration_staleness`);
    await queryRunner.query(`DROP TABLE webhook_delivery`);
    await queryRunner.query(`DROP TABLE webhook_cursor`);
    await queryRunner.query(`DROP TABLE event`);
    await queryRunner.query(`DROP FUNCTION tidemark_notify_events()`);
  }
}
