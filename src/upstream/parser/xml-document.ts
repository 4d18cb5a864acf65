/**
 * A namespace-resolved XML element tree on top of fast-xml-parser. The library only tokenizes; namespaces, references,
 * attribute normalization and the XML 1.0 character rules are applied here, so that what the DTO reader sees is what
 * an XML 1.0 + Namespaces processor would report.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UpstreamBodyUnreadableError } from '../errors';
import { refuseDtd } from './content-type';
import { safeName } from './text';

const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';

/** One element of a parsed XML document, with namespaces resolved. */
export interface XmlElement {
  readonly kind: 'element';
  /** Qualified name as written, e.g. `d2p1:Key`. */
  readonly name: string;
  readonly localName: string;
  /** Namespace URI the prefix (or the default namespace) was bound to; null for none. */
  readonly namespaceUri: string | null;
  /** Attributes other than namespace declarations, values decoded and normalized. */
  readonly attributes: readonly XmlAttribute[];
  /** Namespace declarations made on this element: prefix ('' for the default) → URI. */
  readonly namespaceDeclarations: Readonly<Record<string, string>>;
  /** Child elements and text (character data and CDATA, references decoded), in document order. */
  readonly children: ReadonlyArray<XmlElement | XmlText>;
}

export interface XmlText {
  readonly kind: 'text';
  readonly value: string;
}

export interface XmlAttribute {
  readonly name: string;
  readonly localName: string;
  readonly namespaceUri: string | null;
  readonly value: string;
}

const xmlParser = new XMLParser({
  // Document order of text and CDATA pieces is needed to decode them correctly (only text gets
  // references decoded); element order itself is never relied on.
  preserveOrder: true,
  ignoreAttributes: false, // else i:nil="true" disappears
  attributeNamePrefix: '',
  // Namespaces are resolved here from the xmlns declarations instead, so that `nil` is known to be
  // xsi:nil whatever the prefix, and element names are matched by local name.
  removeNSPrefix: false,
  parseTagValue: false, // else "00123" becomes 123
  parseAttributeValue: false,
  trimValues: false, // IntegrationName " Orders " must stay exactly that
  // No entity processing in the library: its entity handling leaves numeric references (&#xD;)
  // undecoded and would decode CDATA content; decodeReferences() below does exactly XML 1.0's
  // predefined set plus character references, and only in text and attribute values.
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  commentPropName: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 64,
});

/**
 * Parses an XML document into a namespace-resolved element tree and returns its root.
 *
 * Refuses, before parsing, any `<!DOCTYPE` or `<!ENTITY` (case-insensitive plain scan, constant
 * memory): no DTD means no entity can expand beyond the five predefined ones. Also refuses
 * characters XML 1.0 forbids, documents that are not well-formed or namespace-well-formed, and
 * more than one root element. Line endings are normalized (CR LF, CR → LF) as XML requires;
 * `&#xD;` stays a CR.
 *
 * @throws UpstreamBodyUnreadableError for all of the above.
 */
