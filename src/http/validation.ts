import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { ProblemException, type InvalidParam } from './problem';

const UNKNOWN_PARAMETER = 'is not a known parameter';

/**
 * The global ValidationPipe: unknown parameters are refused, and every broken rule becomes one `invalid-params`
 * entry naming the parameter and the rule, in a 400 problem.
 */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    exceptionFactory: (errors: ValidationError[]) =>
      ProblemException.invalidParameters(errors.flatMap(toInvalidParams)),
  });
}

/**
 * class-transformer leaves out a body key that names an inherited method (`toString`, `valueOf`, `hasOwnProperty`),
 * so the whitelist never sees it and it would be dropped without a word. No request type has such a property, so a
 * body key that names a member of Object.prototype is refused as unknown, at any depth.
 */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      const inherited = inheritedNames(value, '');
      if (inherited.length > 0) {
        throw ProblemException.invalidParameters(inherited.map((name) => ({ name, reason: UNKNOWN_PARAMETER })));
      }
    }
    return super.transform(value, metadata);
  }
}

/** The paths (`a.b`, `list.0.c`) of the keys in `value` that name a member of Object.prototype. */
function inheritedNames(value: unknown, prefix: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return key in Object.prototype ? [path] : inheritedNames(child, path);
  });
}

function toInvalidParams(error: ValidationError): InvalidParam[] {
  const own = Object.entries(error.constraints ?? {}).map(([constraint, message]) => ({
    name: error.property,
    reason: constraint === 'whitelistValidation' ? UNKNOWN_PARAMETER : message,
  }));
  return [...own, ...(error.children ?? []).flatMap(toInvalidParams)];
}
