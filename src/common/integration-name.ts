/**
 * The one identity rule for IntegrationNames, as the upstream's SQL Server default collation
 * (SQL_Latin1_General_CP1_CI_AS) compares them where it looks the row up:
 * - case-insensitive, with full case folding (`STRAßE` is `strasse`, final sigma is sigma);
 * - width-insensitive (`Ｏｒｄｅｒｓ` is `Orders`, halfwidth katakana is katakana);
 * - accent-sensitive (`résumé` is not `resume`), canonically equivalent forms equal (`e` + U+0301 is `é`);
 * - trailing U+0020 spaces ignored (ANSI padding); leading spaces and every other character count, so a zero-width
 *   or other invisible character (U+200B, U+00AD, U+FEFF) makes a different name.
 *
 * The configuration's duplicate check and the check that an upstream answer is about the integration asked for both
 * use it, so two names are either one integration everywhere or two everywhere.
 */

/** Printable ASCII: the common case, folded by `toLowerCase` alone. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Characters with a `<wide>` or `<narrow>` decomposition: the Halfwidth and Fullwidth Forms, the ideographic space. */
const WIDTH_VARIANT = /[\u3000\uff01-\uffee]/g;
/** Upper-casing it gives `I`, which would make it `i`; case folding keeps the dotless i a letter of its own. */
const DOTLESS_I = 'ı';

/**
 * The comparison key of a name: two names are the same integration exactly when their keys are equal.
 * Usable as a Map key.
 */
export function integrationNameKey(name: string): string {
  if (PRINTABLE_ASCII.test(name)) return trimTrailingSpaces(name.toLowerCase());
  const narrowed = name.replace(WIDTH_VARIANT, (char) => char.normalize('NFKC')).normalize('NFC');
  let folded = '';
  // Upper then lower case is full case folding (ß → SS → ss, ς → Σ → σ) for every letter but the dotless i.
  for (const char of narrowed) folded += char === DOTLESS_I ? char : char.toUpperCase().toLowerCase();
  return trimTrailingSpaces(folded.normalize('NFC'));
}

/** True when `a` and `b` name the same integration (see {@link integrationNameKey}). */
export function sameIntegrationName(a: string, b: string): boolean {
  return a === b || integrationNameKey(a) === integrationNameKey(b);
}

function trimTrailingSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end -= 1;
  return end === text.length ? text : text.slice(0, end);
}
