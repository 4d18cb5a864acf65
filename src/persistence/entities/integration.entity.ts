import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** One (source system, integration) pair: its schedule, lease, and last known watermark. Mirrors the migration. */
@Entity({ name: 'integration' })
@Unique('integration_identity', ['sourceSystemId', 'integrationName'])
export class IntegrationEntity {
  /** bigint, read as an exact decimal string. */
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'source_system_id', type: 'integer' }) sourceSystemId!: number;
  @Column({ name: 'integration_name', type: 'text', collation: 'C' }) integrationName!: string;
  @Column({ type: 'text' }) cron!: string;
  @Column({ name: 'time_zone', type: 'text' }) timeZone!: string;
  @Column({ name: 'misfire_policy', type: 'text' }) misfirePolicy!: 'fire_once_now' | 'skip';
  @Column({ type: 'boolean', default: true }) enabled!: boolean;
  @Column({ type: 'boolean', default: false }) paused!: boolean;
  @Index('integration_due')
  @Column({ name: 'next_fire_at', type: 'timestamptz', nullable: true })
  nextFireAt!: Date | null;
  @Column({ name: 'lease_owner', type: 'text', nullable: true }) leaseOwner!: string | null;
  @Column({ name: 'lease_run_id', type: 'bigint', nullable: true }) leaseRunId!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true }) leaseExpiresAt!: Date | null;
  /** The last successful IntegrationStatus, longs as strings, dates as upstream text. */
  @Column({ name: 'last_status', type: 'jsonb', nullable: true }) lastStatus!: Record<string, unknown> | null;
  /** The upstream's MaxSyncDateTime text, unchanged. */
  @Column({ name: 'max_sync_date_time', type: 'text', nullable: true }) maxSyncDateTime!: string | null;
  /** The same instant in .NET "O" form, UTC, 7 digits, truncated. */
  @Column({ name: 'max_sync_date_time_utc', type: 'text', nullable: true }) maxSyncDateTimeUtc!: string | null;
  /** The same instant floored to µs, for range queries only (a JS Date read of it keeps ms). */
  @Column({ name: 'max_sync_at', type: 'timestamptz', nullable: true }) maxSyncAt!: Date | null;
  @Column({ name: 'max_sync_pk_id', type: 'bigint', nullable: true }) maxSyncPkId!: string | null;
  @Column({ name: 'custom_database_values', type: 'jsonb', nullable: true }) customDatabaseValues!: Record<
    string,
    string | null
  > | null;
  @Column({ name: 'last_run_id', type: 'bigint', nullable: true }) lastRunId!: string | null;
  @Column({ name: 'last_succeeded_at', type: 'timestamptz', nullable: true }) lastSucceededAt!: Date | null;
  @Column({ name: 'consecutive_failures', type: 'integer', default: 0 }) consecutiveFailures!: number;
  /** Bumped on every change; the facade's ETag. */
  @Column({ type: 'bigint', default: 1 }) version!: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
