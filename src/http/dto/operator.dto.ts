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
import { INTEGRATION_NAME_RULE, IsSourceSystemIdText, ListQuery } from './requests';
import { IntegrationStateView, WatermarkView } from './views';

export const REASON_RULE =
  'must be a text of 1 to 500 characters, not only spaces, without control characters other than tabs and line breaks';
/** C0 controls but tab, line feed and carriage return, and DEL: Postgres text refuses NUL, and none belongs in a note. */
const CONTROL_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** A text Postgres can store as it was sent: well-formed UTF-16 (no lone surrogate) and no control character. */
@ValidatorConstraint({ name: 'storableText' })
class IsStorableText implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value !== 'string' || (value.isWellFormed() && !CONTROL_CHARACTER.test(value));
  }
  defaultMessage(): string {
    return REASON_RULE;
  }
}
export const UNTIL_RULE = 'must be an RFC 3339 date-time with a zone (e.g. 2026-01-31T18:00:00Z), in the future';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * An RFC 3339 date-time that names a real instant: the calendar date exists (no 30 February), hours 00-23, minutes and
 * seconds 00-59, offset within ±23:59. JavaScript's Date would roll an impossible date over into the next month.
 */
const DATE_TIME_FIELDS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/i;

@ValidatorConstraint({ name: 'realDateTime' })
class IsRealDateTime implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string' || !RFC3339.test(value)) return true; // the pattern's to report
    const [y, mo, d, h, mi, s = 0] = DATE_TIME_FIELDS.exec(value)!.slice(1).filter(Boolean).map(Number);
    const offset = /([+-])(\d{2}):(\d{2})$/.exec(value);
    const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
    const offsetOk = offset === null || (Number(offset[2]) <= 23 && Number(offset[3]) <= 59);
    return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && s <= 59 && offsetOk;
  }
  defaultMessage(): string {
    return UNTIL_RULE;
  }
}

/** The body of an action that takes no parameters: absent, empty or `{}`; any field is refused as unknown. */
export class NoParameters {}

/** Body of a pause: why (required) and, optionally, when it ends by itself. */
export class PauseRequest {
  @ApiProperty({ description: 'Why scheduled runs stop; kept with the pause and in the audit trail.', maxLength: 500 })
  @IsString({ message: REASON_RULE })
  @Matches(/\S/, { message: REASON_RULE })
  @MaxLength(500, { message: REASON_RULE })
  @Validate(IsStorableText)
  reason!: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description:
      'When the integration resumes by itself (any replica); absent or null, the pause lasts until someone resumes it.',
    example: '2026-01-31T18:00:00Z',
    nullable: true,
  })
  @IsOptional()
  @IsString({ message: UNTIL_RULE })
  @Matches(RFC3339, { message: UNTIL_RULE })
  @Validate(IsRealDateTime)
  until?: string | null;
}

export class SourceSystemPathParams {
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
}

export class AuditQuery extends ListQuery {
  @ApiPropertyOptional({
    type: 'integer',
    format: 'int32',
    minimum: 0,
    maximum: 2147483647,
    description: 'Only entries of this source system.',
    example: 7,
  })
  @IsOptional()
  @Validate(IsSourceSystemIdText)
  sourceSystemId?: string;

  @ApiPropertyOptional({
    type: 'string',
    minLength: 1,
    maxLength: 256,
    description: 'Only entries of this integration (needs sourceSystemId).',
    example: 'Orders',
  })
  @IsOptional()
  @IsString({ message: INTEGRATION_NAME_RULE })
  @Matches(/^[^\u0000-\u001f\u007f]{1,256}$/u, { message: INTEGRATION_NAME_RULE })
  integrationName?: string;
}

