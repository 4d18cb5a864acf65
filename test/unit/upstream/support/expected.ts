import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { IntegrationStatus } from '../../../../src/upstream/integration-status';

const EXPECTED = resolve(__dirname, '../../../fixtures/upstream/expected');

/**
 * `test/fixtures/upstream/expected/NAME.json` as the parser returns it. The file is what is served, where
 * `customDatabaseValues` is an object; the parser gives its entries in the upstream's order, which is the file's
 * order (Object.entries keeps it: the vectors' keys are not integer-like, which is checked).
 */
export function expectedStatus(name: string): IntegrationStatus {
  const served = JSON.parse(readFileSync(resolve(EXPECTED, `${name}.json`), 'utf8')) as Omit<
    IntegrationStatus,
    'customDatabaseValues'
  > & { customDatabaseValues: Record<string, string | null> | null };
  const values = served.customDatabaseValues;
  if (values !== null && Object.keys(values).some((key) => /^(0|[1-9][0-9]*)$/.test(key))) {
    throw new Error(`expected/${name}.json: an integer-like key, whose order Object.entries would not keep`);
  }
  return { ...served, customDatabaseValues: values === null ? null : Object.entries(values) };
}
