import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Validate,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';

/** 0..2147483647 written plainly: no sign, exponent, fraction or leading zeros. */
export const SOURCE_SYSTEM_ID_TEXT = /^(0|[1-9]\d{0,9})$/;
export const SOURCE_SYSTEM_ID_RULE = 'must be an integer from 0 to 2147483647';
/** A SourceSystemId as path or query text: digits only, and within .NET int. */
@ValidatorConstraint({ name: 'sourceSystemId' })
export class IsSourceSystemIdText implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && SOURCE_SYSTEM_ID_TEXT.test(value) && Number(value) <= 2147483647;
  }
  defaultMessage(): string {
    return SOURCE_SYSTEM_ID_RULE;
  }
}

export const LIMIT_TEXT = /^([1-9]|[1-9]\d|1\d\d|200)$/;
export const LIMIT_RULE = 'must be an integer from 1 to 200';

export class ListQuery {
  @ApiPropertyOptional({
    type: 'integer',
    format: 'int32',
    minimum: 1,
    maximum: 200,
    default: 50,
    description: 'Page size, 1 to 200.',
  })
  @IsOptional()
  @IsString({ message: LIMIT_RULE })
  @Matches(LIMIT_TEXT, { message: LIMIT_RULE })
  limit?: string;

  @ApiPropertyOptional({ type: 'string', maxLength: 1024, description: 'The `nextCursor` of the previous page.' })
  @IsOptional()
  @IsString({ message: 'must be a single cursor returned by this API (nextCursor)' })
  @MaxLength(1024, { message: 'must be a cursor returned by this API (nextCursor)' })
  cursor?: string;
}

export class ListIntegrationsQuery extends ListQuery {
  @ApiPropertyOptional({
    type: 'integer',
    format: 'int32',
    minimum: 0,
    maximum: 2147483647,
    description: 'Only integrations of this source system.',
    example: 7,
  })
  @IsOptional()
  @Validate(IsSourceSystemIdText)
  sourceSystemId?: string;
}

export class ListRunsQuery extends ListQuery {}

export const INTEGRATION_NAME_RULE = 'must be 1 to 256 characters without control characters';

/** Path parameters naming one integration; the name arrives URL-decoded (it may hold spaces, slashes, non-ASCII). */
export class IntegrationPathParams {
  @ApiProperty({
    type: 'integer',
    format: 'int32',
    minimum: 0,
    maximum: 2147483647,
    description: 'The .NET int SourceSystemId, written plainly.',
    example: 7,
  })
  @Validate(IsSourceSystemIdText)
  sourceSystemId!: string;

  @ApiProperty({
    type: 'string',
    minLength: 1,
    maxLength: 256,
    description: 'The IntegrationName, percent-encoded as one path segment.',
    example: 'Orders',
  })
  @IsString({ message: INTEGRATION_NAME_RULE })
  @Matches(/^[^\u0000-\u001f\u007f]{1,256}$/u, { message: INTEGRATION_NAME_RULE })
  @MaxLength(256, { message: INTEGRATION_NAME_RULE })
  integrationName!: string;
}

/** A run id: a bigint as plain decimal digits. */
export const RUN_ID_TEXT = /^[1-9][0-9]{0,18}$/;
export const RUN_ID_RULE = 'must be a run id (a positive integer below 2^63, as decimal digits)';

@ValidatorConstraint({ name: 'runId' })
export class IsRunIdText implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && RUN_ID_TEXT.test(value) && BigInt(value) <= 9223372036854775807n;
  }
  defaultMessage(): string {
    return RUN_ID_RULE;
  }
}

/** Path parameters naming one run of one integration. */
export class RunPathParams extends IntegrationPathParams {
  @ApiProperty({
    type: 'string',
    pattern: '^[1-9][0-9]{0,18}$',
    description: 'Run id, a .NET long as a decimal string.',
    example: '42',
  })
  @Validate(IsRunIdText)
  runId!: string;
}
