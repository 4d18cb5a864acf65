import type { NewEvent } from '../events/event-types';

/**
 * Writing events into the outbox, for the repositories whose transactions make the changes the events report.
 * An event is inserted by the transaction (or statement) that makes its change, so it exists if and only if the
 * change committed. Inserting into `event` notifies `tidemark_events` on commit (a statement trigger).
 */

/** Channel of the outbox notifications: payload `e` when events were committed, `d` when deliveries were. */
export const EVENT_CHANNEL = 'tidemark_events';

interface Queryable {
  query(text: string, params?: unknown[]): Promise<unknown>;
}

/** The candidates as one JSON document for `jsonb_to_recordset` (one parameter whatever their number). */
export function eventsJson(events: readonly NewEvent[]): string {
  return JSON.stringify(
    events.map((e) => ({
      type: e.type,
      source: e.source,
      subject: e.subject,
      integration_id: e.integrationId,
      run_id: e.runId,
      data: e.data,
    })),
  );
}

/** Inserts `events` in order, in the caller's transaction. */
export async function insertEvents(tx: Queryable, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO event (type, source, subject, integration_id, run_id, data)
     SELECT c.doc->>'type', c.doc->>'source', c.doc->>'subject', (c.doc->>'integration_id')::bigint,
            (c.doc->>'run_id')::bigint, c.doc->'data'
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS c(doc, n)
     ORDER BY c.n`,
    [eventsJson(events)],
  );
}

/**
 * A CTE named `events` for the statement that finishes a batch of runs (group commit), inserting the events of the
 * batch in the same statement. The statement must define, before it:
 * - `applied`: the runs it applied, with columns `run_id` and `integration_id` (bigint);
 * - `losses`: the integration UPDATE of runs that did not succeed, `RETURNING i.id AS integration_id,
 *   i.consecutive_failures` (the new count).
 * Candidates of runs not applied are dropped; a `run.failed` candidate is kept at 1 consecutive failure and at
 * every multiple of `failureRepeat`, with `consecutiveFailures` added to its data.
 * @param candidates SQL of a jsonb value holding {@link eventsJson} of `finishEventCandidates` (a bind parameter)
 * @param failureRepeat SQL of an int value (a bind parameter)
 */
export function finishEventsCte(candidates: string, failureRepeat: string): string {
  return `events AS (
         INSERT INTO event (type, source, subject, integration_id, run_id, data)
         SELECT c.type, c.source, c.subject, c.integration_id, c.run_id,
                CASE WHEN c.type = 'tidemark.run.failed'
                     THEN c.data || jsonb_build_object('consecutiveFailures', l.consecutive_failures) ELSE c.data END
         FROM jsonb_to_recordset(${candidates}) AS c(type text, source text, subject text, integration_id bigint,
                                                     run_id bigint, data jsonb)
         JOIN applied a ON a.run_id = c.run_id
         LEFT JOIN losses l ON l.integration_id = c.integration_id
         WHERE c.type <> 'tidemark.run.failed'
            OR l.consecutive_failures = 1 OR l.consecutive_failures % ${failureRepeat} = 0
         ORDER BY c.integration_id
       )`;
}
