import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SOURCE_SYSTEM_ID_TEXT, useFacadeFuzz } from '../support/facade-fuzz-client';
import {
  cursorText,
  encodeQueryValue,
  encodedName,
  numberText,
  params,
  queryText,
  safeDecode,
} from '../support/facade-fuzz-arbitraries';

/**
 * Property-based fuzzing of the facade with raw requests (see ../support/facade-fuzz-client.ts for the invariant
 * every answer is checked against): any sourceSystemId, integration name, limit and cursor on the
 * integration and run routes.
 */

describe('facade fuzz: every route answers 4xx problem+json to bad input, never 5xx, never hangs', () => {
  const { check } = useFacadeFuzz();

  // ---- properties --------------------------------------------------------------------------------

  it('GET /integrations with any sourceSystemId, limit and cursor', async () => {
    await fc.assert(
      fc.asyncProperty(queryText(['sourceSystemId', 'limit', 'cursor']), async (query) => {
        await check({ method: 'GET', path: `/integrations${query}` });
      }),
      params,
    );
    // cursor texts alone: only cursors this API hands out may pass
    await fc.assert(
      fc.asyncProperty(cursorText, async (cursor) => {
        await check({ method: 'GET', path: `/integrations?limit=1&cursor=${cursor}` });
      }),
      params,
    );
    // number texts in each parameter alone: only plain in-range integers may pass
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('sourceSystemId', 'limit'), numberText, async (name, value) => {
        const response = await check({ method: 'GET', path: `/integrations?${name}=${encodeQueryValue(value)}` });
        const sent = safeDecode(encodeQueryValue(value));
        const valid =
          name === 'limit'
            ? /^([1-9]|[1-9]\d|1\d\d|200)$/.test(sent)
            : SOURCE_SYSTEM_ID_TEXT.test(sent) && Number(sent) <= 2147483647;
        expect([value, response.status]).toStrictEqual([value, valid ? 200 : 400]);
      }),
      params,
    );
  });

  it('GET /integrations/{sourceSystemId}/{integrationName} with any id and name', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(numberText, fc.constantFrom('7', '3')), encodedName, async (id, name) => {
        const response = await check({ method: 'GET', path: `/integrations/${encodeQueryValue(id)}/${name}` });
        const idValid = SOURCE_SYSTEM_ID_TEXT.test(id) && Number(id) <= 2147483647;
        if (!idValid)
          expect([id, name.slice(0, 100), response.status >= 400]).toStrictEqual([id, name.slice(0, 100), true]);
      }),
      params,
    );
  });

  it('GET and POST /integrations/{id}/{name}/runs with any id, name, limit and cursor', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST'),
        fc.oneof(numberText, fc.constant('7')),
        fc.oneof(encodedName, fc.constant('Orders')),
        queryText(['limit', 'cursor']),
        async (method, id, name, query) => {
          await check({ method, path: `/integrations/${encodeQueryValue(id)}/${name}/runs${query}` });
        },
      ),
      params,
    );
    // the runs of a real integration, with number and cursor texts
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          numberText.map((n) => `limit=${encodeQueryValue(n)}`),
          cursorText.map((c) => `cursor=${c}`),
        ),
        async (query) => {
          await check({ method: 'GET', path: `/integrations/7/Orders/runs?${query}` });
        },
      ),
      params,
    );
  });
});
