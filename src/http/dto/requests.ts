import { ApiPropertyOptional } from '@nestjs/swagger';
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
  @ApiPropertyOptional({ description: 'Page size, 1 to 200 (default 50).', example: 50 })
  @IsOptional()
  @IsString({ message: LIMIT_RULE })
  @Matches(LIMIT_TEXT, { message: LIMIT_RULE })
  limit?: string;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.' })
  @IsOptional()
  @IsString({ message: 'must be a single cursor returned by this API (nextCursor)' })
  @MaxLength(1024, { message: 'must be a cursor returned by this API (nextCursor)' })
  cursor?: string;
}

export class ListIntegrationsQuery extends ListQuery {
  @ApiPropertyOptional({ description: 'Only integrations of this source system.', example: 7 })
  @IsOptional()
  @Validate(IsSourceSystemIdText)
  sourceSystemId?: string;
}

export class ListRunsQuery extends ListQuery {}

export const INTEGRATION_NAME_RULE = 'must be 1 to 256 characters without control characters';

/** Path parameters naming one integration; the name arrives URL-decoded (it may hold spaces, slashes, non-ASCII). */
export class IntegrationPathParams {
  @Validate(IsSourceSystemIdText)
  sourceSystemId!: string;

  @IsString({ message: INTEGRATION_NAME_RULE })
  @Matches(/^[^\u0000-\u001f\u007f]{1,256}$/u, { message: INTEGRATION_NAME_RULE })
  @MaxLength(256, { message: INTEGRATION_NAME_RULE })
  integrationName!: string;
}
