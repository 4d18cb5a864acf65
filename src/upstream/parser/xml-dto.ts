/**
 * Reads an IntegrationStatusDTO from DataContractSerializer XML: members matched by local name whatever their order
 * or prefix, `xsi:nil` for null, and `CustomDatabaseValues` as `KeyValueOfstringstring` items.
 */
import { UpstreamBodyUnreadableError, UpstreamNotDtoError, quoteForMessage } from '../errors';
import type { CustomDatabaseValues, IntegrationStatus } from '../integration-status';
import {
  FIELD_BY_FOLDED_NAME,
  FIELDS,
  type FieldKey,
  type ParseIntegrationStatusOptions,
  assemble,
  int32FromLiteral,
  int64FromLiteral,
  requireAll,
  wrongType,
} from './dto-fields';
import { type XmlElement, childElements, hasNonWhitespaceText, textContent } from './xml-document';
import { asciiLower, safeName } from './text';

/** XML Schema instance namespace: the `i:` of `i:nil="true"` in DataContractSerializer output. */
export const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';

/**
 * `true` for `xsi:nil="true"` (or `"1"`), whatever the prefix. A `nil` attribute in another
 * namespace is refused rather than ignored: read as "not nil" it would turn a null string into "".
 */
function isNil(element: XmlElement, where: string): boolean {
  let nil = false;
  for (const attribute of element.attributes) {
    if (attribute.localName !== 'nil') continue;
    if (attribute.namespaceUri !== XSI_NAMESPACE) {
      throw new UpstreamNotDtoError(
        `${where} has a nil attribute ${safeName(attribute.name)} that is not in the XML Schema instance namespace ${XSI_NAMESPACE}`,
      );
    }
    const value = attribute.value.trim();
    if (value === 'true' || value === '1') nil = true;
    else if (value === 'false' || value === '0') nil = false;
    else
      throw new UpstreamNotDtoError(
        `${where} has xsi:nil=${quoteForMessage(attribute.value, 20)}, expected true or false`,
      );
  }
  if (nil && element.children.length > 0) {
    throw new UpstreamNotDtoError(`${where} is xsi:nil="true" but has content`);
  }
  return nil;
}

export function dtoFromXml(root: XmlElement, options: ParseIntegrationStatusOptions): IntegrationStatus {
  refuseNonDtoRoot(root);
  const elements = fieldElements(root);
  // The three numbers' emptiness is checked before any other member is read: this order decides which problem is
  // reported when a body has several.
  const sourceSystemIdText = nonEmptyText(elements, 'sourceSystemId', 'an integer (.NET int) or xsi:nil');
  const pk = nonEmptyText(elements, 'maxSyncDateMaxPkId', 'an integer (.NET long) or xsi:nil');
  const sourceId = nonEmptyText(elements, 'sourceId', 'an integer (.NET long) or xsi:nil');

  return assemble(
    {
      integrationName: simpleText(elements, 'integrationName'),
      sourceSystemId: sourceSystemIdText === null ? null : int32FromLiteral(sourceSystemIdText),
      lastRunStartDateTime: nonEmptyText(elements, 'lastRunStartDateTime', 'a date or xsi:nil'),
      lastRunEndDateTime: nonEmptyText(elements, 'lastRunEndDateTime', 'a date or xsi:nil'),
      processStatusMeaning: simpleText(elements, 'processStatusMeaning'),
      maxSyncDateTime: nonEmptyText(elements, 'maxSyncDateTime', 'a date or xsi:nil'),
      maxSyncDateMaxPkId: pk === null ? null : int64FromLiteral(pk, 'maxSyncDateMaxPkId'),
      sourceId: sourceId === null ? null : int64FromLiteral(sourceId, 'sourceId'),
      sourceIdString: simpleText(elements, 'sourceIdString'),
      customDatabaseValues: xmlDictionary(elements.get('customDatabaseValues')!),
    },
    options,
  );
}

/** Refuses a root that is not a present IntegrationStatusDTO element holding only elements. */
function refuseNonDtoRoot(root: XmlElement): void {
  if (root.localName.toLowerCase() === 'html') {
    throw new UpstreamBodyUnreadableError('upstream body is an HTML page (root <html>), not an IntegrationStatusDTO');
  }
  if (root.localName !== 'IntegrationStatusDTO') {
    throw new UpstreamNotDtoError(
      `upstream XML root element is <${safeName(root.name)}>, expected IntegrationStatusDTO`,
    );
  }
  if (isNil(root, '<IntegrationStatusDTO>')) {
    throw new UpstreamNotDtoError('upstream XML IntegrationStatusDTO is xsi:nil: no DTO');
  }
  if (hasNonWhitespaceText(root)) {
    throw new UpstreamNotDtoError('upstream XML IntegrationStatusDTO has text directly inside it');
  }
}

