import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ProblemException, type InvalidParam } from './problem';

/**
 * The global ValidationPipe: unknown parameters are refused, and every broken rule becomes one `invalid-params`
 * entry naming the parameter and the rule, in a 400 problem.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    exceptionFactory: (errors: ValidationError[]) =>
      ProblemException.invalidParameters(errors.flatMap(toInvalidParams)),
  });
}

function toInvalidParams(error: ValidationError): InvalidParam[] {
  const own = Object.entries(error.constraints ?? {}).map(([constraint, message]) => ({
    name: error.property,
    reason: constraint === 'whitelistValidation' ? 'is not a known parameter' : message,
  }));
  return [...own, ...(error.children ?? []).flatMap(toInvalidParams)];
}
