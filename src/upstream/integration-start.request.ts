/**
 * The body of `POST api/integration/IntegrationStatus/IntegrationStart`, in the two forms the
 * help page documents (docs/upstream/IntegrationStart-api-help.txt, vectors in
 * test/fixtures/upstream/requests/).
 */
import { UpstreamRequestError, quoteForMessage } from './errors';
import type { IntegrationKey } from './integration-status';

/** A ready-to-send request body with its headers. */
export interface IntegrationStartRequest {
  body: string;
  /** Content-Type header value. */
  contentType: string;
  /** Accept header value. */
  accept: string;
}

/** Namespace of the request's DataContract (help page, `application/xml` sample). */
export const INTEGRATION_START_REQUEST_NAMESPACE =
  'http://schemas.datacontract.org/2004/07/Gravitate.WCF.Integration.IntegrationStatusModels';
const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';

/**
 * Builds the IntegrationStart request.
 *
 * - `json`: `{"SourceSystemId":1,"IntegrationName":"..."}` (the help page's compact sample, member
 *   order as documented), `application/json; charset=utf-8`.
 * - `xml`: the DataContract form of `requests/seed-request.xml`, without whitespace:
 *   `<IntegrationStartRequest xmlns:i="…XMLSchema-instance" xmlns="…IntegrationStatusModels">`
 *   with `IntegrationName` then `SourceSystemId`. The order and namespace are not cosmetic:
 *   DataContractSerializer silently ignores a member out of (alphabetical) order or in another
 *   namespace, and the upstream would then look up SourceSystemId 0 / a null name.
 *   `application/xml; charset=utf-8`.
 *
 * @param format `json` or `xml`.
 * @param key `sourceSystemId` must be a .NET int (int32); `integrationName` any string that the
 *   chosen format can carry.
 * @throws UpstreamRequestError when sourceSystemId is not an int32, integrationName is not a
 *   string, or (XML only) the name holds a character XML 1.0 cannot carry (NUL, other C0 controls
 *   except tab/LF/CR, U+FFFE, U+FFFF, an unpaired surrogate).
 */
export function buildIntegrationStartRequest(format: 'json' | 'xml', key: IntegrationKey): IntegrationStartRequest {
  const { sourceSystemId, integrationName } = key;
  if (!Number.isInteger(sourceSystemId) || sourceSystemId < -2147483648 || sourceSystemId > 2147483647) {
    throw new UpstreamRequestError(`SourceSystemId must be a .NET int (int32), got ${String(sourceSystemId)}`);
  }
  if (typeof integrationName !== 'string') {
    throw new UpstreamRequestError(`IntegrationName must be a string, got ${typeof integrationName}`);
  }
  // -0 passes Number.isInteger; a template literal would write it as "0" anyway, but be explicit.
  const id = sourceSystemId === 0 ? 0 : sourceSystemId;

  if (format === 'json') {
    return {
      // JSON.stringify escapes unpaired surrogates as \udXXX, which .NET reads back as the same
      // UTF-16 unit, so every JS string round-trips.
      body: JSON.stringify({ SourceSystemId: id, IntegrationName: integrationName }),
      contentType: 'application/json; charset=utf-8',
      accept: 'application/json',
    };
  }
  if (format === 'xml') {
    return {
      body:
        `<IntegrationStartRequest xmlns:i="${XSI_NAMESPACE}" xmlns="${INTEGRATION_START_REQUEST_NAMESPACE}">` +
        `<IntegrationName>${escapeXmlText(integrationName)}</IntegrationName>` +
        `<SourceSystemId>${id}</SourceSystemId>` +
        `</IntegrationStartRequest>`,
      contentType: 'application/xml; charset=utf-8',
      accept: 'application/xml',
    };
  }
  throw new UpstreamRequestError(`format must be "json" or "xml", got ${quoteForMessage(String(format), 20)}`);
}

/**
 * Escapes text for XML element content so that any XML 1.0 parser gives back exactly `text`.
 * `&`, `<`, `>` (so `]]>` cannot appear), `"` and `'` become entity references; CR becomes `&#xD;`
 * because a literal CR would be normalized to LF by the reader.
 *
 * @throws UpstreamRequestError for characters XML 1.0 cannot carry at all, not even as a
 *   character reference (NUL, C0 controls other than tab/LF/CR, U+FFFE, U+FFFF, unpaired surrogates).
 */
export function escapeXmlText(text: string): string {
  const forbidden =
    /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(
      text,
    );
  if (forbidden !== null) {
    const code = forbidden[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new UpstreamRequestError(
      `IntegrationName cannot be sent as XML: it contains U+${code} at index ${forbidden.index}, which XML 1.0 cannot carry; use format json`,
    );
  }
  return text.replace(/[&<>"'\r]/g, (c) => XML_ESCAPES[c]);
}

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#xD;',
};
