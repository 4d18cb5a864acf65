import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Validate,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { unmatchedTypePatterns, unmatchedTypesRule } from '../../events/event-types';
import type { DeliveryRecord } from '../../persistence/outbox.repository';
import { IsSourceSystemIdText, ListQuery } from './requests';

export const TYPES_RULE =
  'must be a comma-separated list of event types, each exact (tidemark.watermark.advanced) or ending in * (tidemark.watermark.*)';
const TYPE_LIST =
  /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\.\*|\*)?|\*)(?:,(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\.\*|\*)?|\*))*$/;

/** Every pattern of a well-formed list matches an event type Tidemark emits (a malformed list is TYPE_LIST's to report). */
@ValidatorConstraint({ name: 'knownEventTypes' })
class MatchesKnownEventTypes implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value !== 'string' || !TYPE_LIST.test(value) || unmatchedTypePatterns(value.split(',')).length === 0;
  }
  defaultMessage(args: ValidationArguments): string {
    return unmatchedTypesRule(unmatchedTypePatterns(String(args.value).split(',')));
  }
}

/** A bigint id served as a decimal string, so that no JSON reader rounds it. */
const ID_PATTERN = '^[1-9][0-9]{0,17}$';
const INT32 = { type: 'integer', format: 'int32' } as const;

export class EventStreamQuery {
  @ApiPropertyOptional({
    type: 'string',
    maxLength: 1024,
    description: 'Only these event types: exact types or prefixes ending in `*`, comma-separated.',
    example: 'tidemark.watermark.*,tidemark.run.failed',
  })
  @IsOptional()
  @IsString({ message: TYPES_RULE })
  @MaxLength(1024, { message: TYPES_RULE })
  @Matches(TYPE_LIST, { message: TYPES_RULE })
  @Validate(MatchesKnownEventTypes)
  types?: string;

  @ApiPropertyOptional({
    ...INT32,
    minimum: 0,
    maximum: 2147483647,
    description: 'Only events of integrations of this source system.',
    example: 7,
  })
  @IsOptional()
  @Validate(IsSourceSystemIdText)
  sourceSystemId?: string;
}

export const SUBSCRIPTION_RULE = "must be 1 to 64 letters, digits, '.', '_' or '-'";

export class SubscriptionPathParams {
  @ApiProperty({
    type: 'string',
    pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
    description: 'The subscription name in WEBHOOKS.',
    example: 'orders-sink',
  })
  @IsString({ message: SUBSCRIPTION_RULE })
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: SUBSCRIPTION_RULE })
  name!: string;
}

export const DELIVERY_ID_RULE = 'must be a delivery id (a positive integer)';

export class DeliveryPathParams extends SubscriptionPathParams {
  @ApiProperty({ type: 'string', pattern: ID_PATTERN, description: 'Delivery id, a decimal string.', example: '17' })
  @IsString({ message: DELIVERY_ID_RULE })
  @Matches(/^[1-9]\d{0,17}$/, { message: DELIVERY_ID_RULE })
  id!: string;
}

export class ListDeliveriesQuery extends ListQuery {
  @ApiPropertyOptional({ enum: ['pending', 'delivered', 'exhausted'], description: 'Only deliveries in this status.' })
  @IsOptional()
  @IsIn(['pending', 'delivered', 'exhausted'], { message: 'must be pending, delivered or exhausted' })
  status?: DeliveryRecord['status'];
}

export class DeliveryView {
  @ApiProperty({ pattern: ID_PATTERN, description: 'Delivery id (bigint as a decimal string).', example: '17' })
  id!: string;
  @ApiProperty({ description: 'The subscription (WEBHOOKS name).' }) subscription!: string;
  @ApiProperty({
    pattern: ID_PATTERN,
    description: 'The event: its CloudEvents id, webhook-id and SSE id.',
    example: '42',
  })
  eventId!: string;
  @ApiProperty({ example: 'tidemark.watermark.advanced' }) eventType!: string;
  @ApiProperty({ description: 'The event subject, {sourceSystemId}/{integrationName}.', example: '7/Orders' })
  subject!: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'exhausted'] }) status!: DeliveryRecord['status'];
  @ApiProperty({ ...INT32, minimum: 0, description: 'Attempts made so far.' }) attempts!: number;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'When a pending delivery is tried next.',
  })
  nextAttemptAt!: string | null;
  @ApiProperty({ ...INT32, nullable: true, description: "HTTP status of the last attempt's answer." })
  lastStatus!: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'Why the last attempt failed.' }) lastError!: string | null;
  @ApiProperty({ type: 'integer', minimum: 0, nullable: true, description: 'Duration of the last attempt, ms.' })
  latencyMs!: number | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'When it was delivered or exhausted.',
  })
  finishedAt!: string | null;
}

export class DeliveryPage {
  @ApiProperty({ type: [DeliveryView] }) items!: DeliveryView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next (older) page.' })
  nextCursor!: string | null;
}

export function toDeliveryView(record: DeliveryRecord): DeliveryView {
  return {
    id: record.id,
    subscription: record.subscription,
    eventId: record.eventId,
    eventType: record.eventType,
    subject: record.subject,
    status: record.status,
    attempts: record.attempts,
    nextAttemptAt: record.nextAttemptAt?.toISOString() ?? null,
    lastStatus: record.lastStatus,
    lastError: record.lastError,
    latencyMs: record.latencyMs,
    createdAt: record.createdAt.toISOString(),
    finishedAt: record.finishedAt?.toISOString() ?? null,
  };
}
