/**
 * Reads an IntegrationStartRequest body the way the upstream does: Json.NET for JSON (property
 * names case-insensitive, last one wins) and a strict DataContractSerializer for XML (namespace
 * and member order matter; anything unexpected is skipped and its member keeps its default).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { XSI_NAMESPACE } from './dto-writer';

/** DataContract namespace of the request type. */
export const REQUEST_NAMESPACE =
  'http://schemas.datacontract.org/2004/07/Gravitate.WCF.Integration.IntegrationStatusModels';
const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Body of an ASP.NET Web API error (`HttpError`), as Json.NET writes it. */
export interface AspNetError {
  Message: string;
  MessageDetail?: string;
  ModelState?: Record<string, string[]>;
}

/** The request after deserialisation: members missing or skipped carry .NET defaults (0 / null). */
export interface DeserializedRequest {
  sourceSystemId: number;
  integrationName: string | null;
}

/** Why the body could not become a request (Web API then binds `null` and the action answers 400). */
export class RequestBodyError extends Error {
  constructor(
    message: string,
    readonly modelStateKey = 'request',
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON (Json.NET)

function toInt32FromJson(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return value;
  // Json.NET converts numeric strings with Convert.ToInt32(InvariantCulture), which allows whitespace and a sign.
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) {
    const n = Number(value.trim());
    if (n >= INT32_MIN && n <= INT32_MAX) return n;
  }
  throw new RequestBodyError(
    `Error converting value ${JSON.stringify(value)} to type 'System.Int32'. Path 'SourceSystemId'.`,
    'request.SourceSystemId',
  );
}

/**
 * Deserialises a JSON body like Json.NET binding `IntegrationStartRequest`.
 * @throws RequestBodyError for unparsable JSON, a non-object root, or a value of the wrong type.
 */
export function readJsonRequest(text: string): DeserializedRequest {
  if (text.trim() === '') throw new RequestBodyError('The request body is empty.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RequestBodyError(`Unexpected character encountered while parsing value: ${(err as Error).message}`);
  }
  if (parsed === null) throw new RequestBodyError('The request body is null.');
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RequestBodyError(
      "Cannot deserialize the current JSON value into type 'IntegrationStartRequest' because the type requires a JSON object.",
    );
  }
  const result: DeserializedRequest = { sourceSystemId: 0, integrationName: null };
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const lower = name.toLowerCase();
    if (lower === 'sourcesystemid') {
      result.sourceSystemId = toInt32FromJson(value);
    } else if (lower === 'integrationname') {
      if (value === null) result.integrationName = null;
      else if (typeof value === 'string') result.integrationName = value;
      else if (typeof value === 'number' || typeof value === 'boolean') {
        // Json.NET turns primitive tokens into their text when the target is a string.
        result.integrationName = typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value);
      } else {
        throw new RequestBodyError(
          "Unexpected character encountered while parsing value. Path 'IntegrationName'.",
          'request.IntegrationName',
        );
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// XML (DataContractSerializer)

type XmlNode = Record<string, unknown>;
type Scope = ReadonlyMap<string, string>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Entities are decoded here instead: the parser would leave numeric references and unknown names alone.
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  commentPropName: '#comment',
  ignoreDeclaration: true,
  ignorePiTags: true,
});

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** Decodes the five predefined entities and character references; anything else is not well-formed. */
function decodeXmlText(raw: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) return out + raw.slice(i);
    out += raw.slice(i, amp);
    const semi = raw.indexOf(';', amp);
    if (semi < 0) throw new RequestBodyError('An error occurred while parsing EntityName.');
    const name = raw.slice(amp + 1, semi);
    if (name in PREDEFINED) out += PREDEFINED[name];
    else if (/^#x[0-9a-fA-F]+$/.test(name) || /^#[0-9]+$/.test(name)) {
      const cp = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (!isXmlChar(cp)) throw new RequestBodyError(`'${name}' is an invalid character reference.`);
      out += String.fromCodePoint(cp);
    } else {
      throw new RequestBodyError(`Reference to undeclared entity '${name}'.`);
    }
    i = semi + 1;
  }
}