export function parseXmlDocument(text: string): XmlElement {
  refuseDtd(text);
  const forbidden = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.exec(text);
  if (forbidden !== null) {
    throw new UpstreamBodyUnreadableError(
      `upstream XML contains the character U+${forbidden[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}, which XML 1.0 forbids (offset ${forbidden.index})`,
    );
  }
  const normalized = text.replace(/\r\n?/g, '\n');
  const validation = XMLValidator.validate(normalized, { allowBooleanAttributes: false });
  if (validation !== true) {
    throw new UpstreamBodyUnreadableError(
      `upstream body is not well-formed XML: ${validation.err.msg} (line ${validation.err.line}, column ${validation.err.col}); truncated or not XML`,
    );
  }
  let nodes: unknown;
  try {
    nodes = xmlParser.parse(normalized);
  } catch (error) {
    throw new UpstreamBodyUnreadableError(
      `upstream body is not readable XML: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!Array.isArray(nodes)) throw new UpstreamBodyUnreadableError('upstream XML has no root element');
  const roots: XmlElement[] = [];
  const scope = new Map<string, string | null>([['xml', XML_NAMESPACE]]);
  for (const node of nodes) {
    const element = convertXmlNode(node, scope);
    if (element === null) continue;
    if (element.kind === 'text') {
      if (/[^ \t\n]/.test(element.value)) {
        throw new UpstreamBodyUnreadableError('upstream XML has text outside its root element');
      }
      continue;
    }
    roots.push(element);
  }
  if (roots.length !== 1) {
    throw new UpstreamBodyUnreadableError(
      roots.length === 0 ? 'upstream XML has no root element' : 'upstream XML has more than one root element',
    );
  }
  return roots[0];
}

type XmlScope = Map<string, string | null>;

function convertXmlNode(node: unknown, parentScope: XmlScope): XmlElement | XmlText | null {
  if (typeof node !== 'object' || node === null) return null;
  const record = node as Record<string, unknown>;
  if ('#text' in record) return { kind: 'text', value: decodeReferences(String(record['#text']), 'text') };
  if ('#cdata' in record) {
    // CDATA content is never parsed as a value (parseTagValue is off), so each piece is a string.
    const parts = record['#cdata'] as Array<{ '#text'?: string }>;
    return { kind: 'text', value: parts.map((p) => p['#text'] ?? '').join('') };
  }
  const name = Object.keys(record).find((k) => k !== ':@');
  if (name === undefined) return null;
  const rawAttributes = (record[':@'] ?? {}) as Record<string, unknown>;

  const declarations: Record<string, string> = {};
  const plainAttributes: Array<{ name: string; value: string }> = [];
  const scope = sortAttributes(rawAttributes, parentScope, declarations, plainAttributes);
  const [prefix, localName] = splitQName(name);
  const namespaceUri = resolvePrefix(scope, prefix, name, true);
  const attributes = resolveAttributes(plainAttributes, scope, name);
  const children = convertChildren(record[name], scope);
  return { kind: 'element', name, localName, namespaceUri, attributes, namespaceDeclarations: declarations, children };
}

/**
 * Decodes an element's attributes and sorts them: namespace declarations into `declarations` and the returned scope,
 * the others into `plainAttributes`. The parent's scope is copied only when the element declares a namespace, so
 * that elements declaring none share it.
 */
function sortAttributes(
  rawAttributes: Record<string, unknown>,
  parentScope: XmlScope,
  declarations: Record<string, string>,
  plainAttributes: Array<{ name: string; value: string }>,
): XmlScope {
  let scope = parentScope;
  for (const [attrName, rawValue] of Object.entries(rawAttributes)) {
    const value = decodeAttributeValue(String(rawValue), attrName);
    if (attrName === 'xmlns' || attrName.startsWith('xmlns:')) {
      const prefix = attrName === 'xmlns' ? '' : attrName.slice(6);
      if (prefix !== '' && value === '') {
        throw new UpstreamBodyUnreadableError(
          `upstream XML undeclares the prefix ${safeName(prefix)}, which XML 1.0 namespaces forbid`,
        );
      }
      if (scope === parentScope) scope = new Map(parentScope);
      scope.set(prefix, value === '' ? null : value);
      declarations[prefix] = value;
    } else {
      plainAttributes.push({ name: attrName, value });
    }
  }
  return scope;
}

/**
 * The plain attributes of element `elementName` with their namespaces resolved in `scope`. Two attributes with the
 * same namespace and local name are refused, even when written with different prefixes.
 */
function resolveAttributes(
  plainAttributes: ReadonlyArray<{ name: string; value: string }>,
  scope: XmlScope,
  elementName: string,
): XmlAttribute[] {
  const attributes: XmlAttribute[] = [];
  for (const attribute of plainAttributes) {
    const [attrPrefix, attrLocal] = splitQName(attribute.name);
    attributes.push({
      name: attribute.name,
      localName: attrLocal,
      namespaceUri: attrPrefix === null ? null : resolvePrefix(scope, attrPrefix, attribute.name, false),
      value: attribute.value,
    });
  }
  const seenAttributes = new Set<string>();
  for (const a of attributes) {
    const id = `${a.namespaceUri ?? ''}\u0000${a.localName}`;
    if (seenAttributes.has(id)) {
      throw new UpstreamBodyUnreadableError(
        `upstream XML element <${safeName(elementName)}> has the attribute ${safeName(a.localName)} twice`,
      );
    }
    seenAttributes.add(id);
  }
  return attributes;
}

/** Converts an element's content in document order, joining adjacent text and CDATA pieces into one text. */
function convertChildren(content: unknown, scope: XmlScope): Array<XmlElement | XmlText> {
  const children: Array<XmlElement | XmlText> = [];
  if (!Array.isArray(content)) return children;
  for (const child of content) {
    const converted = convertXmlNode(child, scope);
    if (converted === null) continue;
    const last = children[children.length - 1];
    if (converted.kind === 'text' && last !== undefined && last.kind === 'text') {
      children[children.length - 1] = { kind: 'text', value: last.value + converted.value };
    } else {
      children.push(converted);
    }
  }
  return children;
}

function splitQName(name: string): [prefix: string | null, localName: string] {
  const colon = name.indexOf(':');
  if (colon === -1) return [null, name];
  const prefix = name.slice(0, colon);
  const local = name.slice(colon + 1);
  if (prefix === '' || local === '' || local.includes(':')) {
    throw new UpstreamBodyUnreadableError(`upstream XML has the malformed qualified name ${safeName(name)}`);
  }
  return [prefix, local];
}

function resolvePrefix(scope: XmlScope, prefix: string | null, name: string, isElement: boolean): string | null {
  if (prefix === null) return isElement ? (scope.get('') ?? null) : null;
  if (prefix === 'xmlns') {
    throw new UpstreamBodyUnreadableError(`upstream XML uses the reserved prefix xmlns in ${safeName(name)}`);
  }
  const uri = scope.get(prefix);
  if (uri === undefined || uri === null) {
    throw new UpstreamBodyUnreadableError(
      `upstream XML uses the undeclared namespace prefix ${safeName(prefix)} in ${safeName(name)}`,
    );
  }
  return uri;
}

const PREDEFINED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
const REFERENCE = /&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z_:][A-Za-z0-9._:-]*));/y;

/**
 * Decodes the five predefined entity references and character references. Any other entity is
 * undeclared (there is no DTD), which makes the document not well-formed. Character references
 * may name any code point 1..10FFFF: .NET's XmlWriter with CheckCharacters=false (ASP.NET Web
 * API's XmlMediaTypeFormatter) writes control characters as `&#x1;`, and a .NET string may hold
 * them; only NUL cannot be in a .NET-compatible XML string.
 */
function decodeReferences(raw: string, where: string): string {
  if (where === 'text' && raw.includes(']]>')) {
    throw new UpstreamBodyUnreadableError('upstream XML has "]]>" in character data, which XML 1.0 forbids');
  }
  if (!raw.includes('&')) return raw;
  let out = '';
  let from = 0;
  for (let at = raw.indexOf('&'); at !== -1; at = raw.indexOf('&', from)) {
    out += raw.slice(from, at);
    REFERENCE.lastIndex = at;
    const m = REFERENCE.exec(raw);
    if (m === null) {
      throw new UpstreamBodyUnreadableError(`upstream XML has a bare "&" or an unterminated reference in ${where}`);
    }
    const [, hex, dec, entity] = m;
    if (entity !== undefined) {
      const replacement = PREDEFINED_ENTITIES[entity];
      if (replacement === undefined) {
        throw new UpstreamBodyUnreadableError(
          `upstream XML uses the undeclared entity &${safeName(entity)}; in ${where} (only &lt; &gt; &amp; &apos; &quot; exist without a DTD)`,
        );
      }
      out += replacement;
    } else {
      const digits = hex ?? dec;
      const code = digits.length > 8 ? Number.POSITIVE_INFINITY : Number.parseInt(digits, hex !== undefined ? 16 : 10);
      if (!(code >= 1 && code <= 0x10ffff)) {
        throw new UpstreamBodyUnreadableError(
          `upstream XML has the character reference ${safeName(m[0])} in ${where}, which names no allowed character`,
        );
      }
      out += String.fromCodePoint(code);
    }
    from = REFERENCE.lastIndex;
  }
  return out + raw.slice(from);
}

function decodeAttributeValue(raw: string, name: string): string {
  if (raw.includes('<')) {
    throw new UpstreamBodyUnreadableError(
      `upstream XML attribute ${safeName(name)} contains "<", which XML 1.0 forbids`,
    );
  }
  // Attribute-value normalization (XML 1.0 §3.3.3): literal whitespace becomes a space, but
  // whitespace written as a character reference is kept.
  return decodeReferences(raw.replace(/[\t\n]/g, ' '), `attribute ${safeName(name)}`);
}

export function childElements(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => c.kind === 'element');
}

export function textContent(element: XmlElement): string {
  let text = '';
  for (const child of element.children) if (child.kind === 'text') text += child.value;
  return text;
}

export function hasNonWhitespaceText(element: XmlElement): boolean {
  return element.children.some((c) => c.kind === 'text' && /[^ \t\n\r]/.test(c.value));
}
