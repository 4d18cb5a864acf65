/**
 * The integrations Tidemark schedules: INTEGRATIONS (JSON text), INTEGRATIONS_FILE (a JSON file) or, with neither and
 * no real upstream, the demo samples. Read by `loadConfig` after the other variables are validated.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateSync } from 'class-validator';
import { parse as parseLosslessJson, isLosslessNumber } from 'lossless-json';
import type { IntegrationConfig, MisfirePolicy } from './app-config';
import { integrationNameKey } from '../common/integration-name';
import { cronFiringProblem } from './value-checks';
import { EnvironmentVariables, IntegrationEntry } from './env.schema';
import { describe, quote } from './api-keys-config';

/** The two sample integrations that demo mode schedules every 10 s. */
export const DEMO_INTEGRATIONS: ReadonlyArray<{ sourceSystemId: number; integrationName: string; cron: string }> = [
  { sourceSystemId: 1, integrationName: 'Orders', cron: '*/10 * * * * *' },
  { sourceSystemId: 2, integrationName: 'Invoices', cron: '*/10 * * * * *' },
];

/** What an integration gets for a setting it leaves out: SCHEDULE_CRON, SCHEDULE_TIMEZONE and MISFIRE_POLICY. */
export interface ScheduleDefaults {
  cron: string;
  timeZone: string;
  misfirePolicy: MisfirePolicy;
}

/** The integrations read, and whether they are the demo samples. */
export interface IntegrationsRead {
  integrations: IntegrationConfig[];
  demo: boolean;
}

/** The variable the integrations' JSON came from; problems about an entry are named after it. */
type IntegrationsSource = 'INTEGRATIONS' | 'INTEGRATIONS_FILE';

const KNOWN_INTEGRATION_KEYS = new Set([
  'sourceSystemId',
  'integrationName',
  'cron',
  'timeZone',
  'enabled',
  'misfirePolicy',
]);

/**
 * Reads the integrations from INTEGRATIONS or INTEGRATIONS_FILE, or falls back to the demo samples when neither is set
 * and there is no real upstream. Adds one line per problem to `problems`; on any, the list returned is empty.
 */
export function readIntegrations(
  vars: EnvironmentVariables,
  cwd: string,
  problems: string[],
  defaults: ScheduleDefaults,
): IntegrationsRead {
  if (vars.INTEGRATIONS !== undefined && vars.INTEGRATIONS_FILE !== undefined) {
    problems.push('INTEGRATIONS_FILE: must not be set together with INTEGRATIONS (choose one)');
    return noIntegrations();
  }
  if (vars.INTEGRATIONS === undefined && vars.INTEGRATIONS_FILE === undefined) {
    return demoIntegrations(vars, problems, defaults);
  }
  const source: IntegrationsSource = vars.INTEGRATIONS !== undefined ? 'INTEGRATIONS' : 'INTEGRATIONS_FILE';
  const text = vars.INTEGRATIONS ?? readIntegrationsFile(vars.INTEGRATIONS_FILE!, cwd, problems);
  if (text === null) return noIntegrations();
  const entries = parseIntegrationEntries(text, source, problems);
  if (entries === null) return noIntegrations();
  if (entries.length === 0 && vars.NODE_ENV === 'production') {
    // The list is synced to the shared database at boot: integrations missing from it are disabled for all replicas.
    problems.push(
      `${source}: must list at least one integration when NODE_ENV=production (an empty list would disable every integration of every replica sharing the database)`,
    );
  }
  return { integrations: toIntegrations(entries, source, problems, defaults), demo: false };
}

/**
 * Every schedule must fire within the horizon, evaluated as the scheduler will: SCHEDULE_CRON in SCHEDULE_TIMEZONE,
 * and each integration's cron in its zone. A problem names the integration when its own cron is at fault.
 * Runs only when no problem has been found, so every cron and zone it evaluates has passed validation.
 */
export function checkCronsFire(
  vars: EnvironmentVariables,
  defaults: ScheduleDefaults,
  integrations: IntegrationConfig[],
  problems: string[],
): void {
  if (problems.length > 0) return;
  const now = new Date();
  const { cron: defaultCron, timeZone: defaultZone } = defaults;
  const defaultProblem = cronFiringProblem(defaultCron, defaultZone, now);
  if (defaultProblem) problems.push(`SCHEDULE_CRON: ${defaultProblem} in ${defaultZone} (got ${quote(defaultCron)})`);
  const source: IntegrationsSource = vars.INTEGRATIONS !== undefined ? 'INTEGRATIONS' : 'INTEGRATIONS_FILE';
  const checked = new Set<string>([`${defaultCron}\u0000${defaultZone}`]);
  integrations.forEach((integration, index) => {
    const key = `${integration.cron}\u0000${integration.timeZone}`;
    if (checked.has(key)) return;
    checked.add(key);
    const problem = cronFiringProblem(integration.cron, integration.timeZone, now);
    if (problem)
      problems.push(`${source}[${index}].cron: ${problem} in ${integration.timeZone} (got ${quote(integration.cron)})`);
  });
}

function noIntegrations(): IntegrationsRead {
  return { integrations: [], demo: false };
}

