import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..', '..');
const lines = readFileSync(join(root, '.env.example'), 'utf8').split('\n');

describe('.env.example as a Compose .env', () => {
  it('selects the prod profile, as README.md and docker-compose.yml say copying it to .env does', () => {
    expect(lines.filter((line) => /^\s*COMPOSE_PROFILES\s*=/.test(line))).toEqual(['COMPOSE_PROFILES=prod']);
  });

  it('leaves every other variable commented out, so that unset ones take their defaults', () => {
    expect(lines.filter((line) => /^\s*[A-Z][A-Z0-9_]*=/.test(line))).toEqual(['COMPOSE_PROFILES=prod']);
  });
});
