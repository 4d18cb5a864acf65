/**
 * The texts of the upstream client's errors: an HTTP status answer, the summary of a call that took several attempts,
 * and the redaction of secrets. Secrets are scrubbed from full texts before they are cut, so a cut can never leave
 * part of a secret behind.
 */
import * as nodeHttp from 'node:http';
import {
  type AspNetErrorDetails,
  type UpstreamAttempt,
  type UpstreamError,
  UpstreamHttpStatusError,
  UpstreamTokenError,
} from './errors';
import { bodyExcerpt, parseAspNetError } from './integration-status.parser';

/** Why retrying stopped before `maxAttempts`, for the message. */
export type GiveUp =
  | { kind: 'wait_past_deadline'; waitMs: number; remainingMs: number }
  | { kind: 'retry_after_past_deadline'; retryAfterMs: number; remainingMs: number };

/** What the summary of a call is made from. */
export interface CallRecord {
  attempts: UpstreamAttempt[];
  /** Every allowed attempt was made. */
  exhausted: boolean;
  giveUp: GiveUp | null;
  /** The error of the last failed attempt (the call may end with another: a deadline between attempts). */
  lastAttemptError: UpstreamError | null;
  /** A 401 already made the token be refreshed once in this call. */
  refreshedOn401: boolean;
}

/**
 * Values that must never appear in a message: credentials, client secrets, access tokens. Values shorter than 4
 * characters are not kept: replacing them everywhere would mangle ordinary words, and such a value is not a
 * credential worth the name anyway.
 */
export class Redactor {
  /** Longest first, so that a secret containing another is replaced whole. */
  private secrets: string[] = [];

  add(values: readonly string[]): void {
    const fresh = values.filter((s) => typeof s === 'string' && s.length >= 4 && !this.secrets.includes(s));
    if (fresh.length === 0) return;
    this.secrets = [...this.secrets, ...new Set(fresh)].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

/** `503 Service Unavailable`. */
export function statusText(status: number): string {
  const reason = nodeHttp.STATUS_CODES[status];
  return `${status}${reason ? ` ${reason}` : ''}`;
}

/** The first value of a header, as text. */
export function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** At most `max` characters of the start of `body` as UTF-8, scrubbed and made safe for a message. */
export function bodyText(body: Buffer, scan: number, max: number, redactor: Redactor): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, scan));
  return bodyExcerpt(redactor.scrub(text), max);
}

/**
 * The error for a non-2xx answer of IntegrationStart: the ASP.NET error's Message, MessageDetail, ExceptionType and
 * ExceptionMessage when the body is one, else a 200-character excerpt of it.
 */
export function httpStatusError(
  httpStatus: number,
  body: Buffer,
  contentType: string | null,
  retryAfterMs: number | undefined,
  redactor: Redactor,
): UpstreamHttpStatusError {
  const head = `upstream answered HTTP ${statusText(httpStatus)}`;
  const extra = retryAfterMs === undefined ? {} : { retryAfterMs };
  const parsed = parseAspNetError(body, contentType ?? undefined);
  if (parsed !== null) {
    // The error's fields get the scrubbed texts too, not just its message.
    const aspNet: AspNetErrorDetails = {};
    for (const [name, value] of Object.entries(parsed) as Array<[keyof AspNetErrorDetails, string]>) {
      aspNet[name] = bodyExcerpt(redactor.scrub(value), 300);
    }
    const parts = [
      aspNet.message !== undefined ? `Message: ${aspNet.message}` : null,
      aspNet.messageDetail !== undefined ? `MessageDetail: ${aspNet.messageDetail}` : null,
      aspNet.exceptionType !== undefined ? `ExceptionType: ${aspNet.exceptionType}` : null,
      aspNet.exceptionMessage !== undefined ? `ExceptionMessage: ${aspNet.exceptionMessage}` : null,
    ].filter((p): p is string => p !== null);
    return new UpstreamHttpStatusError(`${head}: ${parts.join('; ')}`, { httpStatus, aspNet, ...extra });
  }
  const excerpt = bodyText(body, 65_536, 200, redactor);
  return new UpstreamHttpStatusError(excerpt === '' ? `${head} with an empty body` : `${head}; body: ${excerpt}`, {
    httpStatus,
    bodyExcerpt: excerpt,
    ...extra,
  });
}

