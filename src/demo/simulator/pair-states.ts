/**
 * What the simulated upstream remembers per integration (a "pair" of SourceSystemId and IntegrationName) and the
 * IntegrationStatusDTO it generates from that: a watermark that only moves forward, exact .NET longs, dates in the
 * simulator's offset. dto-writer.ts turns the DTO into JSON or XML text.
 */
import type { IntegrationStatusDto } from './dto-writer';
import { NS_PER_TICK, formatTicks, parseTicks } from './net-time';

/** Identifies one integration at the upstream. `integrationName` is compared case-insensitively. */
export interface SimulatorKey {
  /** .NET `int`. */
  sourceSystemId: number;
  integrationName: string;
}

/** Where the next answer for a pair starts from. */
export interface SeedOptions {
  /** Exact MaxSyncDateMaxPKId of the next generated answer (.NET long; give a bigint or decimal string beyond 2^53). */
  maxSyncDateMaxPKId?: bigint | string | number;
  /** Instant of the next MaxSyncDateTime (`yyyy-MM-ddTHH:mm:ss[.fffffff](Z|±HH:MM)`), written in the simulator's offset. */
  maxSyncDateTime?: string;
  /** SourceId of every answer for the pair (.NET long). */
  sourceId?: bigint | string | number;
  /** Whether the next call answers the "first run" shape. */
  firstRun?: boolean;
}

/** How generated answers look; fixed for a simulator's lifetime. */
export interface GenerationOptions {
  /** Wall clock, ns since the Unix epoch. */
  clock: () => bigint;
  /** Minutes east of UTC that dates are written in. */
  offsetMinutes: number;
  trimFractionZeros: boolean;
  firstCallReturnsFirstRun: boolean;
  pkStart: bigint;
  pkStep: bigint;
}

interface PairState {
  sourceSystemId: number;
  /** The spelling first seen: the upstream answers its stored name, not the caller's casing. */
  integrationName: string;
  lastPk: bigint | null;
  nextPk: bigint | null;
  lastSyncTicks: bigint | null;
  nextSyncTicks: bigint | null;
  sourceId: bigint;
  runs: number;
  firstRunPending: boolean;
}

/** The map key of a pair: the upstream looks names up case-insensitively. */
export function keyOf(sourceSystemId: number, integrationName: string): string {
  return `${sourceSystemId}|${integrationName.toUpperCase()}`;
}

/** Every pair's state, and the DTOs generated from it. */
export class PairStates {
  private readonly states = new Map<string, PairState>();

  constructor(private readonly options: GenerationOptions) {}

  /** The simulator clock in .NET ticks (100 ns since the Unix epoch). */
  nowTicks(): bigint {
    return this.options.clock() / NS_PER_TICK;
  }

  /** Forgets every pair. */
  clear(): void {
    this.states.clear();
  }

  /**
   * Sets where the next generated answer for a pair starts. Seeding forgets the pair's previous watermark, so it may
   * deliberately move it backwards.
   * @throws TypeError/RangeError for values that are not .NET longs or dates; nothing changes then.
   */
  seed(key: SimulatorKey, options: SeedOptions): void {
    // Everything is validated before anything changes, so a bad seed leaves the pair as it was.
    const pk =
      options.maxSyncDateMaxPKId === undefined ? undefined : toLong(options.maxSyncDateMaxPKId, 'maxSyncDateMaxPKId');
    const ticks = options.maxSyncDateTime === undefined ? undefined : parseTicks(options.maxSyncDateTime);
    const sourceId = options.sourceId === undefined ? undefined : toLong(options.sourceId, 'sourceId');
    if (options.firstRun !== undefined && typeof options.firstRun !== 'boolean')
      throw new TypeError('firstRun must be a boolean');
    const st = this.stateFor(key.sourceSystemId, key.integrationName);
    if (pk !== undefined) {
      st.nextPk = pk;
      st.lastPk = null;
    }
    if (ticks !== undefined) {
      st.nextSyncTicks = ticks;
      st.lastSyncTicks = null;
    }
    if (sourceId !== undefined) st.sourceId = sourceId;
    if (options.firstRun !== undefined) st.firstRunPending = options.firstRun;
  }

