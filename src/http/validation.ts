import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { NoParameters } from './dto/operator.dto';
import { ProblemException, type InvalidParam } from './problem';

const UNKNOWN_PARAMETER = 'is not a known parameter';
const GIVEN_TWICE = 'must be given once';

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
 * Refusals the ValidationPipe leaves to its caller. A query parameter given more than once is refused by
 * {@link StrictValidationPipe.transformQuery}. For bodies:
 * - a body present (not empty) must be a JSON object: an array or a scalar is refused as a whole, as `body`;
 * - class-transformer leaves out a body key that names an inherited method (`toString`, `valueOf`,
 *   `hasOwnProperty`), so the whitelist never sees it and it would be dropped without a word. No request type has
 *   such a property, so a body key that names a member of Object.prototype is refused as unknown, at any depth;
 * - {@link NoParameters} has no fields for the whitelist to check, so every key of such a body is refused here.
 */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'query') return this.transformQuery(value, metadata);
    if (metadata.type !== 'body') return super.transform(value, metadata);
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw ProblemException.invalidParameters([{ name: 'body', reason: 'must be a JSON object' }]);
    }
    const refused = metadata.metatype === NoParameters ? Object.keys(value ?? {}) : inheritedNames(value, '');
    if (refused.length > 0) {
      throw ProblemException.invalidParameters(refused.map((name) => ({ name, reason: UNKNOWN_PARAMETER })));
    }
    return metadata.metatype === NoParameters ? new NoParameters() : super.transform(value, metadata);
  }

  /**
   * Every query parameter takes one value: one given more than once is refused as such (its own rule would fail on
   * the list, misleadingly), in the same answer as whatever the others break, so one answer names every bad one.
   */
  private async transformQuery(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const query = (value ?? {}) as Record<string, unknown>;
    const repeated = Object.keys(query).filter((name) => Array.isArray(query[name]));
    if (repeated.length === 0) return super.transform(value, metadata);
    const found: InvalidParam[] = repeated.map((name) => ({ name, reason: GIVEN_TWICE }));
    const rest = Object.fromEntries(Object.entries(query).filter(([name]) => !repeated.includes(name)));
    try {
      await super.transform(rest, metadata);
    } catch (error) {
      const others = error instanceof ProblemException ? error.problem['invalid-params'] : undefined;
      if (!Array.isArray(others)) throw error;
      found.push(...others);
    }
    throw ProblemException.invalidParameters(found);
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
