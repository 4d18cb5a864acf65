/**
 * Member names of a JSON object in the order the text writes them. lossless-json builds plain JS objects, and a JS
 * object enumerates integer-like names ("10", "2") first, ascending, whatever order they were written in; this reads
 * the order back from the text. It only reads text that lossless-json has already parsed, so it checks no more syntax
 * than it needs to find its way, and a shape it does not expect is a bug, not a bad body.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The member names, repeats included, of the object that is the value of the root object's member `member` (matched
 * exactly). Of a member written more than once the last counts, as lossless-json keeps the last of equal repeats.
 * @param text a JSON text whose root is an object, already parsed by lossless-json
 * @returns null when the root has no such member or its value is not an object
 */
export function memberNamesInOrder(text: string, member: string): string[] | null {
  let valueAt = -1;
  eachMember(text, skipWhitespace(text, 0), (name, at) => {
    if (name === member) valueAt = at;
  });
  if (valueAt === -1 || text.charCodeAt(valueAt) !== OPEN_BRACE) return null;
  const names: string[] = [];
  eachMember(text, valueAt, (name) => names.push(name));
  return names;
}

/** Calls `visit` with each member's name and the index where its value starts; returns the index after the `}`. */
function eachMember(text: string, at: number, visit: (name: string, valueAt: number) => void): number {
  expectCode(text, at, OPEN_BRACE);
  let i = skipWhitespace(text, at + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
  for (;;) {
    const nameEnd = stringEnd(text, i);
    const name = decodeString(text, i, nameEnd);
    i = skipWhitespace(text, nameEnd);
    expectCode(text, i, COLON);
    i = skipWhitespace(text, i + 1);
    visit(name, i);
    i = skipWhitespace(text, valueEnd(text, i));
    if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
    expectCode(text, i, COMMA);
    i = skipWhitespace(text, i + 1);
  }
}

/** The index after the value that starts at `at`. */
function valueEnd(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === QUOTE) return stringEnd(text, at);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let i = at; i < text.length; i++) {
      const d = text.charCodeAt(i);
      if (d === QUOTE) i = stringEnd(text, i) - 1;
      else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return i + 1;
    }
    throw new Error('memberNamesInOrder: unterminated object or array');
  }
  // A number, true, false or null: up to the next delimiter or whitespace.
  let i = at;
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isWhitespace(d)) break;
    i++;
  }
  if (i === at) throw new Error(`memberNamesInOrder: no value at ${at}`);
  return i;
}

/** The index after the string token that starts at `at` (a `"`). */
function stringEnd(text: string, at: number): number {
  expectCode(text, at, QUOTE);
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  throw new Error('memberNamesInOrder: unterminated string');
}

/** The string a token stands for: JSON.parse decodes escapes exactly as lossless-json does for valid JSON. */
function decodeString(text: string, start: number, end: number): string {
  const token = text.slice(start, end);
  return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
}

function skipWhitespace(text: string, at: number): number {
  let i = at;
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** JSON's whitespace, the only whitespace lossless-json skips. */
function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function expectCode(text: string, at: number, code: number): void {
  if (text.charCodeAt(at) !== code) {
    throw new Error(`memberNamesInOrder: expected ${String.fromCharCode(code)} at ${at}`);
  }
}
