import type { EntityManager } from 'typeorm';
import type { IntegrationStatus } from '../upstream/integration-status';
import type { AttemptRecord, IntegrationRecord, IntegrationRef, RunRecord, Watermark } from './types';

/** A row as pg returns it: column name to parsed value. */
export type Row = Record<string, unknown>;

/**
 * A timestamptz expression as whole milliseconds since the epoch, a float8 (exact below 2^53): the instant pg would
 * make a Date of, without parsing its text. `expression` is SQL written here, never a value.
 */
export function epochMs(expression: string): string {
  return `floor(EXTRACT(EPOCH FROM ${expression}) * 1000)::float8`;
}

/** The integration columns read from table alias `i`; bigints as exact decimal text. */
export const INTEGRATION_COLUMNS = `
  i.id::text AS id, i.source_system_id, i.integration_name, i.cron, i.time_zone, i.misfire_policy, i.enabled,
  i.paused, i.next_fire_at, i.last_status, i.max_sync_zone_assumed, i.last_succeeded_at, i.consecutive_failures, i.version::text AS version,
  i.updated_at`;

const RUN_FIELDS = [
  'id::text',
  'integration_id::text',
  'trigger',
  'scheduled_for',
  'replica_id',
  'started_at',
  'finished_at',
  'outcome',
  'error_code',
  'error',
  'http_status',
  'watermark_before',
  'watermark_after',
  'attempts',
  'outcome_unknown_retried',
  'watermark_regressed',
];

/** The run columns read from table alias `alias`, named `${prefix}${column}`; ids as exact decimal text. */
function runColumns(alias: string, prefix: string): string {
  return RUN_FIELDS.map((field) => {
    const [column, cast] = field.split('::');
    return `${alias}.${column}${cast ? `::${cast}` : ''} AS ${prefix}${column}`;
  }).join(', ');
}

/** Every run column, from alias `r`. */
export const RUN_COLUMNS = runColumns('r', '');
/** An integration's last run, from alias `lr`, prefixed `lr_` (see {@link toIntegration}). */
export const LAST_RUN_COLUMNS = runColumns('lr', 'lr_');

/** The database's clock. */
export async function dbNow(tx: EntityManager): Promise<Date> {
  const [row]: Row[] = await tx.query('SELECT now() AS now');
  return row.now as Date;
}

/**
 * Floors an "O"-form UTC instant (7 fractional digits) to microseconds for a timestamptz. Postgres would round
 * half-to-even instead (.8100855 → .810086, a later instant that makes a consumer skip rows).
 */
export function floorToMicroseconds(utcRoundTrip: string): string {
  const match = /^(.*\.\d{6})\dZ$/.exec(utcRoundTrip);
  if (!match) throw new Error(`not a 7-digit UTC "O" timestamp: ${utcRoundTrip}`);
  return `${match[1]}Z`;
}

/**
 * A stored IntegrationStatus (`integration.last_status`), whose `customDatabaseValues` is stored as `[key, value]`
 * entries in the upstream's order. An object there was written by a replica of the previous version, which goes on
 * serving while a new one migrates the database; its entries are read in the order that version served them.
 */
export function storedStatus(value: unknown): IntegrationStatus | null {
  const status = value as IntegrationStatus | null;
  const values: unknown = status?.customDatabaseValues ?? null;
  if (values === null || Array.isArray(values)) return status;
  return { ...status!, customDatabaseValues: Object.entries(values as Record<string, string | null>) };
}

export function watermarkOf(status: IntegrationStatus | null): Watermark | null {
  if (!status) return null;
  return {
    maxSyncDateTime: status.maxSyncDateTime,
    maxSyncDateTimeUtc: status.maxSyncDateTimeUtc,
    maxSyncDateMaxPkId: status.maxSyncDateMaxPkId,
  };
}

export function toRef(row: Row): IntegrationRef {
  return {
    id: row.id as string,
    sourceSystemId: row.source_system_id as number,
    integrationName: row.integration_name as string,
  };
}

export function toRun(row: Row, prefix = ''): RunRecord {
  const get = (name: string) => row[prefix + name];
  return {
    id: get('id') as string,
    integrationId: get('integration_id') as string,
    trigger: get('trigger') as RunRecord['trigger'],
    scheduledFor: get('scheduled_for') as Date | null,
    replicaId: get('replica_id') as string,
    startedAt: get('started_at') as Date,
    finishedAt: get('finished_at') as Date | null,
    outcome: get('outcome') as RunRecord['outcome'],
    errorCode: get('error_code') as string | null,
    error: get('error') as string | null,
    httpStatus: get('http_status') as number | null,
    watermarkBefore: get('watermark_before') as Watermark | null,
    watermarkAfter: get('watermark_after') as Watermark | null,
    attempts: (get('attempts') as AttemptRecord[] | null) ?? [],
    outcomeUnknownRetried: (get('outcome_unknown_retried') as boolean | null) ?? false,
    watermarkRegressed: (get('watermark_regressed') as boolean | null) ?? false,
  };
}

export function toIntegration(row: Row): IntegrationRecord {
  return {
    ...toRef(row),
    cron: row.cron as string,
    timeZone: row.time_zone as string,
    misfirePolicy: row.misfire_policy as IntegrationRecord['misfirePolicy'],
    enabled: row.enabled as boolean,
    paused: row.paused as boolean,
    nextFireAt: row.next_fire_at as Date | null,
    lastStatus: storedStatus(row.last_status),
    maxSyncDateTimeZoneAssumed: (row.max_sync_zone_assumed as string | null | undefined) ?? null,
    lastSucceededAt: row.last_succeeded_at as Date | null,
    consecutiveFailures: row.consecutive_failures as number,
    version: row.version as string,
    updatedAt: row.updated_at as Date,
    lastRun: row.lr_id ? toRun(row, 'lr_') : null,
  };
}
