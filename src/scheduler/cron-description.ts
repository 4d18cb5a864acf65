import cronstrue from 'cronstrue';

/**
 * A cron (six fields with seconds first, as the scheduler reads it, or five) in plain English, for people: "Every 10
 * seconds", "At 09:30, Monday through Friday", in 24-hour time. An expression it cannot read is quoted as it is, so
 * the text is never wrong, only sometimes terse.
 */
export function describeCron(cron: string): string {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
  } catch {
    return `cron "${cron}"`;
  }
}
