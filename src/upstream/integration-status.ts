/**
 * What Tidemark makes of one upstream IntegrationStatusDTO (see
 * docs/upstream/IntegrationStart-api-help.txt and test/fixtures/upstream/README.md).
 * The keys are exactly those of `test/fixtures/upstream/expected/*.json`.
 */
export interface IntegrationStatus {
  /** `IntegrationName`, exactly as sent (not trimmed, not case-folded). */
  integrationName: string | null;
  /** `SourceSystemId`, a .NET `int` (int32). */
  sourceSystemId: number | null;
  /** `LastRunStartDateTime`: the upstream's date text, unchanged (e.g. `2025-12-10T08:22:52.8100855-06:00`). */
  lastRunStartDateTime: string | null;
  /** `LastRunEndDateTime`: the upstream's date text, unchanged. */
  lastRunEndDateTime: string | null;
  /** `ProcessStatusMeaning`, exactly as sent. */
  processStatusMeaning: string | null;
  /** `MaxSyncDateTime`: the watermark's date text, unchanged (all 7 fractional digits and the offset). */
  maxSyncDateTime: string | null;
  /**
   * The instant of `maxSyncDateTime` in UTC, .NET round-trip ("O") form
   * `yyyy-MM-ddTHH:mm:ss.fffffffZ`: always 7 fractional digits, truncated, never rounded up.
   * `null` exactly when `maxSyncDateTime` is null.
   */
  maxSyncDateTimeUtc: string | null;
  /** `MaxSyncDateMaxPKId`, a .NET `long`, as a canonical decimal string (exact beyond 2^53). */
  maxSyncDateMaxPkId: string | null;
  /** `SourceId`, a .NET `long`, as a canonical decimal string. */
  sourceId: string | null;
  /** `SourceIdString`, exactly as sent. */
  sourceIdString: string | null;
  /**
   * `CustomDatabaseValues`, a .NET `Dictionary<string, string>`, as `[key, value]` entries in the upstream's order.
   * Entries rather than an object because a JS object enumerates integer-like keys ("10", "2") first, ascending,
   * whatever order they were set in. Keys are case-sensitive and unique. A .NET dictionary can hold null values;
   * those are kept as `null` rather than dropped or turned into "".
   */
  customDatabaseValues: CustomDatabaseValues | null;
}

/** Dictionary entries, `[key, value]`, in the upstream's order; keys unique. */
export type CustomDatabaseValues = ReadonlyArray<readonly [key: string, value: string | null]>;

/** Which integration a call is about: the upstream's row key. */
export interface IntegrationKey {
  /** .NET `int` (int32). */
  sourceSystemId: number;
  /** Compared case-insensitively and accent-sensitively, like SQL Server's default collation. */
  integrationName: string;
}
