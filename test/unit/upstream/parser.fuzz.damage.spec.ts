/**
 * Property-based fuzzing of `parseIntegrationStatus` with fast-check (see ./support/fuzz-vectors.ts): damaged and
 * random input gives a well-formed DTO or the parser's own typed error, never anything else.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { RUNS, STATUS_KEYS, expectRightOrTyped, expectShapeOrTyped, outcome } from './support/fuzz-vectors';
import { XSI_NS, buildJson, buildXml, jsonVariation, xmlVariation } from './support/fuzz-documents';

// ---- damage ----------------------------------------------------------------------------------

/** A meaning-preserving variation of any vector, JSON or XML. */
const anyVariation = fc.oneof(
  jsonVariation.map((v) => buildJson(v)),
  xmlVariation.map((v) => buildXml(v)),
);

describe('parser fuzz: damaged and random input', () => {
  it('a body cut short at any point gives the right values (only trailing whitespace went) or a typed error', () => {
    fc.assert(
      fc.property(anyVariation, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (doc, where) => {
        const cut = doc.body.subarray(0, Math.floor(where * doc.body.length));
        expectRightOrTyped(outcome(cut, doc.contentType), doc.expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('random byte flips give a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        anyVariation,
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })),
          { minLength: 1, maxLength: 4 },
        ),
        (doc, flips) => {
          const body = Buffer.from(doc.body);
          for (const [where, mask] of flips) {
            const at = Math.floor(where * body.length);
            body[at] = body[at] ^ mask;
          }
          expectShapeOrTyped(outcome(body, doc.contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('random junk spliced into a vector gives a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        anyVariation,
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        (doc, where, junk) => {
          const at = Math.floor(where * doc.body.length);
          const body = Buffer.concat([doc.body.subarray(0, at), junk, doc.body.subarray(at)]);
          expectShapeOrTyped(outcome(body, doc.contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });

  const contentTypes = fc.constantFrom(
    'application/json',
    'application/xml',
    'text/xml; charset=utf-16',
    'text/html; charset=utf-8',
    'application/json; charset=us-ascii',
    'text/plain; charset=koi8-r',
    'application/octet-stream',
    '',
    undefined,
  );

  it('random bytes, text and JSON values give a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
          fc.string({ unit: 'binary', maxLength: 256 }),
          fc.jsonValue({ maxDepth: 4 }).map((j) => JSON.stringify(j) ?? ''),
          fc
            .dictionary(
              fc.constantFrom(...STATUS_KEYS, 'SourceSystemId', 'MaxSyncDateTime', 'CustomDatabaseValues', 'x'),
              fc.jsonValue({ maxDepth: 2 }),
            )
            .map((o) => JSON.stringify(o)),
        ),
        contentTypes,
        (body, contentType) => {
          expectShapeOrTyped(outcome(body, contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('random markup gives a well-formed DTO or a typed error', () => {
    const name = fc.constantFrom(
      'IntegrationStatusDTO',
      'SourceSystemId',
      'IntegrationName',
      'CustomDatabaseValues',
      'KeyValueOfstringstring',
      'Key',
      'Value',
      'html',
      'a:b',
      'x',
    );
    const text = fc.constantFrom(
      '',
      '7',
      '-1',
      'Orders',
      '2025-12-10T08:22:52.8100855-06:00',
      '&amp;',
      '&bogus;',
      '<![CDATA[x]]>',
      ']]>',
      ' ',
    );
    const leaf = fc.tuple(name, text).map(([n, t]) => `<${n}>${t}</${n}>`);
    const tree = fc.letrec<{ node: string }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc
          .tuple(
            name,
            fc.array(tie('node'), { maxLength: 5 }),
            fc.constantFrom('', ' xmlns="urn:x"', ` xmlns:i="${XSI_NS}" i:nil="true"`, ' a="1" a="2"'),
          )
          .map(([n, kids, attrs]) => `<${n}${attrs}>${kids.join('')}</${n}>`),
      ),
    })).node;
    fc.assert(
      fc.property(
        fc.tuple(fc.constantFrom('', '<?xml version="1.0"?>', '<!DOCTYPE x>', '<!-- c -->'), tree),
        contentTypes,
        ([prolog, doc], contentType) => {
          expectShapeOrTyped(outcome(prolog + doc, contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
