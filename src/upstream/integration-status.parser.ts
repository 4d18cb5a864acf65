/**
 * Pure parser for the upstream's answer to `POST api/integration/IntegrationStatus/IntegrationStart`
 * (an IntegrationStatusDTO, see test/fixtures/upstream/README.md). No I/O, no clock, no environment.
 *
 * Exactness rules (from the fixtures README): dates are kept as the upstream's text, .NET longs
 * become exact decimal strings, `maxSyncDateTimeUtc` is the watermark's instant in UTC with 7
 * digits, truncated. Anything that is not clearly a DTO is refused with a typed error rather than
 * guessed at: a wrong guess moves a watermark.
 *
 * The readers live in ./parser: content-type (media type, charset, markup sniffing, DTD refusal),
 * json-dto, xml-dto (on xml-document), dto-fields (the rules both share) and aspnet-error.
 */
import { sameIntegrationName } from '../common/integration-name';
import { UpstreamBodyUnreadableError, UpstreamIdentityMismatchError } from './errors';
import type { IntegrationKey, IntegrationStatus } from './integration-status';
import { classifyMediaType, decodeBody, parseContentType, peekMarkupRoot } from './parser/content-type';
import type { ParseIntegrationStatusOptions } from './parser/dto-fields';
import { dtoFromJson, parseJsonDocument } from './parser/json-dto';
import { firstNonXmlWhitespace, localNameOf, safeName } from './parser/text';
import { parseXmlDocument } from './parser/xml-document';
import { dtoFromXml } from './parser/xml-dto';

export { bodyExcerpt, parseAspNetError } from './parser/aspnet-error';
export { parseContentType } from './parser/content-type';
export type { ParseIntegrationStatusOptions } from './parser/dto-fields';
export { type XmlAttribute, type XmlElement, type XmlText, parseXmlDocument } from './parser/xml-document';
export { XSI_NAMESPACE } from './parser/xml-dto';

/**
 * Parses an IntegrationStatusDTO body into an {@link IntegrationStatus}.
 *
 * Format: `application/json`, `text/json`, `*+json` → JSON; `application/xml`, `text/xml`,
 * `*+xml` → XML. Anything else (notably `text/html`, which the help page shows the upstream
 * answering JSON under) is sniffed: markup (`<`) is read as XML only if its root is
 * `IntegrationStatusDTO`, an HTML page is refused; everything else is tried as JSON.
 *
 * Charset: the Content-Type `charset` parameter (utf-8 by default; utf-16, utf-16le, utf-16be,
 * us-ascii) or a byte-order mark. A UTF-8 BOM is stripped. Only used when `body` is a Buffer.
 *
 * Fields: all ten DTO members must be present (possibly null); names match ASCII-case-insensitively;
 * unknown members are ignored. Integers take the forms .NET reads (see `parser/dotnet-integers.ts`: XML text and
 * JSON strings as `XmlConvert`/`NumberStyles.Integer`, JSON numbers with a whole value) within .NET int32 / int64.
 * Dates must satisfy `parseUpstreamDateClamped` (an instant beyond .NET's DateTime range clamps to MinValue or
 * MaxValue, as `ToUniversalTime()` does); their text is kept unchanged and `maxSyncDateTimeUtc` is derived from
 * `MaxSyncDateTime`. `CustomDatabaseValues` is an object of string → string|null, an array of
 * `{Key, Value}` (JSON), or `KeyValueOfstringstring` items (XML); it becomes `[key, value]` entries in the order the
 * body has them, null values kept as null.
 *
 * @param body raw response body (bytes, or text already decoded).
 * @param contentType the response's Content-Type header, if any.
 * @param options `defaultTimeZone` for date texts without an offset.
 * @returns the DTO in Tidemark's shape; see `test/fixtures/upstream/expected/*.json`.
 * @throws UpstreamBodyUnreadableError (`body_unreadable`) empty, truncated or malformed
 *   JSON/XML, an HTML page, a DOCTYPE/ENTITY declaration, an unsupported or violated charset.
 * @throws UpstreamNotDtoError (`not_a_dto`) JSON null/array/scalar, wrong XML root, a missing,
 *   duplicated or mistyped field (the message names the field and the expected type), an integer
 *   out of range or not an integer literal, bad date text.
 * @throws RangeError when `options.defaultTimeZone` is not a known time zone (configuration error).
 */
export function parseIntegrationStatus(
  body: Buffer | string,
  contentType: string | undefined,
  options: ParseIntegrationStatusOptions,
): IntegrationStatus {
  const { mediaType, charset } = parseContentType(contentType);
  const text = decodeBody(body, charset);
  const start = firstNonXmlWhitespace(text);
  if (start === -1) {
    throw new UpstreamBodyUnreadableError(
      text.length === 0 ? 'upstream body is empty' : 'upstream body is only whitespace',
    );
  }
  const declared = classifyMediaType(mediaType);
  const shownType = mediaType ?? 'no Content-Type';

  if (text.charCodeAt(start) === 0x3c /* < */) {
    const peek = peekMarkupRoot(text, start);
    if (peek.kind === 'html') {
      throw new UpstreamBodyUnreadableError(
        `upstream body (${shownType}) is an HTML page (e.g. a login or error page), not an IntegrationStatusDTO`,
      );
    }
    if (declared === 'sniff') {
      if (peek.kind === 'doctype' || (peek.kind === 'element' && localNameOf(peek.name) === 'IntegrationStatusDTO')) {
        // A DOCTYPE goes on to parseXmlDocument, which refuses it with a precise message.
        return dtoFromXml(parseXmlDocument(text), options);
      }
      const what = peek.kind === 'element' ? `markup with root <${safeName(peek.name)}>` : 'markup';
      throw new UpstreamBodyUnreadableError(
        `upstream body (${shownType}) is ${what}, not an IntegrationStatusDTO: an HTML page or other error page`,
      );
    }
  }

  if (declared === 'xml') return dtoFromXml(parseXmlDocument(text), options);
  return dtoFromJson(parseJsonDocument(text, shownType, declared === 'sniff'), text, options);
}

/**
 * Checks that a DTO is about the integration that was asked for.
 *
 * `SourceSystemId` must be equal; `IntegrationName` is compared like SQL Server's default
 * collation (SQL_Latin1_General_CP1_CI_AS), where the upstream looks the row up: case-insensitive,
 * accent-sensitive, trailing spaces ignored. Implemented with ICU (`Intl.Collator`, sensitivity
 * `accent`), which also treats canonically equivalent forms (é vs e + combining acute) and width
 * variants as equal, as Windows collations do.
 *
 * @throws UpstreamIdentityMismatchError when they differ, or when the DTO's SourceSystemId or
 *   IntegrationName is null.
 */
export function assertSameIntegration(status: IntegrationStatus, key: IntegrationKey): void {
  const sameId = status.sourceSystemId !== null && status.sourceSystemId === key.sourceSystemId;
  const sameName = status.integrationName !== null && sameIntegrationName(status.integrationName, key.integrationName);
  if (!sameId || !sameName) {
    throw new UpstreamIdentityMismatchError(
      { sourceSystemId: key.sourceSystemId, integrationName: key.integrationName },
      { sourceSystemId: status.sourceSystemId, integrationName: status.integrationName },
    );
  }
}

/**
 * The names the upstream treats as one integration: the one identity rule the configuration's duplicate check
 * also uses (see src/common/integration-name.ts).
 */
export { sameIntegrationName } from '../common/integration-name';