  /**
   * The DTO of one call received at `receivedTicks`: the "first run" shape (nulls) when asked for or pending, else the
   * next watermark, whose MaxSyncDateTime is strictly after the pair's previous one.
   * @param mapKey `keyOf(key)`, when the caller has it already
   */
  generate(
    key: SimulatorKey,
    receivedTicks: bigint,
    firstRun: boolean,
    mapKey = keyOf(key.sourceSystemId, key.integrationName),
  ): IntegrationStatusDto {
    const st = this.stateFor(key.sourceSystemId, key.integrationName, mapKey);
    if (firstRun || st.firstRunPending) {
      st.firstRunPending = false;
      return {
        IntegrationName: st.integrationName,
        SourceSystemId: st.sourceSystemId,
        LastRunStartDateTime: this.formatDate(receivedTicks),
        LastRunEndDateTime: null,
        ProcessStatusMeaning: 'Running',
        MaxSyncDateTime: null,
        MaxSyncDateMaxPKId: null,
        SourceId: null,
        SourceIdString: null,
        CustomDatabaseValues: null,
      };
    }
    const pk = st.nextPk ?? (st.lastPk === null ? this.options.pkStart : st.lastPk + this.options.pkStep);
    st.nextPk = null;
    st.lastPk = pk;
    const now = this.nowTicks();
    let sync = st.nextSyncTicks ?? now;
    st.nextSyncTicks = null;
    // Strictly increasing even when the clock stands still (two calls in one 100 ns tick) or steps back.
    if (st.lastSyncTicks !== null && sync <= st.lastSyncTicks) sync = st.lastSyncTicks + 1n;
    st.lastSyncTicks = sync;
    st.runs += 1;
    return {
      IntegrationName: st.integrationName,
      SourceSystemId: st.sourceSystemId,
      LastRunStartDateTime: this.formatDate(receivedTicks),
      LastRunEndDateTime: this.formatDate(now > receivedTicks ? now : receivedTicks),
      ProcessStatusMeaning: 'Complete',
      MaxSyncDateTime: this.formatDate(sync),
      MaxSyncDateMaxPKId: pk,
      SourceId: st.sourceId,
      SourceIdString: `SRC-${st.sourceSystemId}-${st.integrationName}`,
      CustomDatabaseValues: [
        ['RunNumber', String(st.runs)],
        ['Simulator', 'tidemark'],
      ],
    };
  }

  private formatDate(ticks: bigint): string {
    return formatTicks(ticks, this.options.offsetMinutes, this.options.trimFractionZeros);
  }

  private stateFor(
    sourceSystemId: number,
    integrationName: string,
    k = keyOf(sourceSystemId, integrationName),
  ): PairState {
    let st = this.states.get(k);
    if (!st) {
      st = {
        sourceSystemId,
        integrationName,
        lastPk: null,
        nextPk: null,
        lastSyncTicks: null,
        nextSyncTicks: null,
        // A stable per-pair SourceId without randomness, so reruns answer the same.
        sourceId: BigInt(sourceSystemId) * 1_000_000n + BigInt(fnv1a(integrationName.toUpperCase()) % 1_000_000),
        runs: 0,
        firstRunPending: this.options.firstCallReturnsFirstRun,
      };
      this.states.set(k, st);
    }
    return st;
  }
}

/** 32-bit FNV-1a, to derive stable per-pair values without randomness. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function toLong(value: bigint | string | number, what: string): bigint {
  let result: bigint;
  if (typeof value === 'bigint') result = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) result = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) result = BigInt(value);
  else throw new TypeError(`${what} must be an integer (bigint, safe number or decimal string), got ${String(value)}`);
  if (result < -(2n ** 63n) || result >= 2n ** 63n) throw new RangeError(`${what} is outside the .NET long range`);
  return result;
}
