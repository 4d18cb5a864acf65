import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// The Compose Specification's JSON schema, as shipped by dclint (the compose linter .ci/run also runs).
const schemaPath = join(process.cwd(), 'node_modules/dclint/schemas/compose.schema.json');
const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
const compose = parse(readFileSync(join(process.cwd(), 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { profiles?: string[]; environment?: Record<string, string>; command?: string[] }>;
};

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  // The file names draft-07 by its https URL, which Ajv (draft-07 built in) knows by the http one.
  const { $schema: _draft, ...body } = schema;
  return ajv.compile(body);
}

describe('docker-compose.yml against the Compose Specification schema', () => {
  it('is valid', () => {
    const validate = validator();
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
  });

  it('rejects a broken file (the check can fail)', () => {
    const validate = validator();
    expect(validate({ services: { tidemark: { restart: 'sometimes', bogus: 1 } } })).toBe(false);
  });

  it('has a demo profile with the simulator as the upstream, and the production service in its own profile', () => {
    const profiles = Object.fromEntries(
      Object.entries(compose.services).map(([name, service]) => [name, service.profiles ?? []]),
    );
    expect(profiles).toStrictEqual({
      postgres: [],
      tidemark: ['prod'],
      simulator: ['demo'],
      'tidemark-demo': ['demo'],
    });
    expect(compose.services['tidemark-demo'].environment?.UPSTREAM_BASE_URL).toBe('http://simulator:8080');
    expect(compose.services.simulator.command).toStrictEqual([
      'node',
      'dist/src/demo/simulator/main.js',
      '--port',
      '8080',
      '--host',
      '0.0.0.0',
    ]);
  });
});
