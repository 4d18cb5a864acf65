import { INTEGRATION_NAME_MAX_LENGTH, INTEGRATION_NAME_PATTERN } from '../config';
import { ProblemException } from './problem';

/**
 * Opaque keyset cursors: base64url of a small JSON array, tagged with its list so a runs cursor can't page
 * integrations. Clients pass back what they were given; anything else is a 400 naming `cursor`.
 */
export type IntegrationsCursor = { sourceSystemId: number; integrationName: string };
export type RunsCursor = { beforeId: string };

export function encodeIntegrationsCursor(position: IntegrationsCursor): string {
  return Buffer.from(JSON.stringify(['i', position.sourceSystemId, position.integrationName])).toString('base64url');
}

export function encodeRunsCursor(position: RunsCursor): string {
  return Buffer.from(JSON.stringify(['r', position.beforeId])).toString('base64url');
}

/** @throws ProblemException 400 when `text` is not an integrations cursor from this API */
export function decodeIntegrationsCursor(text: string): IntegrationsCursor {
  const value = decode(text);
  if (
    value?.length === 3 &&
    value[0] === 'i' &&
    Number.isInteger(value[1]) &&
    (value[1] as number) >= 0 &&
    (value[1] as number) <= 2147483647 &&
    typeof value[2] === 'string' &&
    value[2].length > 0 &&
    value[2].length <= INTEGRATION_NAME_MAX_LENGTH &&
    // Configured names have no control characters, and Postgres text can't hold NUL (a query with one fails).
    INTEGRATION_NAME_PATTERN.test(value[2])
  ) {
    return { sourceSystemId: value[1] as number, integrationName: value[2] };
  }
  throw invalidCursor();
}

/** @throws ProblemException 400 when `text` is not a runs cursor from this API */
export function decodeRunsCursor(text: string): RunsCursor {
  const value = decode(text);
  if (value?.length === 2 && value[0] === 'r' && typeof value[1] === 'string' && /^[1-9]\d{0,18}$/.test(value[1])) {
    if (BigInt(value[1]) <= 9223372036854775807n) return { beforeId: value[1] };
  }
  throw invalidCursor();
}

function decode(text: string): unknown[] | null {
  if (text.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function invalidCursor(): ProblemException {
  return ProblemException.invalidParameters([
    { name: 'cursor', reason: 'must be a cursor returned by this API (nextCursor)' },
  ]);
}