function normaliseLineEnds(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

function elementName(node: XmlNode): string | undefined {
  return Object.keys(node).find((k) => k !== ':@' && !k.startsWith('#'));
}

function attributesOf(node: XmlNode): Record<string, string> {
  return (node[':@'] as Record<string, string> | undefined) ?? {};
}

function childScope(parent: Scope, attrs: Record<string, string>): Scope {
  let scope: Map<string, string> | undefined;
  for (const [name, raw] of Object.entries(attrs)) {
    if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue;
    const value = decodeXmlText(raw);
    const prefix = name === 'xmlns' ? '' : name.slice(6);
    if (prefix !== '' && value === '') throw new RequestBodyError(`Cannot use a prefix with an empty namespace.`);
    scope ??= new Map(parent);
    scope.set(prefix, value);
  }
  return scope ?? parent;
}

function resolve(qname: string, scope: Scope, isAttribute: boolean): { ns: string; local: string } {
  const colon = qname.indexOf(':');
  const prefix = colon < 0 ? '' : qname.slice(0, colon);
  const local = colon < 0 ? qname : qname.slice(colon + 1);
  // Unprefixed attributes are in no namespace; the default namespace applies to elements only.
  if (prefix === '' && isAttribute) return { ns: '', local };
  const ns = scope.get(prefix);
  if (ns === undefined) throw new RequestBodyError(`'${prefix}' is an undeclared prefix.`);
  return { ns, local };
}

/** XmlReader rejects an undeclared prefix anywhere in the document, even inside skipped elements. */
function checkPrefixes(node: XmlNode, parentScope: Scope): void {
  const qname = elementName(node);
  if (qname === undefined) return;
  const attrs = attributesOf(node);
  const scope = childScope(parentScope, attrs);
  resolve(qname, scope, false);
  for (const name of Object.keys(attrs)) {
    if (name !== 'xmlns' && !name.startsWith('xmlns:')) resolve(name, scope, true);
  }
  for (const child of node[qname] as XmlNode[]) checkPrefixes(child, scope);
}

function isNil(attrs: Record<string, string>, scope: Scope): boolean {
  for (const [name, raw] of Object.entries(attrs)) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    const { ns, local } = resolve(name, scope, true);
    if (ns === XSI_NAMESPACE && local === 'nil') {
      const v = decodeXmlText(raw).trim();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw new RequestBodyError(`The value '${v}' cannot be parsed as the type 'Boolean'.`);
    }
  }
  return false;
}

/** Text content of a member element (ReadElementContentAsString): child elements are an error. */
function textContent(children: XmlNode[], memberName: string): string {
  let out = '';
  for (const child of children) {
    if ('#text' in child) out += decodeXmlText(normaliseLineEnds(String(child['#text'])));
    else if ('#cdata' in child) {
      // CDATA is never parsed as a value (parseTagValue is off), so each piece is a string.
      for (const part of child['#cdata'] as Array<{ '#text'?: string }>) out += normaliseLineEnds(part['#text'] ?? '');
    } else if ('#comment' in child) continue;
    else throw new RequestBodyError(`Element '${memberName}' must not contain elements.`, `request.${memberName}`);
  }
  return out;
}

function toInt32FromXml(text: string): number {
  // XmlConvert.ToInt32: XML whitespace around an optionally signed run of digits.
  const trimmed = text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  if (/^[+-]?\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    if (n >= INT32_MIN && n <= INT32_MAX) return n;
  }
  throw new RequestBodyError(
    `There was an error deserializing the object of type IntegrationStartRequest. The value '${text}' cannot be parsed as the type 'Int32'.`,
    'request.SourceSystemId',
  );
}

/**
 * Deserialises an XML body like DataContractSerializer reading `IntegrationStartRequest`:
 * the root must be `IntegrationStartRequest` in {@link REQUEST_NAMESPACE}; members are read in
 * DataContract order (IntegrationName, then SourceSystemId). A child that is out of order, in
 * another namespace, repeated or unknown is skipped, so its member keeps its default (null / 0).
 * @throws RequestBodyError for a DOCTYPE (DTDs are prohibited), XML that is not well-formed, a
 *   wrong root, a nil root, an unparsable or nil SourceSystemId, or a member holding child elements.
 */
export function readXmlRequest(text: string): DeserializedRequest {
  const root = parseSingleRoot(text);
  const rootQName = elementName(root)!;
  const rootScope = requestRootScope(root, rootQName);
  return readMembers(root[rootQName] as XmlNode[], rootScope);
}

