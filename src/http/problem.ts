import { HttpException } from '@nestjs/common';

/** One entry of a problem's `invalid-params`: the parameter and the rule it broke. */
export interface InvalidParam {
  name: string;
  reason: string;
}

/** RFC 9457 problem details, as served with `application/problem+json`. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  'invalid-params'?: InvalidParam[];
  /** Extension on run-in-progress problems: the run holding the lease. */
  runId?: string | null;
}

/** Every problem `type` Tidemark serves is a URI in this one namespace, followed by a slug. */
export const PROBLEM_TYPE_BASE = 'https://tidemark.dev/problems/';

/** Problem types Tidemark serves; `type` URIs are stable and documented in the README. */
export const PROBLEM_TYPES = {
  invalidParameters: `${PROBLEM_TYPE_BASE}invalid-parameters`,
  notFound: `${PROBLEM_TYPE_BASE}not-found`,
  runInProgress: `${PROBLEM_TYPE_BASE}run-in-progress`,
  unavailable: `${PROBLEM_TYPE_BASE}unavailable`,
  unauthorized: `${PROBLEM_TYPE_BASE}unauthorized`,
  forbidden: `${PROBLEM_TYPE_BASE}forbidden`,
  rateLimited: `${PROBLEM_TYPE_BASE}rate-limited`,
  badRequest: `${PROBLEM_TYPE_BASE}bad-request`,
  methodNotAllowed: `${PROBLEM_TYPE_BASE}method-not-allowed`,
  requestTimeout: `${PROBLEM_TYPE_BASE}request-timeout`,
  conflict: `${PROBLEM_TYPE_BASE}conflict`,
  contentTooLarge: `${PROBLEM_TYPE_BASE}content-too-large`,
  uriTooLong: `${PROBLEM_TYPE_BASE}uri-too-long`,
  unsupportedMediaType: `${PROBLEM_TYPE_BASE}unsupported-media-type`,
  headersTooLarge: `${PROBLEM_TYPE_BASE}headers-too-large`,
  internalError: `${PROBLEM_TYPE_BASE}internal-error`,
} as const;

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: PROBLEM_TYPES.badRequest,
  401: PROBLEM_TYPES.unauthorized,
  403: PROBLEM_TYPES.forbidden,
  404: PROBLEM_TYPES.notFound,
  405: PROBLEM_TYPES.methodNotAllowed,
  408: PROBLEM_TYPES.requestTimeout,
  409: PROBLEM_TYPES.conflict,
  413: PROBLEM_TYPES.contentTooLarge,
  414: PROBLEM_TYPES.uriTooLong,
  415: PROBLEM_TYPES.unsupportedMediaType,
  429: PROBLEM_TYPES.rateLimited,
  431: PROBLEM_TYPES.headersTooLarge,
  503: PROBLEM_TYPES.unavailable,
};

/** The problem type of an error that has nothing more specific to say than its status. */
export function problemTypeFor(status: number): string {
  return (
    TYPE_BY_STATUS[status] ??
    (status >= 500 ? PROBLEM_TYPES.internalError : `${PROBLEM_TYPE_BASE}client-error-${status}`)
  );
}

/**
 * An HttpException whose response is a complete problem document. `headers` go on the response beside it (e.g.
 * `WWW-Authenticate` on a 401, `Retry-After` on a 429) and never into the body.
 */
export class ProblemException extends HttpException {
  constructor(
    readonly problem: ProblemDetails,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(problem, problem.status);
  }

  static invalidParameters(params: InvalidParam[]): ProblemException {
    return new ProblemException({
      type: PROBLEM_TYPES.invalidParameters,
      title: 'Invalid request parameters',
      status: 400,
      detail: params.map((p) => `${p.name}: ${p.reason}`).join('; '),
      'invalid-params': params,
    });
  }

  static notFound(detail: string): ProblemException {
    return new ProblemException({ type: PROBLEM_TYPES.notFound, title: 'Not Found', status: 404, detail });
  }
}

export const PROBLEM_JSON_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
