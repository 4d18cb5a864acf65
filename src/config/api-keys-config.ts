import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import type { ApiKeyConfig } from './app-config';
import { ApiKeyList, SECRET_VARIABLES } from './env.schema';

/** One line per failed rule of a validated variable (or API_KEYS element): the name, the rule, and the value unless secret. */
export function describe(error: ValidationError, prefix: string, raw: Record<string, string>): string[] {
  const name = prefix ? `${prefix}.${error.property}` : error.property;
  const lines: string[] = [];
  if (error.constraints) {
    // One rule per variable is enough to act on; several restate the same range.
    const rule = Object.values(error.constraints)[0];
    const value = raw[name];
    const shown =
      !prefix && !SECRET_VARIABLES.has(name) && value !== undefined && !rule.includes(JSON.stringify(value))
        ? ` (got ${quote(value)})`
        : '';
    lines.push(`${name}: ${rule}${shown}`);
  }
  for (const child of error.children ?? []) lines.push(...describe(child, name, raw));
  return lines;
}

/** Parses API_KEYS; problems name the element and field but never echo the value (it is a secret's hash). */
export function readApiKeys(text: string | undefined, problems: string[]): ApiKeyConfig[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    problems.push('API_KEYS: must be valid JSON');
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push('API_KEYS: must be a JSON array of {"name", "keyHash", "scopes"} objects');
    return [];
  }
  const list = plainToInstance(ApiKeyList, { items: parsed });
  const before = problems.length;
  parsed.forEach((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      problems.push(`API_KEYS[${index}]: must be an object`);
  });
  if (problems.length > before) return [];
  for (const error of validateSync(list)) {
    for (const child of error.children ?? []) {
      for (const grandChild of child.children ?? [])
        problems.push(...describe(grandChild, `API_KEYS[${child.property}]`, {}));
    }
  }
  const names = new Set<string>();
  list.items.forEach((key, index) => {
    if (names.has(key.name)) problems.push(`API_KEYS[${index}].name: must be unique (${key.name} repeats)`);
    names.add(key.name);
    if (!Array.isArray(key.scopes) || key.scopes.length === 0)
      problems.push(`API_KEYS[${index}].scopes: must list read and/or operate`);
  });
  if (problems.length > before) return [];
  return list.items.map((key) => ({
    name: key.name,
    sha256Hex: key.keyHash.slice('sha256:'.length).toLowerCase(),
    scopes: [...new Set(key.scopes)] as ApiKeyConfig['scopes'],
  }));
}

/** A value as shown in a problem line, cut to 60 characters. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