/** The DTO's member elements by field, each exactly once (checked by requireAll); unknown elements are ignored. */
function fieldElements(root: XmlElement): Map<FieldKey, XmlElement> {
  const elements = new Map<FieldKey, XmlElement>();
  for (const child of childElements(root)) {
    const key = FIELD_BY_FOLDED_NAME.get(asciiLower(child.localName));
    if (key === undefined) continue;
    if (elements.has(key)) {
      throw new UpstreamNotDtoError(`upstream XML has the element ${FIELDS[key].wire} more than once`, {
        field: FIELDS[key].wire,
      });
    }
    elements.set(key, child);
  }
  requireAll(new Set(elements.keys()), 'XML element');
  return elements;
}

/** The text of a simple element, or null when xsi:nil. */
function simpleText(elements: ReadonlyMap<FieldKey, XmlElement>, key: FieldKey): string | null {
  const element = elements.get(key)!;
  const wire = FIELDS[key].wire;
  if (isNil(element, wire)) return null;
  const child = childElements(element)[0];
  if (child !== undefined) {
    throw new UpstreamNotDtoError(`${wire} must contain only text, found the element <${safeName(child.name)}>`, {
      field: wire,
    });
  }
  return textContent(element);
}

/** As {@link simpleText}, refusing an empty element: a number or a date has no empty form. */
function nonEmptyText(elements: ReadonlyMap<FieldKey, XmlElement>, key: FieldKey, expected: string): string | null {
  const text = simpleText(elements, key);
  if (text === '') throw wrongType(key, expected, 'an empty element');
  return text;
}

/**
 * `CustomDatabaseValues` as DataContractSerializer writes a `Dictionary<string,string>`:
 * `KeyValueOfstringstring` items (namespace .../2003/10/Serialization/Arrays, any prefix), each
 * with one `Key` and one `Value`, in any order. Entries in the items' document order.
 */
function xmlDictionary(element: XmlElement): CustomDatabaseValues | null {
  const field = FIELDS.customDatabaseValues.wire;
  if (isNil(element, field)) return null;
  if (hasNonWhitespaceText(element)) {
    throw new UpstreamNotDtoError(`${field} has text directly inside it; expected KeyValueOfstringstring elements`, {
      field,
    });
  }
  const entries: Array<[string, string | null]> = [];
  const seen = new Set<string>();
  childElements(element).forEach((item, index) => {
    const where = `${field}/KeyValueOfstringstring[${index + 1}]`;
    if (item.localName !== 'KeyValueOfstringstring') {
      throw new UpstreamNotDtoError(
        `${field} contains <${safeName(item.name)}>; expected KeyValueOfstringstring elements`,
        { field },
      );
    }
    if (isNil(item, where) || hasNonWhitespaceText(item)) {
      throw new UpstreamNotDtoError(`${where} must contain Key and Value elements`, { field });
    }
    let keyElement: XmlElement | undefined;
    let valueElement: XmlElement | undefined;
    for (const part of childElements(item)) {
      const folded = asciiLower(part.localName);
      if (folded === 'key' && keyElement === undefined) keyElement = part;
      else if (folded === 'value' && valueElement === undefined) valueElement = part;
      else
        throw new UpstreamNotDtoError(`${where} has an unexpected or repeated element <${safeName(part.name)}>`, {
          field,
        });
    }
    if (keyElement === undefined || valueElement === undefined) {
      throw new UpstreamNotDtoError(`${where} must have both Key and Value`, { field });
    }
    if (isNil(keyElement, `${where}/Key`)) {
      throw new UpstreamNotDtoError(`${where}/Key is xsi:nil; a .NET dictionary key cannot be null`, { field });
    }
    for (const part of [keyElement, valueElement]) {
      if (childElements(part).length > 0) {
        throw new UpstreamNotDtoError(`${where}/${safeName(part.localName)} must contain only text`, { field });
      }
    }
    const key = textContent(keyElement);
    const value = isNil(valueElement, `${where}/Value`) ? null : textContent(valueElement);
    // As DataContractSerializer, which adds each item to the Dictionary: a repeated key throws.
    if (seen.has(key)) {
      throw new UpstreamNotDtoError(`${field} has the key ${quoteForMessage(key, 60)} twice`, { field });
    }
    seen.add(key);
    entries.push([key, value]);
  });
  return entries;
}