/** The document's one root element, after the checks XmlReader makes before any member is read. */
function parseSingleRoot(text: string): XmlNode {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') throw new RequestBodyError('The request body is empty.');
  if (/<!DOCTYPE/i.test(body)) {
    throw new RequestBodyError(
      'For security reasons DTD is prohibited in this XML document. To enable DTD processing set the DtdProcessing property on XmlReaderSettings to Parse.',
    );
  }
  const valid = XMLValidator.validate(body);
  if (valid !== true)
    throw new RequestBodyError(
      `The XML is not well-formed: ${valid.err.msg} Line ${valid.err.line}, position ${valid.err.col}.`,
    );

  const top = parser.parse(body) as XmlNode[];
  const roots: XmlNode[] = [];
  for (const node of top) {
    if ('#text' in node) {
      if (String(node['#text']).trim() !== '') throw new RequestBodyError('Data at the root level is invalid.');
    } else if (!('#comment' in node)) roots.push(node);
  }
  if (roots.length !== 1) throw new RequestBodyError('There are multiple root elements.');
  return roots[0];
}

/**
 * Checks every prefix in the document, then that the root is a non-nil `IntegrationStartRequest` in
 * {@link REQUEST_NAMESPACE}.
 * @returns the namespace scope inside the root
 */
function requestRootScope(root: XmlNode, rootQName: string): Scope {
  const rootAttrs = attributesOf(root);
  const baseScope: Scope = new Map([
    ['', ''],
    ['xml', XML_NAMESPACE],
  ]);
  checkPrefixes(root, baseScope);
  const rootScope = childScope(baseScope, rootAttrs);
  const rootName = resolve(rootQName, rootScope, false);
  if (rootName.local !== 'IntegrationStartRequest' || rootName.ns !== REQUEST_NAMESPACE) {
    throw new RequestBodyError(
      `Error in line 1 position 1. Expecting element 'IntegrationStartRequest' from namespace '${REQUEST_NAMESPACE}'.. ` +
        `Encountered 'Element'  with name '${rootName.local}', namespace '${rootName.ns}'. `,
    );
  }
  if (isNil(rootAttrs, rootScope)) throw new RequestBodyError('The request body is nil.');
  return rootScope;
}

/** The request's members in DataContract order. */
const REQUEST_MEMBERS = ['IntegrationName', 'SourceSystemId'] as const;

/** Reads the root's children into the request, each member at most once and only in {@link REQUEST_MEMBERS} order. */
function readMembers(children: XmlNode[], rootScope: Scope): DeserializedRequest {
  const result: DeserializedRequest = { sourceSystemId: 0, integrationName: null };
  // Index of the last member read: DataContractSerializer only looks forward from it.
  let memberIndex = -1;
  for (const child of children) {
    if ('#comment' in child) continue;
    if ('#text' in child || '#cdata' in child) {
      const raw = '#text' in child ? String(child['#text']) : '';
      if ('#cdata' in child || raw.trim() !== '') throw new RequestBodyError(`Data at the root level is invalid.`);
      continue;
    }
    const qname = elementName(child)!;
    const attrs = attributesOf(child);
    const scope = childScope(rootScope, attrs);
    const { ns, local } = resolve(qname, scope, false);
    const found = memberIndexAfter(memberIndex, ns, local);
    if (found < 0) continue;
    memberIndex = found;
    readMember(result, REQUEST_MEMBERS[found], isNil(attrs, scope), child[qname] as XmlNode[]);
  }
  return result;
}

/** The index in {@link REQUEST_MEMBERS} of the member an element names, looking only past `after`; -1 for none. */
function memberIndexAfter(after: number, ns: string, local: string): number {
  if (ns !== REQUEST_NAMESPACE) return -1;
  for (let i = after + 1; i < REQUEST_MEMBERS.length; i++) if (REQUEST_MEMBERS[i] === local) return i;
  return -1;
}

/** Sets `member` of `result` from its element: `nil` (xsi:nil) and its content `children`. */
function readMember(
  result: DeserializedRequest,
  member: (typeof REQUEST_MEMBERS)[number],
  nil: boolean,
  children: XmlNode[],
): void {
  if (member === 'IntegrationName') {
    result.integrationName = nil ? null : textContent(children, 'IntegrationName');
  } else {
    if (nil) throw new RequestBodyError("ValueType 'System.Int32' cannot be null.", 'request.SourceSystemId');
    result.sourceSystemId = toInt32FromXml(textContent(children, 'SourceSystemId'));
  }
}
