/**
 * The integer forms a .NET upstream's serializers read, and nothing more:
 *
 * - Text (an XML element, a JSON string): what `XmlConvert.ToInt32`/`ToInt64` and Json.NET's string-to-integer
 *   conversion accept, i.e. `NumberStyles.Integer` under the invariant culture: optional leading and trailing white
 *   space (U+0009..U+000D, U+0020), one optional `+` or `-`, then ASCII digits (leading zeros allowed). No decimal
 *   point, exponent, thousands separator, hex prefix or inner space.
 * - A JSON number: any literal whose exact value is a whole number (`5`, `-0`, `5.0`, `5e0`, `50E-1`). A value with a
 *   fraction (`5.5`) is refused: Json.NET refuses it for an `int`, and for a `long` it would round, which moves a
 *   watermark key silently. The JSON grammar itself (no `+`, no leading zeros) is checked by the JSON reader.
 *
 * Values are computed on the digits as bigint, never through float64, and range-checked against the .NET type; the
 * result is canonical (`+007` → `7`, `-0` → `0`).
 */
import { UpstreamNotDtoError, quoteForMessage } from '../errors';

export type DotNetIntegerType = 'int' | 'long';

const RANGES: Record<DotNetIntegerType, { min: bigint; max: bigint; name: string }> = {
  int: { min: -2147483648n, max: 2147483647n, name: '.NET int (int32)' },
  long: { min: -9223372036854775808n, max: 9223372036854775807n, name: '.NET long (int64)' },
};

/** `NumberStyles.Integer`: .NET's white space set is wider than XML's (it adds U+000B and U+000C). */
const INTEGER_TEXT = /^[\t\n\v\f\r ]*([+-]?)([0-9]+)[\t\n\v\f\r ]*$/;

/** A JSON number literal, already known to be valid JSON. */
const JSON_NUMBER = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?)([0-9]+))?$/;

/** More digits than any in-range value has once leading zeros are gone; such a value is out of range for sure. */
const MAX_SIGNIFICANT_DIGITS = 19;

/** An integer from text (XML content or a JSON string), as a canonical bigint within `type`. */
export function integerFromText(text: string, type: DotNetIntegerType, wire: string): bigint {
  const m = INTEGER_TEXT.exec(text);
  if (m === null) {
    throw new UpstreamNotDtoError(
      `${wire} must be an integer literal (digits with an optional sign and surrounding white space; ` +
        `no fraction, exponent, thousands separator or hex), got ${quoteForMessage(text, 40)}`,
      { field: wire },
    );
  }
  const [, sign, digits] = m;
  const significant = digits.replace(/^0+/, '');
  return inRange(significant.length > MAX_SIGNIFICANT_DIGITS ? null : signed(sign, significant), type, wire, text);
}

/** An integer from a JSON number literal whose exact value must be whole, as a canonical bigint within `type`. */
export function integerFromJsonNumber(text: string, type: DotNetIntegerType, wire: string): bigint {
  const notWhole = () =>
    new UpstreamNotDtoError(
      `${wire} must be an integer (${RANGES[type].name}), got ${quoteForMessage(text, 40)}, which has a fraction`,
      { field: wire },
    );
  const m = JSON_NUMBER.exec(text);
  if (m === null) throw notWhole();
  const [, sign, intPart, fraction = '', exponentSign = '', exponentDigits = '0'] = m;
  let digits = (intPart + fraction).replace(/^0+/, '');
  if (digits === '') return 0n; // zero in any spelling
  const exponentMagnitude = exponentDigits.replace(/^0+/, '');
  if (exponentMagnitude.length > 6) {
    // A non-zero value times 10^(±huge): a tiny fraction or a huge number.
    if (exponentSign === '-') throw notWhole();
    return inRange(null, type, wire, text);
  }
  let exponent = (exponentSign === '-' ? -1 : 1) * Number(exponentMagnitude || '0') - fraction.length;
  while (exponent < 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exponent += 1;
  }
  if (exponent < 0) throw notWhole();
  if (digits.length + exponent > MAX_SIGNIFICANT_DIGITS) return inRange(null, type, wire, text);
  return inRange(signed(sign, digits + '0'.repeat(exponent)), type, wire, text);
}

function signed(sign: string, digits: string): bigint {
  const magnitude = digits === '' ? 0n : BigInt(digits);
  return sign === '-' ? -magnitude : magnitude;
}

/** `value` null means "certainly out of range" (too many digits to bother converting). */
function inRange(value: bigint | null, type: DotNetIntegerType, wire: string, text: string): bigint {
  const range = RANGES[type];
  if (value === null || value < range.min || value > range.max) {
    throw new UpstreamNotDtoError(`${wire} ${quoteForMessage(text, 40)} is outside the ${range.name} range`, {
      field: wire,
    });
  }
  return value;
}
