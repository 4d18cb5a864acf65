import { createHash } from 'node:crypto';
import type { Rendered } from '../cache/state-cache';
import type { IntegrationRecord, Page } from '../persistence/types';
import { encodeIntegrationsCursor } from './cursor';
import { toIntegrationView } from './dto/views';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
/** Watermarks move: a cache may keep a copy but must ask (If-None-Match) before each use. */
export const CACHE_CONTROL = 'no-cache';
/**
 * Bodies up to this size are also kept as a string (`Rendered.text`) for the fast read path; a larger one is sent
 * from its Buffer as it is, rather than copied into one string with the head.
 */
const SMALL_BODY_BYTES = 8 * 1024;

/**
 * One integration's state as served, with a strong ETag: `"<id>-<version>"`. The version is bumped by every write
 * that changes what is served (run start and end, schedule, pause, config), so equal tags mean equal bodies.
 */
export function renderIntegration(record: IntegrationRecord): Rendered {
  const text = JSON.stringify(toIntegrationView(record));
  const body = Buffer.from(text);
  return {
    body,
    text: body.length <= SMALL_BODY_BYTES ? text : undefined,
    etag: `"${record.id}-${record.version}"`,
  };
}

/** One page of the list as served, with a strong ETag: a digest of the body. */
export function renderPage(page: Page<IntegrationRecord>): Rendered {
  const last = page.items.at(-1);
  const body = Buffer.from(
    JSON.stringify({
      items: page.items.map(toIntegrationView),
      nextCursor: page.hasMore && last ? encodeIntegrationsCursor(last) : null,
    }),
  );
  return { body, etag: `"p${createHash('sha1').update(body).digest('base64url')}"` };
}

/**
 * Whether `If-None-Match` names `etag`: `*`, or a list of tags compared weakly (a `W/` prefix is ignored), as
 * RFC 9110 §13.1.2 asks for GET.
 */
export function etagMatches(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  // What a client that saved the tag sends back; no need to split a list.
  if (ifNoneMatch === etag) return true;
  const text = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch;
  if (text.trim() === '*') return true;
  for (const part of text.split(',')) {
    const tag = part.trim();
    if ((tag.startsWith('W/') ? tag.slice(2) : tag) === etag) return true;
  }
  return false;
}
