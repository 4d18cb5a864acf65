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

/** Problem types Tidemark serves; `type` URIs are stable and documented in the README. */
export const PROBLEM_TYPES = {
  invalidParameters: 'https://tidemark.dev/problems/invalid-parameters',
  notFound: 'https://tidemark.dev/problems/not-found',
  runInProgress: 'https://tidemark.dev/problems/run-in-progress',
  unavailable: 'https://tidemark.dev/problems/unavailable',
  unauthorized: 'https://tidemark.dev/problems/unauthorized',
  forbidden: 'https://tidemark.dev/problems/forbidden',
  rateLimited: 'https://tidemark.dev/problems/rate-limited',
} as const;

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
    return new ProblemException({ type: PROBLEM_TYPES.notFound, title: 'Not found', status: 404, detail });
  }
}
