import type { Watermark } from '../persistence/types';

/**
 * Orders two watermarks as the keyset cursor (MaxSyncDateTime, MaxSyncDateMaxPKId) they are: by instant, then by
 * PK id. A null watermark (no sync yet) sorts before every other.
 * @returns negative when `a` is older than `b`, 0 when equal, positive when newer
 */
export function compareWatermarks(a: Watermark | null, b: Watermark | null): number {
  const aUtc = a?.maxSyncDateTimeUtc ?? null;
  const bUtc = b?.maxSyncDateTimeUtc ?? null;
  if (aUtc !== bUtc) {
    if (aUtc === null) return -1;
    if (bUtc === null) return 1;
    // "O" form UTC text is fixed-width (yyyy-MM-ddTHH:mm:ss.fffffffZ), so text order is time order, to 100 ns.
    return aUtc < bUtc ? -1 : 1;
  }
  const aPk = a?.maxSyncDateMaxPkId ?? null;
  const bPk = b?.maxSyncDateMaxPkId ?? null;
  if (aPk === bPk) return 0;
  if (aPk === null) return -1;
  if (bPk === null) return 1;
  const difference = BigInt(aPk) - BigInt(bPk);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/** True when `after` is older than `before`: the upstream moved the keyset cursor backwards. */
export function isRegression(before: Watermark | null, after: Watermark | null): boolean {
  return before !== null && compareWatermarks(after, before) < 0;
}
