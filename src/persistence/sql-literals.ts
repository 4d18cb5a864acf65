/**
 * Values written into the text of a statement sent without parameters (the simple query protocol, which carries
 * several statements in one round trip: see `inOneRoundTrip` in the repository). These are the only ways a value
 * gets into such a text; each either checks its value's form or quotes it so that it cannot end its literal.
 */

/**
 * A timestamptz expression as whole milliseconds since the epoch, a float8 (exact below 2^53): the instant pg would
 * make a Date of, without parsing its text. `expression` is SQL written by the caller, never a value.
 */
export function epochMs(expression: string): string {
  return `floor(EXTRACT(EPOCH FROM ${expression}) * 1000)::float8`;
}

/**
 * A `bigint[]` literal of database ids.
 * @throws Error when an id is not 1 to 19 decimal digits (ids come from bigint columns read as text)
 */
export function sqlIds(ids: readonly string[]): string {
  for (const id of ids)
    if (!/^[0-9]{1,19}$/.test(id)) throw new Error(`not a database id: ${JSON.stringify(id).slice(0, 40)}`);
  return `ARRAY[${ids.join(',')}]::bigint[]`;
}

/**
 * A non-negative integer.
 * @throws Error when `value` is not a non-negative safe integer
 */
export function sqlCount(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`not a non-negative integer: ${String(value)}`);
  return String(value);
}

/**
 * `text` as a dollar-quoted literal. Postgres takes everything up to the first closing tag as is (no escapes), so
 * the tag (`$tm$`, `$tm1$`, …) is one that occurs in `text` followed by the tag only at its end: neither inside
 * `text` nor straddling its end (a text ending in `$tm` would otherwise close at `$tm` + `$`).
 * Put it where a value goes (after a space, a parenthesis, a comma or an operator): right after an identifier
 * character, Postgres would read `$` as part of the identifier.
 * @throws Error when `text` holds a NUL character, which no Postgres text can
 */
export function sqlText(text: string): string {
  if (text.includes('\u0000')) throw new Error('a text written into a statement cannot hold a NUL character');
  let tag = '$tm$';
  for (let n = 1; `${text}${tag}`.indexOf(tag) !== text.length; n++) tag = `$tm${n}$`;
  return `${tag}${text}${tag}`;
}

/** A `text[]` of {@link sqlText} literals. */
export function sqlTextArray(texts: readonly string[]): string {
  return `ARRAY[${texts.map(sqlText).join(',')}]::text[]`;
}
