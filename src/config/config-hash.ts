import { createHash } from 'node:crypto';
import type { AppConfig } from './app-config';

/** Hex digits of the SHA-256 kept: enough to tell configurations apart at a glance, short enough for a label. */
const HASH_LENGTH = 16;
/** Keys whose values are secrets (or derived from one); they never enter the hash, so it can't confirm a guess. */
const SECRET_KEY = /password|secret|^token$|sha256Hex/i;

/**
 * A stable hash of the effective configuration without secrets, the same for every replica started with the same
 * settings: replicas of a rolling update that disagree show different hashes (health details, metric label).
 * Left out: secrets (webhook signing keys included), credentials in DATABASE_URL and webhook URLs, and what differs
 * per replica by design (REPLICA_ID, the listen address). The integrations count as a set: their order in INTEGRATIONS changes nothing.
 */
export function configHash(config: AppConfig): string {
  // A loaded configuration is never changed, so its hash is computed once (with thousands of integrations it is
  // a sort and a canonical JSON of them all, and the health check, the metrics and the scheduler each ask at boot).
  let hash = hashes.get(config);
  if (hash === undefined) hashes.set(config, (hash = computeHash(config)));
  return hash;
}

const hashes = new WeakMap<AppConfig, string>();

function computeHash(config: AppConfig): string {
  const { replicaId: _replicaId, http: _http, ...shared } = config;
  const integrations = [...config.integrations].sort(
    (a, b) =>
      a.sourceSystemId - b.sourceSystemId ||
      (a.integrationName < b.integrationName ? -1 : a.integrationName > b.integrationName ? 1 : 0),
  );
  const effective = {
    ...shared,
    database: { ...config.database, url: withoutCredentials(config.database.url) },
    integrations,
    events: {
      ...config.events,
      webhooks: config.events.webhooks.map(({ key: _key, ...hook }) => ({
        ...hook,
        url: withoutCredentials(hook.url),
      })),
    },
  };
  return createHash('sha256').update(canonicalJson(effective)).digest('hex').slice(0, HASH_LENGTH);
}

/** A URL without its user name and password; text that is not a URL (validation refuses it) is not kept. */
function withoutCredentials(url: string | null): string | null {
  if (url === null) return null;
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'unparsable';
  }
}

/** JSON with object keys sorted at every level and secret keys left out. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([key, item]) => !SECRET_KEY.test(key) && item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
