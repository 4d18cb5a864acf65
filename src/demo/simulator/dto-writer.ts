/**
 * Writes IntegrationStatusDTO the way the upstream's ASP.NET Web API formatters do (Json.NET and
 * DataContractSerializer), with .NET `long` values written from bigint so they stay exact.
 */

/** DataContract namespace of the response DTO. */
export const DTO_NAMESPACE = 'http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration';
/** Namespace DataContractSerializer uses for dictionary entries. */
export const ARRAYS_NAMESPACE = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays';
/** The `i:` prefix namespace (xsi) used for `i:nil`. */
export const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';

/** One IntegrationStatusDTO as the simulator answers it. Dates are already-formatted .NET text. */
export interface IntegrationStatusDto {
  IntegrationName: string | null;
  /** .NET `int`. */
  SourceSystemId: number;
  LastRunStartDateTime: string | null;
  LastRunEndDateTime: string | null;
  ProcessStatusMeaning: string | null;
  MaxSyncDateTime: string | null;
  /** .NET `long`. */
  MaxSyncDateMaxPKId: bigint | null;
  /** .NET `long`. */
  SourceId: bigint | null;
  SourceIdString: string | null;
  /** .NET `Dictionary<string,string>`; entries in insertion order, values may be null. */
  CustomDatabaseValues: ReadonlyArray<readonly [string, string | null]> | null;
}

/** Json.NET escapes these three beyond what JSON.stringify does (they break JS/HTML embedding). */
function jsonString(value: string | null): string {
  if (value === null) return 'null';
  return JSON.stringify(value).replace(
    /[\u0085\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function jsonLong(value: bigint | null): string {
  return value === null ? 'null' : value.toString();
}

/**
 * Compact JSON text in Json.NET's member order (declaration order, as the help page sample shows).
 * Longs are written from bigint, so 9007199254740993 stays 9007199254740993.
 */
export function writeDtoJson(dto: IntegrationStatusDto): string {
  const dict =
    dto.CustomDatabaseValues === null
      ? 'null'
      : `{${dto.CustomDatabaseValues.map(([k, v]) => `${jsonString(k)}:${jsonString(v)}`).join(',')}}`;
  return (
    `{"IntegrationName":${jsonString(dto.IntegrationName)}` +
    `,"SourceSystemId":${dto.SourceSystemId}` +
    `,"LastRunStartDateTime":${jsonString(dto.LastRunStartDateTime)}` +
    `,"LastRunEndDateTime":${jsonString(dto.LastRunEndDateTime)}` +
    `,"ProcessStatusMeaning":${jsonString(dto.ProcessStatusMeaning)}` +
    `,"MaxSyncDateTime":${jsonString(dto.MaxSyncDateTime)}` +
    `,"MaxSyncDateMaxPKId":${jsonLong(dto.MaxSyncDateMaxPKId)}` +
    `,"SourceId":${jsonLong(dto.SourceId)}` +
    `,"SourceIdString":${jsonString(dto.SourceIdString)}` +
    `,"CustomDatabaseValues":${dict}}`
  );
}

/** Escapes text content the way .NET's XmlWriter does (`\r` too, so it survives line-end normalisation). */
export function escapeXmlText(value: string): string {
  return value.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#xD;'));
}

function xmlElement(name: string, value: string | null): string {
  return value === null ? `<${name} i:nil="true"/>` : `<${name}>${escapeXmlText(value)}</${name}>`;
}

/**
 * Compact DataContract XML, no declaration, members in DataContractSerializer order: the base
 * class's members first (CustomDatabaseValues, SourceId, SourceIdString), then the DTO's own,
 * alphabetically, exactly as the help page sample and `responses/first-run-nil.xml` show.
 */
export function writeDtoXml(dto: IntegrationStatusDto): string {
  let dict: string;
  if (dto.CustomDatabaseValues === null) {
    dict = `<CustomDatabaseValues i:nil="true" xmlns:d2p1="${ARRAYS_NAMESPACE}"/>`;
  } else if (dto.CustomDatabaseValues.length === 0) {
    dict = `<CustomDatabaseValues xmlns:d2p1="${ARRAYS_NAMESPACE}"/>`;
  } else {
    const entries = dto.CustomDatabaseValues.map(
      ([k, v]) =>
        `<d2p1:KeyValueOfstringstring>${xmlElement('d2p1:Key', k)}${xmlElement('d2p1:Value', v)}</d2p1:KeyValueOfstringstring>`,
    ).join('');
    dict = `<CustomDatabaseValues xmlns:d2p1="${ARRAYS_NAMESPACE}">${entries}</CustomDatabaseValues>`;
  }
  return (
    `<IntegrationStatusDTO xmlns:i="${XSI_NAMESPACE}" xmlns="${DTO_NAMESPACE}">` +
    dict +
    xmlElement('SourceId', dto.SourceId === null ? null : dto.SourceId.toString()) +
    xmlElement('SourceIdString', dto.SourceIdString) +
    xmlElement('IntegrationName', dto.IntegrationName) +
    xmlElement('LastRunEndDateTime', dto.LastRunEndDateTime) +
    xmlElement('LastRunStartDateTime', dto.LastRunStartDateTime) +
    xmlElement('MaxSyncDateMaxPKId', dto.MaxSyncDateMaxPKId === null ? null : dto.MaxSyncDateMaxPKId.toString()) +
    xmlElement('MaxSyncDateTime', dto.MaxSyncDateTime) +
    xmlElement('ProcessStatusMeaning', dto.ProcessStatusMeaning) +
    `<SourceSystemId>${dto.SourceSystemId}</SourceSystemId>` +
    `</IntegrationStatusDTO>`
  );
}