/** The demo samples, unless UPSTREAM_BASE_URL names a real upstream, which must be given its integrations. */
function demoIntegrations(
  vars: EnvironmentVariables,
  problems: string[],
  defaults: ScheduleDefaults,
): IntegrationsRead {
  if (vars.UPSTREAM_BASE_URL !== undefined) {
    // The demo samples are for the bundled simulator; against a real upstream they would start real syncs.
    problems.push(
      'INTEGRATIONS: must be set (or INTEGRATIONS_FILE) when UPSTREAM_BASE_URL is set; the demo samples only run against the bundled simulator',
    );
    return noIntegrations();
  }
  const integrations = DEMO_INTEGRATIONS.map((demo) => ({
    ...demo,
    timeZone: defaults.timeZone,
    enabled: true,
    misfirePolicy: defaults.misfirePolicy,
  }));
  return { integrations, demo: true };
}

/** The text of INTEGRATIONS_FILE (relative to `cwd`), or null after adding a problem when it cannot be read. */
function readIntegrationsFile(path: string, cwd: string, problems: string[]): string | null {
  try {
    return readFileSync(resolve(cwd, path), 'utf8');
  } catch (error) {
    problems.push(
      `INTEGRATIONS_FILE: must name a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
    return null;
  }
}

/** The validated entries of a JSON array of integrations, or null after adding one problem per fault. */
function parseIntegrationEntries(
  text: string,
  source: IntegrationsSource,
  problems: string[],
): IntegrationEntry[] | null {
  const json = parseJson(text, source, problems);
  if (json === null) return null;
  const parsed = json.value;
  if (!Array.isArray(parsed)) {
    problems.push(`${source}: must be a JSON array of {"sourceSystemId", "integrationName", ...} objects`);
    return null;
  }
  const before = problems.length;
  parsed.forEach((item, index) => checkEntryObject(item, `${source}[${index}]`, problems));
  // The entries are plain JSON with no transforms to apply, so they become IntegrationEntry instances by assignment:
  // class-transformer would walk every property of every entry only to reach the same objects.
  const entries = (parsed as unknown[]).map((item) => Object.assign(new IntegrationEntry(), item));
  entries.forEach((entry, index) => {
    if (!isPlainObject(parsed[index])) return;
    for (const error of validateSync(entry)) problems.push(...describe(error, `${source}[${index}]`, {}));
  });
  return problems.length > before ? null : entries;
}

/** The JSON value of `text` (wrapped, since JSON null is a value), or null after adding a problem when it is not JSON. */
function parseJson(text: string, source: IntegrationsSource, problems: string[]): { value: unknown } | null {
  try {
    // Lossless, so that 1e400 or 2147483648.0 are judged as written rather than after float rounding.
    const value: unknown = parseLosslessJson(text, undefined, (digits) => {
      const n = Number(digits);
      return Number.isSafeInteger(n) && /^-?\d+$/.test(digits) ? n : digits;
    });
    return { value };
  } catch (error) {
    problems.push(`${source}: must be valid JSON (${(error as Error).message})`);
    return null;
  }
}

/**
 * Adds a problem unless `item` is an object of known settings; turns each number it holds that is not a safe integer
 * into its text, in place, so the integer rule rejects it by name.
 */
function checkEntryObject(item: unknown, at: string, problems: string[]): void {
  if (!isPlainObject(item)) {
    problems.push(`${at}: must be an object`);
    return;
  }
  for (const [key, value] of Object.entries(item)) {
    if (isLosslessNumber(value)) item[key] = value.toString();
    if (!KNOWN_INTEGRATION_KEYS.has(key)) problems.push(`${at}.${key}: is not a known setting`);
  }
}

function isPlainObject(item: unknown): item is Record<string, unknown> {
  return item !== null && typeof item === 'object' && !Array.isArray(item);
}

/** The integrations of valid entries, defaults filled in; a duplicate adds a problem naming the entry it repeats. */
function toIntegrations(
  entries: IntegrationEntry[],
  source: IntegrationsSource,
  problems: string[],
  defaults: ScheduleDefaults,
): IntegrationConfig[] {
  const seen = new Map<string, number>();
  const integrations: IntegrationConfig[] = [];
  entries.forEach((entry, index) => {
    // The upstream compares IntegrationName as SQL Server does, so "Orders", "ＯＲＤＥＲＳ" and "Orders " are one
    // integration; the identity check of its answers uses the same key.
    const key = `${entry.sourceSystemId}\u0000${integrationNameKey(entry.integrationName)}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(
        `${source}[${index}]: duplicates ${source}[${first}] (sourceSystemId ${entry.sourceSystemId}, integrationName ${JSON.stringify(entry.integrationName)}; names compare case-insensitively, ignoring trailing spaces)`,
      );
      return;
    }
    seen.set(key, index);
    integrations.push({
      sourceSystemId: entry.sourceSystemId,
      integrationName: entry.integrationName,
      cron: entry.cron ?? defaults.cron,
      timeZone: entry.timeZone ?? defaults.timeZone,
      enabled: entry.enabled ?? true,
      misfirePolicy: entry.misfirePolicy ?? defaults.misfirePolicy,
    });
  });
  return integrations;
}
