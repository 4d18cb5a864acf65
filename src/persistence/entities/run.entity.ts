import { Column, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

export type RunTrigger = 'schedule' | 'manual';
export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'abandoned' | 'interrupted' | 'skipped_breaker_open';

/** One IntegrationStart call (or a decision not to make one). Mirrors the migration. */
@Entity({ name: 'run' })
@Unique('run_one_per_tick', ['integrationId', 'scheduledFor'])
export class RunEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'integration_id', type: 'bigint' }) integrationId!: string;
  @Column({ type: 'text' }) trigger!: RunTrigger;
  /** The fire time (tick) a scheduled run belongs to; null for manual runs. */
  @Column({ name: 'scheduled_for', type: 'timestamptz', nullable: true }) scheduledFor!: Date | null;
  @Column({ name: 'replica_id', type: 'text' }) replicaId!: string;
  @Column({ name: 'started_at', type: 'timestamptz' }) startedAt!: Date;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  @Column({ type: 'text' }) outcome!: RunOutcome;
  @Column({ name: 'error_code', type: 'text', nullable: true }) errorCode!: string | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column({ name: 'http_status', type: 'integer', nullable: true }) httpStatus!: number | null;
  @Column({ name: 'watermark_before', type: 'jsonb', nullable: true }) watermarkBefore!: Record<
    string,
    string | null
  > | null;
  @Column({ name: 'watermark_after', type: 'jsonb', nullable: true }) watermarkAfter!: Record<
    string,
    string | null
  > | null;
  @Column({ type: 'jsonb', nullable: true }) status!: Record<string, unknown> | null;
}
