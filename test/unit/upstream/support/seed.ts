import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expectedStatus } from './expected';

// The seed-sample vector as the upstream client tests send and expect it.

export const FIXTURES = resolve(__dirname, '../../../fixtures/upstream');
export const SEED_JSON = readFileSync(resolve(FIXTURES, 'responses/seed-sample.json'));
export const SEED_XML = readFileSync(resolve(FIXTURES, 'responses/seed-sample.xml'));
export const SEED_EXPECTED = expectedStatus('seed-sample');
export const SEED_KEY = { sourceSystemId: 2, integrationName: 'sample string 1' };
