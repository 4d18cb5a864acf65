import type { Row } from './rows';

/** An integration as the config sync names it. */
export interface IntegrationKey {
  sourceSystemId: number;
  integrationName: string;
}

/** The schedule fields a config sync compares. */
export interface StoredSchedule {
  cron: string;
  timeZone: string;
  misfirePolicy: string;
  enabled: boolean;
}

/** One changed field: the database's value before the sync and the configured one now in force. */
export interface FieldChange<T> {
  from: T;
  to: T;
}

/** What one config sync changed in the shared integration set. */
export interface IntegrationDrift {
  /** Integrations stored before the sync; 0 on a database no replica has synced yet. */
  storedBefore: number;
  /** Pairs the database did not know. */
  added: IntegrationKey[];
  /** Enabled pairs missing from this replica's config, now disabled. */
  disabled: IntegrationKey[];
  /** Pairs whose schedule (cron, zone, misfire policy, or enabled flag) this replica's config changed. */
  scheduleChanged: Array<IntegrationKey & { changes: ScheduleChanges }>;
}

/** The schedule fields a sync changed, each with its old and new value. */
export type ScheduleChanges = Partial<{ [F in keyof StoredSchedule]: FieldChange<StoredSchedule[F]> }>;

const SCHEDULE_FIELDS = ['cron', 'timeZone', 'misfirePolicy', 'enabled'] as const;

/** The drift reported by the sync statement's rows: one per changed pair, old values null for a new one. */
export function driftOf(rows: Row[]): IntegrationDrift {
  const drift: IntegrationDrift = {
    storedBefore: Number(rows[0]?.stored ?? 0),
    added: [],
    disabled: [],
    scheduleChanged: [],
  };
  for (const row of rows) {
    if (row.source_system_id === null || row.source_system_id === undefined) continue;
    const key = { sourceSystemId: row.source_system_id as number, integrationName: row.integration_name as string };
    if (!row.existed) {
      drift.added.push(key);
      continue;
    }
    // A pair missing from the config: the sync's only change to it is disabling it.
    if (row.configured !== true) {
      drift.disabled.push(key);
      continue;
    }
    const before: StoredSchedule = {
      cron: row.old_cron as string,
      timeZone: row.old_time_zone as string,
      misfirePolicy: row.old_misfire_policy as string,
      enabled: row.old_enabled as boolean,
    };
    const after: StoredSchedule = {
      cron: row.cron as string,
      timeZone: row.time_zone as string,
      misfirePolicy: row.misfire_policy as string,
      enabled: row.enabled as boolean,
    };
    const changes: ScheduleChanges = {};
    for (const field of SCHEDULE_FIELDS) {
      if (before[field] !== after[field])
        Object.assign(changes, { [field]: { from: before[field], to: after[field] } });
    }
    // A row rewritten only to set a missing next fire time changed nothing an operator configures.
    if (Object.keys(changes).length > 0) drift.scheduleChanged.push({ ...key, changes });
  }
  for (const list of [drift.added, drift.disabled, drift.scheduleChanged]) list.sort(byKey);
  return drift;
}

/** By source system, then name in code-unit order. */
function byKey(a: IntegrationKey, b: IntegrationKey): number {
  if (a.sourceSystemId !== b.sourceSystemId) return a.sourceSystemId - b.sourceSystemId;
  return a.integrationName < b.integrationName ? -1 : a.integrationName > b.integrationName ? 1 : 0;
}

/** Whether the sync changed anything. */
export function hasDrift(drift: IntegrationDrift): boolean {
  return drift.added.length + drift.disabled.length + drift.scheduleChanged.length > 0;
}

/** Most integrations a drift report names per kind of change; a larger set is summed up by count. */
export const DRIFT_NAMES_SHOWN = 20;

/**
 * The drift as one line, e.g. `added 1/"Orders"; disabled 2/"Old"; schedule changed 3/"X" (cron "a" -> "b")`, naming
 * at most DRIFT_NAMES_SHOWN integrations per kind of change.
 */
export function describeDrift(drift: IntegrationDrift): string {
  const name = (key: IntegrationKey) => `${key.sourceSystemId}/${JSON.stringify(key.integrationName)}`;
  const list = <T>(items: T[], show: (item: T) => string) => {
    const shown = items.slice(0, DRIFT_NAMES_SHOWN).map(show).join(', ');
    return items.length > DRIFT_NAMES_SHOWN ? `${shown} and ${items.length - DRIFT_NAMES_SHOWN} more` : shown;
  };
  const parts: string[] = [];
  if (drift.added.length > 0) parts.push(`added ${list(drift.added, name)}`);
  if (drift.disabled.length > 0) parts.push(`disabled ${list(drift.disabled, name)}`);
  if (drift.scheduleChanged.length > 0) {
    const changed = list(drift.scheduleChanged, (entry) => {
      const fields = Object.entries(entry.changes).map(
        ([field, change]) => `${field} ${JSON.stringify(change.from)} -> ${JSON.stringify(change.to)}`,
      );
      return `${name(entry)} (${fields.join(', ')})`;
    });
    parts.push(`schedule changed ${changed}`);
  }
  return parts.join('; ');
}
