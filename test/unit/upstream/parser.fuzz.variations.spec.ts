/**
 * Property-based fuzzing of `parseIntegrationStatus` with fast-check (see ./support/fuzz-vectors.ts): JSON and XML
 * variations of the vectors that keep their meaning must parse to the expected/ twin.
 */
import fc from 'fast-check';
import { LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../src/upstream/errors';
import { parseIntegrationStatus } from '../../../src/upstream/integration-status.parser';
import {
  JSON_VECTORS,
  OPTIONS,
  RUNS,
  XML_VECTORS,
  expectDtoShape,
  expectShapeOrTyped,
  outcome,
} from './support/fuzz-vectors';
import {
  buildJson,
  buildXml,
  jsonVariation,
  parseVector,
  writeJson,
  writeObject,
  xmlVariation,
} from './support/fuzz-documents';

describe('parser fuzz: JSON', () => {
  it('the vectors themselves parse to their expected twins', () => {
    for (const v of JSON_VECTORS)
      expect(parseIntegrationStatus(v.raw, 'application/json; charset=utf-8', OPTIONS)).toStrictEqual(v.expected);
    for (const v of XML_VECTORS)
      expect(parseIntegrationStatus(v.raw, 'application/xml; charset=utf-8', OPTIONS)).toStrictEqual(v.expected);
  });

  it('name casing, whitespace, member order, unknown members, number forms, dictionary forms and encodings keep the values', () => {
    fc.assert(
      fc.property(jsonVariation, (v) => {
        const { body, contentType, expected } = buildJson(v);
        const result = outcome(body, contentType);
        if ('error' in result)
          throw new Error(
            `a meaning-preserving variation was refused: ${result.error.message}\n${body.toString(v.encoding === 'utf-16le-bom' ? 'utf16le' : 'utf8')}`,
          );
        expect(result.ok).toStrictEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('other spellings of the int64 fields are exact or a typed error', () => {
    const forms = fc.constantFrom<(n: string) => string>(
      (n) => n,
      (n) => `${n}.0`,
      (n) => `${n}e0`,
      (n) => `0${n}`,
      (n) => `-${n}`,
      (n) => `"${n}"`,
      (n) => `${n}${n}`,
    );
    fc.assert(
      fc.property(fc.nat(JSON_VECTORS.length - 1), forms, forms, (index, pkForm, idForm) => {
        const vector = JSON_VECTORS[index];
        const members = parseVector(vector.raw).map(([name, value]): [string, string] => {
          const text = writeJson(value, () => '');
          if (!(value instanceof LosslessNumber)) return [name, text];
          if (name === 'MaxSyncDateMaxPKId') return [name, pkForm(text)];
          if (name === 'SourceId') return [name, idForm(text)];
          return [name, text];
        });
        const body = writeObject(members, () => '', true);
        const result = outcome(body, 'application/json');
        if (pkForm('7') === '7' && idForm('7') === '7') expect(result).toStrictEqual({ ok: vector.expected });
        else if ('ok' in result) {
          // A sign flip or repeated digits is a different number that may still be a valid long.
          expectDtoShape(result.ok);
        } else expect(result.error).toBeInstanceOf(UpstreamError);
      }),
      { numRuns: 200 },
    );
  });

  it('any field replaced by a random JSON value gives a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        fc.nat(JSON_VECTORS.length - 1),
        fc.array(fc.tuple(fc.nat(9), fc.jsonValue({ maxDepth: 3 })), { minLength: 1, maxLength: 3 }),
        (index, replacements) => {
          const members = parseVector(JSON_VECTORS[index].raw).map(([name, value]): [string, string] => [
            name,
            writeJson(value, () => ''),
          ]);
          for (const [at, value] of replacements) members[at][1] = JSON.stringify(value) ?? 'null';
          expectShapeOrTyped(
            outcome(
              writeObject(members, () => ' ', true),
              'application/json',
            ),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('parser fuzz: XML', () => {
  it('element order, namespace prefixes, name casing, whitespace, unknown elements, comments, references, CDATA and encodings keep the values', () => {
    fc.assert(
      fc.property(xmlVariation, (v) => {
        const { body, contentType, expected } = buildXml(v);
        const result = outcome(body, contentType);
        if ('error' in result)
          throw new Error(
            `a meaning-preserving variation was refused: ${result.error.message}\n${body.toString(v.encoding === 'utf-16le-bom' ? 'utf16le' : 'utf8')}`,
          );
        expect(result.ok).toStrictEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });
});
