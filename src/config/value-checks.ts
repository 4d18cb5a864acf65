import { nextFireTime } from '../scheduler/cron-schedule';
import { assertValidTimeZone } from '../upstream/dotnet-date';

/**
 * Checks of configuration values made with the very code that uses the values later, so that what passes at boot
 * can't fail at run time: a time zone must satisfy both the upstream date parser (Temporal) and the scheduler (the
 * `cron` package), and a cron must give a fire time through the scheduler's own `nextFireTime`.
 */

/** How far ahead a cron must fire at least once; further away is a mistake (`0 0 0 31 2 *` never fires). */
export const CRON_HORIZON_YEARS = 5;

const ZONE_RULE = 'must be an IANA time zone such as UTC or America/Chicago';
/**
 * A UTC offset, alone (`+05:00`, `-0500`, with U+2212 too) or after UTC/GMT/UT (`UTC+5`). Temporal accepts a bare
 * offset as a zone, but an offset never follows daylight saving, so wall times would be read an hour off half the
 * year. IANA names such as `Etc/GMT+5` start with a letter and are not matched.
 */
const UTC_OFFSET = /^(?:UTC|GMT|UT)?\s*[+\u2212-]/i;
/** A schedule that fires every day, to ask the scheduler whether it can evaluate a zone. */
const DAILY = '0 0 0 * * *';

/** Zones already accepted; a zone's validity does not change while the process runs. */
const validZones = new Set<string>();
const MEMO_LIMIT = 10_000;

/**
 * Null when `zone` is a time zone both the upstream date parser and the scheduler accept, else the rule it breaks,
 * with the IANA name to use instead when `zone` is an abbreviation ICU resolves to one (`CST` → `America/Chicago`).
 */
export function timeZoneProblem(zone: string): string | null {
  if (validZones.has(zone)) return null;
  if (zone.length === 0) return ZONE_RULE;
  if (UTC_OFFSET.test(zone)) {
    return `${ZONE_RULE}; ${JSON.stringify(zone)} is a fixed UTC offset, which ignores daylight saving`;
  }
  try {
    assertValidTimeZone(zone);
    nextFireTime({ cron: DAILY, timeZone: zone }, new Date(0));
  } catch {
    const canonical = icuCanonicalZone(zone);
    return canonical === null ? ZONE_RULE : `${ZONE_RULE}; ${JSON.stringify(zone)} is not one, use ${canonical}`;
  }
  if (validZones.size < MEMO_LIMIT) validZones.add(zone);
  return null;
}

/**
 * Null when `cron`, evaluated in `timeZone` by the scheduler, fires within {@link CRON_HORIZON_YEARS} years after
 * `now`, else the rule it breaks. The cron's syntax and the zone are checked before (see IsCronExpression).
 */
export function cronFiringProblem(cron: string, timeZone: string, now: Date): string | null {
  const rule = `must fire within the next ${CRON_HORIZON_YEARS} years`;
  const horizon = new Date(now);
  horizon.setUTCFullYear(horizon.getUTCFullYear() + CRON_HORIZON_YEARS);
  try {
    return nextFireTime({ cron, timeZone }, now) <= horizon ? null : rule;
  } catch {
    // The scheduler's `cron` package gives up when it finds no fire time in the next 8 years.
    return rule;
  }
}

/** The zone ICU maps `zone` to, when it is a different, valid one (for a hint); else null. */
function icuCanonicalZone(zone: string): string | null {
  try {
    const canonical = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    if (canonical === zone) return null;
    assertValidTimeZone(canonical);
    return canonical;
  } catch {
    return null;
  }
}
