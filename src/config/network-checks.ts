import { isIP } from 'node:net';
import { quote } from './api-keys-config';

/**
 * Checks of the addresses Tidemark connects to or listens on, made at load time so that a value that can't work is
 * refused with the variable's name instead of failing later in a driver or at listen with a stack trace.
 */

const DATABASE_URL_SHAPE = 'postgres://user:password@host:5432/database';

/**
 * Null when `url` is a Postgres URL both TypeORM and pg can read, else the rule it breaks. The rule never contains
 * any part of `url`: it may hold a password. A host may also come from a `host` query parameter (a Unix socket).
 */
export function databaseUrlProblem(url: string): string | null {
  if (/\s/.test(url)) return 'must be a postgres:// or postgresql:// URL without spaces (percent-encode them as %20)';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `must be a postgres:// or postgresql:// URL that parses as a URL (${DATABASE_URL_SHAPE})`;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    return 'must be a postgres:// or postgresql:// URL';
  }
  if (parsed.hostname === '' && !parsed.searchParams.get('host')) {
    return `must be a postgres:// URL naming a host (${DATABASE_URL_SHAPE})`;
  }
  // TypeORM and pg decode these parts with decodeURIComponent / decodeURI, which throw "URI malformed".
  for (const part of [parsed.username, parsed.password, parsed.pathname]) {
    try {
      decodeURIComponent(part);
    } catch {
      return 'must be a postgres:// URL whose user name, password and database name are percent-encoded (each % followed by two hex digits)';
    }
  }
  return null;
}

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True when the server can listen on `host`: an IPv4 or IPv6 address, or a host name of valid DNS labels. */
export function isListenHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  // An all-digit last label would make a malformed IPv4 address (`999.1.1.1`), not a name.
  return labels.every((label) => HOST_LABEL.test(label)) && !/^\d+$/.test(labels[labels.length - 1]);
}

const ORIGIN_RULE =
  'must list origins: http:// or https://, a host and an optional port, with no path, query, fragment or user info';

/**
 * The origins of CORS_ORIGINS (comma-separated), serialized as a browser sends them in `Origin` (lower-case host,
 * default port left out, no trailing slash), since an allowed origin is matched to that header as an exact string.
 * Adds one problem per entry that is not an origin; `*` is refused because the API takes credentials in headers.
 */
export function readCorsOrigins(text: string | undefined, problems: string[]): string[] {
  if (text === undefined) return [];
  const origins: string[] = [];
  for (const entry of text.split(',').map((one) => one.trim())) {
    if (entry === '') continue;
    if (entry === '*') {
      problems.push('CORS_ORIGINS: must list origins; * is not allowed (the API takes credentials in headers)');
      continue;
    }
    const origin = originOf(entry);
    if (origin === null) problems.push(`CORS_ORIGINS: ${ORIGIN_RULE} (got ${quote(entry)})`);
    else if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

/** The serialized origin `entry` names, or null when it is not an http(s) origin alone. */
function originOf(entry: string): string | null {
  if (/[?#@]/.test(entry)) return null;
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '' || url.pathname !== '/') return null;
  return url.origin;
}