export class OverviewQuery extends ListQuery {
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

export class CallerView {
  @ApiProperty({ description: "The API key's name; `anonymous` when the API needs no key and none was sent." })
  name!: string;
  @ApiProperty({ enum: ['read', 'operate'], isArray: true, description: 'What the caller may do.' })
  scopes!: Array<'read' | 'operate'>;
  @ApiProperty({ description: 'Whether the API asks for a key (false in demo mode or with AUTH_DISABLED=true).' })
  authRequired!: boolean;
}

export class PauseView {
  @ApiProperty() reason!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Actor (API key name) that paused.' })
  pausedBy!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) pausedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'When it resumes by itself.' })
  until!: string | null;
}

export class IntegrationScheduleView {
  @ApiProperty({ example: '*/10 * * * * *', description: 'Cron, seconds first.' }) cron!: string;
  @ApiProperty({ example: 'Every 10 seconds' }) description!: string;
  @ApiProperty({ example: 'America/Chicago' }) timeZone!: string;
  @ApiProperty({ enum: ['fire_once_now', 'skip'] }) misfirePolicy!: string;
  @ApiProperty() enabled!: boolean;
  @ApiProperty() paused!: boolean;
  @ApiProperty({ nullable: true, type: PauseView }) pause!: PauseView | null;
  @ApiProperty({
    type: [String],
    description:
      "The next 5 fire times (UTC) by the scheduler's own cron code, after now, or after the pause ends when it has an end; fewer when the cron code finds none within its search window of a few years.",
  })
  nextFireTimes!: string[];
}

export class WatermarkChangeView {
  @ApiProperty({ description: 'The run that stored this watermark.' }) runId!: string;
  @ApiProperty({ enum: ['schedule', 'manual'] }) trigger!: string;
  @ApiProperty({ format: 'date-time' }) finishedAt!: string;
  @ApiProperty({ nullable: true, type: WatermarkView }) before!: WatermarkView | null;
  @ApiProperty({ type: WatermarkView }) after!: WatermarkView;
  @ApiProperty({ description: 'The upstream moved the watermark backwards.' }) regressed!: boolean;
}

export class WatermarkHistoryPage {
  @ApiProperty({ type: [WatermarkChangeView] }) items!: WatermarkChangeView[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}

export class AuditEntryView {
  @ApiProperty({ example: '17' }) id!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ description: 'API key name, `anonymous`, or `system` for an automatic resume.' }) actor!: string;
  @ApiProperty({ enum: ['run', 'pause', 'resume'] }) action!: string;
  @ApiProperty() sourceSystemId!: number;
  @ApiProperty() integrationName!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true }) before!: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true }) after!: Record<string, unknown> | null;
}

export class AuditPage {
  @ApiProperty({ type: [AuditEntryView] }) items!: AuditEntryView[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}

export class RunSummaryView {
  @ApiProperty() id!: string;
  @ApiProperty() outcome!: string;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ nullable: true, type: Number, description: 'Null while running.' }) durationMs!: number | null;
}

export class OverviewItem {
  @ApiProperty({ type: IntegrationStateView }) integration!: IntegrationStateView;
  @ApiProperty({ enum: ['fresh', 'stale', 'failing', 'paused', 'disabled'] }) health!: string;
  @ApiProperty({ format: 'date-time', description: 'Last success, or when configured before one.' })
  staleSince!: string;
  @ApiProperty({ description: 'Staleness threshold applied, ms.' }) staleAfterMs!: number;
  @ApiProperty({ nullable: true, type: String, description: 'Why it is paused.' }) pauseReason!: string | null;
  @ApiProperty({ type: [RunSummaryView], description: 'The last 20 runs, oldest first.' })
  recentRuns!: RunSummaryView[];
}

export class OverviewPage {
  @ApiProperty({ type: [OverviewItem] }) items!: OverviewItem[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}

export class SourceSystemChangeView {
  @ApiProperty() integrationName!: string;
  @ApiProperty() paused!: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) nextFireAt!: string | null;
}

export class SourceSystemActionView {
  @ApiProperty() sourceSystemId!: number;
  @ApiProperty({ type: [SourceSystemChangeView], description: 'The integrations this request changed.' })
  changed!: SourceSystemChangeView[];
}
