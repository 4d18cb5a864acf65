import type { EntityManager } from 'typeorm';

/**
 * Channel of the state notifications: every transaction that changes served state (an integration's `version`)
 * sends `NOTIFY tidemark_state, '<id>,<id>,…'` (or `'*'` when any row may have changed), delivered on commit, so
 * that every replica's read cache drops exactly what changed.
 */
export const STATE_CHANNEL = 'tidemark_state';

/** Longest NOTIFY payload sent; Postgres allows 8000 bytes. */
const NOTIFY_PAYLOAD_MAX = 7_900;

/**
 * Ids per notification when a statement builds the payloads itself: a bigint is at most 19 digits, so 300 of them
 * with their commas stay within NOTIFY_PAYLOAD_MAX.
 */
export const NOTIFY_IDS_PER_PAYLOAD = 300;

/**
 * Tells every replica's read cache, on commit, which integrations changed (`'*'`: any may have). Ids are sent as
 * comma-separated decimals, split over as many notifications as the payload limit needs.
 */
export async function notifyChanged(tx: EntityManager, ids: readonly string[] | '*'): Promise<void> {
  const payloads = ids === '*' ? ['*'] : notifyPayloads(ids);
  if (payloads.length === 0) return;
  await tx.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [STATE_CHANNEL, payloads]);
}

/** Comma-separated ids in payloads of at most NOTIFY_PAYLOAD_MAX bytes. */
export function notifyPayloads(ids: readonly string[]): string[] {
  const payloads: string[] = [];
  let current = '';
  for (const id of ids) {
    if (current.length + id.length + 1 > NOTIFY_PAYLOAD_MAX) {
      payloads.push(current);
      current = '';
    }
    current = current ? `${current},${id}` : id;
  }
  if (current) payloads.push(current);
  return payloads;
}
