/** Small text helpers shared by the body readers. */

/** Names folded so far: an upstream sends the same few member names in every answer. */
const FOLDED = new Map<string, string>();
const MAX_FOLDED = 1_024;

/** Folds only A-Z, so a non-ASCII look-alike (e.g. the Kelvin sign) never matches a field name. */
export function asciiLower(text: string): string {
  let folded = FOLDED.get(text);
  if (folded === undefined) {
    folded = text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
    if (FOLDED.size < MAX_FOLDED) FOLDED.set(text, folded);
  }
  return folded;
}

export function firstNonXmlWhitespace(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
  }
  return -1;
}

export function localNameOf(qName: string): string {
  const colon = qName.indexOf(':');
  return colon === -1 ? qName : qName.slice(colon + 1);
}

/** An element/attribute/prefix name made safe for a message (it comes from the body). */
export function safeName(name: string): string {
  const cleaned = name.replace(/[^\p{L}\p{N}_.:#&;-]/gu, '?');
  return cleaned.length > 60 ? `${cleaned.slice(0, 60)}…` : cleaned;
}
