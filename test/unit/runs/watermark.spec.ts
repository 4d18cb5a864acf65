import { describe, expect, it } from 'vitest';
import { compareWatermarks, isRegression } from '../../../src/runs/watermark';

const mark = (utc: string | null, pk: string | null) => ({
  maxSyncDateTime: utc,
  maxSyncDateTimeUtc: utc,
  maxSyncDateMaxPkId: pk,
});

describe('watermark order (the keyset cursor)', () => {
  it('orders by instant to 100 ns, then by PK id as a 64-bit integer', () => {
    expect(
      compareWatermarks(mark('2026-01-31T23:59:59.9999998Z', '9'), mark('2026-01-31T23:59:59.9999999Z', '1')),
    ).toBe(-1);
    expect(
      compareWatermarks(
        mark('2026-01-31T23:59:59.9999999Z', '9007199254740993'),
        mark('2026-01-31T23:59:59.9999999Z', '9007199254740992'),
      ),
    ).toBe(1);
    expect(
      compareWatermarks(mark('2026-01-31T23:59:59.9999999Z', '10'), mark('2026-01-31T23:59:59.9999999Z', '9')),
    ).toBe(1);
    expect(
      compareWatermarks(mark('2026-01-31T23:59:59.9999999Z', '-5'), mark('2026-01-31T23:59:59.9999999Z', '-5')),
    ).toBe(0);
  });

  it('puts a null watermark before any other', () => {
    expect(compareWatermarks(null, mark('0001-01-01T00:00:00.0000000Z', null))).toBe(-1);
    expect(compareWatermarks(mark(null, null), mark('0001-01-01T00:00:00.0000000Z', null))).toBe(-1);
    expect(
      compareWatermarks(mark('2026-01-01T00:00:00.0000000Z', null), mark('2026-01-01T00:00:00.0000000Z', '0')),
    ).toBe(-1);
  });

  it('calls an older answer a regression, and never the first one', () => {
    expect(isRegression(mark('2026-02-01T00:00:00.0000000Z', '5'), mark('2026-01-31T00:00:00.0000000Z', '9'))).toBe(
      true,
    );
    expect(isRegression(mark('2026-02-01T00:00:00.0000000Z', '5'), mark(null, null))).toBe(true);
    expect(isRegression(mark('2026-02-01T00:00:00.0000000Z', '5'), mark('2026-02-01T00:00:00.0000000Z', '5'))).toBe(
      false,
    );
    expect(isRegression(null, mark('2026-01-31T00:00:00.0000000Z', '9'))).toBe(false);
  });
});
