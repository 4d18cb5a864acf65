/**
 * Reads an IntegrationStatusDTO from JSON with lossless-json: numbers stay their literal text, so a .NET long beyond
 * 2^53 is never rounded through float64, and a member repeated with a different value is refused, not last-one-wins.
 */
import { parse as parseLosslessJson } from 'lossless-json';
import { UpstreamBodyUnreadableError, UpstreamNotDtoError, quoteForMessage } from '../errors';
import type { CustomDatabaseValues, IntegrationStatus } from '../integration-status';
import {
  FIELD_BY_FOLDED_NAME,
  FIELDS,
  type FieldKey,
  type ParseIntegrationStatusOptions,
  assemble,
  int32FromJsonNumber,
  int32FromLiteral,
  int64FromJsonNumber,
  int64FromLiteral,
  requireAll,
  wrongType,
} from './dto-fields';
import { memberNamesInOrder } from './json-member-order';
import { asciiLower } from './text';

/** A JSON number, kept as its literal text so nothing is lost to float64. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

class DuplicateJsonKey extends Error {
  constructor(readonly key: string) {
    super('duplicate key');
  }
}

export function parseJsonDocument(text: string, shownType: string, sniffed: boolean): unknown {
  try {
    return parseLosslessJson(text, null, {
      parseNumber: (literal: string) => new JsonNumber(literal),
      // lossless-json calls this only when the values differ; an exact repeat of a member
      // with an identical value is harmless and let through.
      onDuplicateKey: ({ key }) => {
        throw new DuplicateJsonKey(key);
      },
    });
  } catch (error) {
    if (error instanceof DuplicateJsonKey) {
      throw new UpstreamNotDtoError(
        `upstream JSON has the member ${quoteForMessage(error.key, 60)} twice in one object, with different values`,
      );
    }
    if (error instanceof RangeError) {
      throw new UpstreamBodyUnreadableError(`upstream body (${shownType}) is JSON nested too deeply to read`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    const what = sniffed ? 'neither an IntegrationStatusDTO in XML nor valid JSON' : 'not valid JSON';
    throw new UpstreamBodyUnreadableError(`upstream body (${shownType}) is ${what} (${reason}); truncated or not JSON`);
  }
}

export function isPlainJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof JsonNumber)
    return `the number ${value.text.length > 40 ? `${value.text.slice(0, 40)}…` : value.text}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/**
 * @param root what {@link parseJsonDocument} made of `text`
 * @param text the JSON text, for the order of `CustomDatabaseValues`' members
 */
export function dtoFromJson(root: unknown, text: string, options: ParseIntegrationStatusOptions): IntegrationStatus {
  if (!isPlainJsonObject(root)) {
    throw new UpstreamNotDtoError(`upstream body is JSON ${describeJson(root)}, not an IntegrationStatusDTO object`);
  }
  const members = dtoMembers(root);
  const sourceSystemId = sourceSystemIdMember(members);
  return assemble(
    {
      integrationName: stringMember(members, 'integrationName'),
      sourceSystemId,
      lastRunStartDateTime: dateMember(members, 'lastRunStartDateTime'),
      lastRunEndDateTime: dateMember(members, 'lastRunEndDateTime'),
      processStatusMeaning: stringMember(members, 'processStatusMeaning'),
      maxSyncDateTime: dateMember(members, 'maxSyncDateTime'),
      maxSyncDateMaxPkId: int64Member(members, 'maxSyncDateMaxPkId'),
      sourceId: int64Member(members, 'sourceId'),
      sourceIdString: stringMember(members, 'sourceIdString'),
      customDatabaseValues: jsonDictionary(members.get('customDatabaseValues')!, text),
    },
    options,
  );
}

/** A member of the root object that is a DTO field: its name as written, and its value. */
interface DtoMember {
  name: string;
  value: unknown;
}