/**
 * The message of a call that failed after several attempts or gave up retrying, e.g. `upstream 127.0.0.1:8080
 * answered 503 Service Unavailable on all 4 attempts (last: Message: An error has occurred.)`; null to keep the
 * error's own message (one attempt that simply failed, or a breaker that was open).
 */
export function callSummary(
  error: UpstreamError,
  call: CallRecord,
  where: { hostPort: string; timeoutMs: number; retryable: boolean },
  redactor: Redactor,
): string | null {
  const failed = call.attempts;
  if (error.code === 'breaker_open' || failed.length === 0) return null;
  // The error may have ended the call without an attempt of its own (deadline during a wait).
  const lastIsError = error === call.lastAttemptError;
  if (failed.length === 1 && call.giveUp === null && lastIsError) return null;
  const n = failed.length;
  const statuses = failed.map((a) => (a.errorCode === 'http_status' ? a.httpStatus : null));
  const sameStatus = statuses.every((s) => s !== null && s === statuses[0]) ? statuses[0] : null;
  const all = call.exhausted ? 'all ' : '';
  const plural = n === 1 ? 'attempt' : 'attempts';
  const described = failed.map(describeAttempt);
  let text =
    sameStatus !== null
      ? `upstream ${where.hostPort} answered ${statusText(sameStatus)} on ${all}${n} ${plural}`
      : described.every((d) => d === described[0])
        ? `upstream ${where.hostPort} failed on ${all}${n} ${plural}: ${described[0]}`
        : `upstream ${where.hostPort} failed on ${all}${n} ${plural} (${described.join(', ')})`;
  const refusedAfterRefresh = error.httpStatus === 401 && call.refreshedOn401;
  if (call.giveUp?.kind === 'retry_after_past_deadline') {
    text += `; gave up: Retry-After asked for ${call.giveUp.retryAfterMs} ms but only ${call.giveUp.remainingMs} ms of the ${where.timeoutMs} ms deadline remained`;
  } else if (call.giveUp?.kind === 'wait_past_deadline') {
    text += `; gave up: the next wait of ${call.giveUp.waitMs} ms would leave too little of the ${where.timeoutMs} ms deadline (${call.giveUp.remainingMs} ms remained)`;
  } else if (!lastIsError) {
    text += `; then ${error.code === 'timeout' ? `the ${where.timeoutMs} ms deadline passed` : 'the call was cancelled'} before the next attempt`;
  } else if (!call.exhausted && !where.retryable && !refusedAfterRefresh) {
    text += '; the last failure is not retried';
  } else if (refusedAfterRefresh) {
    text += '; a freshly requested token was refused too';
  }
  const detail = lastIsError ? lastDetail(error) : (failed[n - 1].error ?? redactor.scrub(error.message));
  return `${text} (last: ${detail})`;
}

/** The wait a failed answer's `Retry-After` asked for, ms, when it had a readable one. */
export function retryAfterOf(error: UpstreamError): number | undefined {
  return error instanceof UpstreamHttpStatusError || error instanceof UpstreamTokenError
    ? error.retryAfterMs
    : undefined;
}

/** A few words about one attempt, for a summary message. */
function describeAttempt(attempt: UpstreamAttempt): string {
  if (attempt.errorCode === 'http_status' && attempt.httpStatus !== null) return statusText(attempt.httpStatus);
  if (attempt.errorCode === 'connection') {
    const code = /failed: ([A-Z0-9_]+)/.exec(attempt.error ?? '')?.[1];
    return code === undefined ? 'connection failed' : `connection ${code}`;
  }
  if (attempt.errorCode === 'token' && attempt.httpStatus !== null) {
    return `token endpoint ${statusText(attempt.httpStatus)}`;
  }
  return attempt.errorCode ?? 'ok';
}

/** What the last error said beyond its status line. */
function lastDetail(error: UpstreamError): string {
  if (error.code !== 'http_status' || error.httpStatus === undefined) return error.message;
  const head = `upstream answered HTTP ${statusText(error.httpStatus)}`;
  if (!error.message.startsWith(head)) return error.message;
  const rest = error.message.slice(head.length);
  if (rest === ' with an empty body') return 'empty body';
  return rest.replace(/^[:;] /, '');
}