/**
 * The root's members that are DTO fields, by field; names match case-insensitively, and unknown members are ignored.
 * Two names of the same field are refused, and so is a missing field: every field is in the map.
 */
function dtoMembers(root: Record<string, unknown>): Map<FieldKey, DtoMember> {
  const members = new Map<FieldKey, DtoMember>();
  for (const name of Object.keys(root)) {
    const key = FIELD_BY_FOLDED_NAME.get(asciiLower(name));
    if (key === undefined) continue; // unknown members are ignored
    const previous = members.get(key);
    if (previous !== undefined) {
      throw new UpstreamNotDtoError(
        `upstream JSON has both ${quoteForMessage(previous.name, 40)} and ${quoteForMessage(name, 40)}, which are the same field ${FIELDS[key].wire}`,
        { field: FIELDS[key].wire },
      );
    }
    members.set(key, { name, value: root[name] });
  }
  requireAll(new Set(members.keys()), 'JSON member');
  return members;
}

function stringMember(members: Map<FieldKey, DtoMember>, key: FieldKey): string | null {
  const value = members.get(key)!.value;
  if (value === null || typeof value === 'string') return value;
  throw wrongType(key, 'a string or null', describeJson(value));
}

function int64Member(members: Map<FieldKey, DtoMember>, key: FieldKey): string | null {
  const value = members.get(key)!.value;
  if (value === null) return null;
  if (value instanceof JsonNumber) return int64FromJsonNumber(value.text, key);
  // Json.NET converts a string into a long with the same rules as a number in text.
  if (typeof value === 'string') return int64FromLiteral(value, key);
  throw wrongType(key, 'an integer number (.NET long) or null', describeJson(value));
}

function dateMember(members: Map<FieldKey, DtoMember>, key: FieldKey): string | null {
  const value = members.get(key)!.value;
  if (value === null) return null;
  if (typeof value === 'string') return value;
  throw wrongType(key, 'a date string or null', describeJson(value));
}

/** SourceSystemId, the DTO's one .NET int. */
function sourceSystemIdMember(members: Map<FieldKey, DtoMember>): number | null {
  const value = members.get('sourceSystemId')!.value;
  if (value === null) return null;
  if (value instanceof JsonNumber) return int32FromJsonNumber(value.text);
  if (typeof value === 'string') return int32FromLiteral(value);
  throw wrongType('sourceSystemId', 'an integer number (.NET int) or null', describeJson(value));
}

/**
 * `CustomDatabaseValues` in JSON: `{"k":"v"}` (Json.NET, the help page) or `[{"Key":"k","Value":"v"}]`
 * (DataContractJsonSerializer's dictionary form), as entries in the upstream's order: the array's order, or the
 * object's members as `text` writes them (`member.name` is the root member's exact name there).
 */
function jsonDictionary(member: DtoMember, text: string): CustomDatabaseValues | null {
  const { value } = member;
  if (value === null) return null;
  if (Array.isArray(value)) return dictionaryFromKeyValueArray(value);
  if (!isPlainJsonObject(value)) {
    throw wrongType(
      'customDatabaseValues',
      'an object of string values, an array of {Key, Value}, or null',
      describeJson(value),
    );
  }
  return dictionaryFromObject(value, member.name, text);
}

/** DataContractJsonSerializer's form, `[{"Key":"k","Value":"v"}, …]`, read entry by entry in array order. */
function dictionaryFromKeyValueArray(array: unknown[]): CustomDatabaseValues {
  const field = FIELDS.customDatabaseValues.wire;
  const entries: Array<[string, string | null]> = [];
  const seen = new Set<string>();
  for (let index = 0; index < array.length; index++) {
    const entry = keyValueEntry(array[index], index);
    // As DataContractJsonSerializer, which adds each item to the Dictionary: a repeated key throws.
    if (seen.has(entry[0])) {
      throw new UpstreamNotDtoError(`${field} has the key ${quoteForMessage(entry[0], 60)} twice`, { field });
    }
    seen.add(entry[0]);
    entries.push(entry);
  }
  return entries;
}

/** One `{"Key": string, "Value": string | null}` item of the array form; member names match case-insensitively. */
function keyValueEntry(entry: unknown, index: number): [string, string | null] {
  const field = FIELDS.customDatabaseValues.wire;
  if (!isPlainJsonObject(entry)) {
    throw new UpstreamNotDtoError(`${field}[${index}] must be an object {Key, Value}, got ${describeJson(entry)}`, {
      field,
    });
  }
  const k: MemberSlot = { present: false, value: undefined };
  const v: MemberSlot = { present: false, value: undefined };
  fillKeyValueSlots(entry, index, k, v);
  if (!k.present || !v.present) {
    throw new UpstreamNotDtoError(`${field}[${index}] must have both Key and Value`, { field });
  }
  if (typeof k.value !== 'string') {
    throw new UpstreamNotDtoError(`${field}[${index}].Key must be a string, got ${describeJson(k.value)}`, {
      field,
    });
  }
  if (v.value !== null && typeof v.value !== 'string') {
    throw new UpstreamNotDtoError(`${field}[${index}].Value must be a string or null, got ${describeJson(v.value)}`, {
      field,
    });
  }
  return [k.value, v.value];
}

/** A member of a `{Key, Value}` item: whether it was written, and its value. */
interface MemberSlot {
  present: boolean;
  value: unknown;
}

/** Puts the item's Key and Value members into their slots; any other member, or either one twice, is refused. */
function fillKeyValueSlots(entry: Record<string, unknown>, index: number, k: MemberSlot, v: MemberSlot): void {
  const field = FIELDS.customDatabaseValues.wire;
  for (const name of Object.keys(entry)) {
    const folded = asciiLower(name);
    const slot = folded === 'key' ? k : folded === 'value' ? v : null;
    if (slot === null) {
      throw new UpstreamNotDtoError(
        `${field}[${index}] has unexpected member ${quoteForMessage(name, 40)}; expected only Key and Value`,
        { field },
      );
    }
    if (slot.present) {
      throw new UpstreamNotDtoError(`${field}[${index}] has ${folded === 'key' ? 'Key' : 'Value'} twice`, {
        field,
      });
    }
    slot.present = true;
    slot.value = entry[name];
  }
}

/**
 * Json.NET's form, `{"k":"v", …}`, as entries in the order `text` writes the members of the root member `rootName`.
 *
 * A name repeated with the same value (one with another value was refused by parseJsonDocument) keeps its first
 * place, as the .NET Dictionary indexer that Json.NET sets each member with does. So does a JS object, which lists
 * its names as first set, except array indexes ("2", "10"), listed first, ascending: only a name that starts with
 * a digit makes the order worth reading back from the text.
 */
function dictionaryFromObject(object: Record<string, unknown>, rootName: string, text: string): CustomDatabaseValues {
  const field = FIELDS.customDatabaseValues.wire;
  const keys = Object.keys(object);
  const written = keys.some(startsWithDigit) ? memberNamesInOrder(text, rootName) : keys;
  const names = new Set(written ?? []);
  if (written === null || names.size !== keys.length) {
    throw new Error(`${field}: the member names in the text differ from the parsed object's`);
  }
  const entries: Array<[string, string | null]> = [];
  for (const name of names) {
    if (!Object.hasOwn(object, name)) {
      throw new Error(`${field}: the parsed object lacks the member ${quoteForMessage(name, 60)} of the text`);
    }
    const entry = object[name];
    if (entry !== null && typeof entry !== 'string') {
      throw new UpstreamNotDtoError(
        `${field}[${quoteForMessage(name, 60)}] must be a string or null, got ${describeJson(entry)}`,
        { field },
      );
    }
    entries.push([name, entry]);
  }
  return entries;
}

function startsWithDigit(name: string): boolean {
  const code = name.charCodeAt(0);
  return code >= 48 && code <= 57;
}
