import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  Validate,
  ValidateNested,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { CronTime } from 'cron';
import { databaseUrlProblem, isListenHost } from './network-checks';
import { timeZoneProblem } from './value-checks';

/** The .NET `int` range of SourceSystemId; negative ids are not issued by the upstream. */
export const SOURCE_SYSTEM_ID_MAX = 2147483647;
/** Longest IntegrationName accepted; the upstream keeps it in a short SQL Server column. */
export const INTEGRATION_NAME_MAX_LENGTH = 256;
/** Control characters (NUL included) can't travel in the XML request and never name a real integration. */
export const INTEGRATION_NAME_PATTERN = /^[^\u0000-\u001f\u007f]*$/u;

export function isValidTimeZone(zone: string): boolean {
  return timeZoneProblem(zone) === null;
}

@ValidatorConstraint({ name: 'timeZone' })
export class IsIanaTimeZone implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && isValidTimeZone(value);
  }
  defaultMessage(args?: ValidationArguments): string {
    return timeZoneProblem(typeof args?.value === 'string' ? args.value : '') ?? 'must be an IANA time zone';
  }
}

@ValidatorConstraint({ name: 'databaseUrl' })
export class IsDatabaseUrl implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && databaseUrlProblem(value) === null;
  }
  defaultMessage(args?: ValidationArguments): string {
    return (
      databaseUrlProblem(typeof args?.value === 'string' ? args.value : '') ??
      'must be a postgres:// or postgresql:// URL'
    );
  }
}

@ValidatorConstraint({ name: 'listenHost' })
export class IsListenHost implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && isListenHost(value);
  }
  defaultMessage(): string {
    return 'must be an IP address or a host name';
  }
}

/** Cron texts already parsed successfully: thousands of integrations usually share a few schedules. */
const validCrons = new Set<string>();

@ValidatorConstraint({ name: 'cron' })
export class IsCronExpression implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    if (validCrons.has(value)) return true;
    const fields = value.trim().split(/\s+/).length;
    if (fields !== 5 && fields !== 6) return false;
    try {
      new CronTime(value, 'UTC');
      if (validCrons.size < 10_000) validCrons.add(value);
      return true;
    } catch {
      return false;
    }
  }
  defaultMessage(): string {
    return 'must be a cron expression with 6 fields, seconds first (e.g. "0 */5 * * * *"), or 5 fields';
  }
}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;

/** An integer variable with an inclusive range; the message names the rule. */
function IntEnv(min: number, max: number): PropertyDecorator {
  const message = `must be an integer from ${min} to ${max}`;
  return (target, key) => {
    IsOptional()(target, key);
    Transform(toInt)(target, key);
    IsInt({ message })(target, key);
    Min(min, { message })(target, key);
    Max(max, { message })(target, key);
  };
}

function OneOfEnv(values: readonly string[]): PropertyDecorator {
  return (target, key) => {
    IsOptional()(target, key);
    IsIn(values, { message: `must be one of ${values.join(', ')}` })(target, key);
  };
}

function NonEmptyEnv(): PropertyDecorator {
  return (target, key) => {
    IsOptional()(target, key);
    IsString()(target, key);
    MinLength(1, { message: 'must not be empty' })(target, key);
  };
}

/** One element of INTEGRATIONS / INTEGRATIONS_FILE, before defaults are applied. */
export class IntegrationEntry {
  @IsInt({ message: 'must be an integer from 0 to 2147483647' })
  @Min(0, { message: 'must be an integer from 0 to 2147483647' })
  @Max(SOURCE_SYSTEM_ID_MAX, { message: 'must be an integer from 0 to 2147483647' })
  sourceSystemId!: number;

  @IsString({ message: 'must be a string' })
  @MinLength(1, { message: 'must not be empty' })
  @MaxLength(INTEGRATION_NAME_MAX_LENGTH, { message: `must be at most ${INTEGRATION_NAME_MAX_LENGTH} characters` })
  @Matches(INTEGRATION_NAME_PATTERN, { message: 'must not contain control characters' })
  // URL resolution removes `.` and `..` segments, however they are percent-encoded (RFC 3986 §5.2.4, WHATWG URL),
  // so no URL of the REST API could name such an integration.
  @Matches(/^(?!\.\.?$)/, { message: 'must not be . or .. (a URL path segment cannot name it)' })
  integrationName!: string;

  @IsOptional()
  @Validate(IsCronExpression)
  cron?: string;

  @IsOptional()
  @Validate(IsIanaTimeZone)
  timeZone?: string;

  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  enabled?: boolean;

  @IsOptional()
  @IsIn(['fire_once_now', 'skip'], { message: 'must be one of fire_once_now, skip' })
  misfirePolicy?: 'fire_once_now' | 'skip';
}

/**
 * Every environment variable Tidemark reads, as raw input to class-validator.
 * Property names are the variable names so that each error names the variable.
 */
export class EnvironmentVariables {
  @OneOfEnv(['production', 'development', 'test'])
  NODE_ENV?: string;

  @IsOptional()
  @Validate(IsDatabaseUrl)
  DATABASE_URL?: string;

  @IntEnv(1, 500) DB_POOL_SIZE?: number;
  @IntEnv(100, 600_000) DB_CONNECT_TIMEOUT_MS?: number;
  @NonEmptyEnv() DATA_DIR?: string;

  @IsOptional()
  @Matches(/^https?:\/\/[^\s]+$/, { message: 'must be an http:// or https:// URL' })
  UPSTREAM_BASE_URL?: string;

  @OneOfEnv(['json', 'xml']) UPSTREAM_FORMAT?: string;
  @IntEnv(1, 3_600_000) UPSTREAM_TIMEOUT_MS?: number;
  @OneOfEnv(['none', 'bearer', 'basic', 'client_credentials', 'password']) UPSTREAM_AUTH?: string;
  @NonEmptyEnv() UPSTREAM_TOKEN?: string;
  @IsOptional()
  @IsString()
  @MinLength(1, { message: 'must not be empty' })
  @Matches(/^[^:]*$/, { message: 'must not contain ":" (Basic authentication puts it between user name and password)' })
  UPSTREAM_USERNAME?: string;
  @NonEmptyEnv() UPSTREAM_PASSWORD?: string;
  @IntEnv(1024, 1_073_741_824) UPSTREAM_MAX_BODY_BYTES?: number;
  @NonEmptyEnv() UPSTREAM_CLIENT_ID?: string;
  @NonEmptyEnv() UPSTREAM_CLIENT_SECRET?: string;
  @NonEmptyEnv() UPSTREAM_SCOPE?: string;

  @IsOptional()
  @Matches(/^https?:\/\/[^\s]+$/, { message: 'must be an http:// or https:// URL' })
  UPSTREAM_TOKEN_URL?: string;

  @OneOfEnv(['json', 'form']) UPSTREAM_TOKEN_REQUEST_FORMAT?: string;
  @IsOptional()
  @IsString()
  @Matches(/^[\x21-\x7e]*$/, { message: 'must be visible ASCII without spaces, or empty to send no grant_type' })
  UPSTREAM_TOKEN_GRANT_TYPE?: string;
  @IntEnv(1, 600_000) UPSTREAM_CONNECT_TIMEOUT_MS?: number;
  @IntEnv(1, 3_600_000) UPSTREAM_ATTEMPT_TIMEOUT_MS?: number;
  @IntEnv(1, 20) UPSTREAM_RETRY_MAX_ATTEMPTS?: number;
  @IntEnv(1, 600_000) UPSTREAM_RETRY_BASE_MS?: number;
  @IntEnv(1, 3_600_000) UPSTREAM_RETRY_MAX_MS?: number;
  @IntEnv(1, 1_000) UPSTREAM_BREAKER_THRESHOLD?: number;
  @IntEnv(1, 86_400_000) UPSTREAM_BREAKER_HALF_OPEN_MS?: number;
  @IntEnv(0, 3_600_000) DB_WRITE_RETRY_MS?: number;

  @IsOptional()
  @Validate(IsIanaTimeZone)
  UPSTREAM_TIMEZONE?: string;

  @NonEmptyEnv() INTEGRATIONS?: string;
  @NonEmptyEnv() INTEGRATIONS_FILE?: string;

  @IsOptional()
  @Validate(IsCronExpression)
  SCHEDULE_CRON?: string;

  @IsOptional()
  @Validate(IsIanaTimeZone)
  SCHEDULE_TIMEZONE?: string;

  @IntEnv(10, 60_000) SCHEDULER_POLL_MS?: number;
  @IntEnv(0, 86_400_000) MISFIRE_THRESHOLD_MS?: number;
  @OneOfEnv(['fire_once_now', 'skip']) MISFIRE_POLICY?: string;
  @IntEnv(1_000, 3_600_000) RUN_LEASE_MS?: number;
  @IntEnv(1, 10_000) MAX_CONCURRENT_RUNS?: number;
  @IntEnv(0, 3_600_000) SHUTDOWN_GRACE_MS?: number;
  @IntEnv(1, 36_500) RUN_HISTORY_DAYS?: number;
  @IntEnv(100, 3_600_000) HTTP_REQUEST_TIMEOUT_MS?: number;
  @IntEnv(1, 1_000_000) HTTP_MAX_CONNECTIONS?: number;

  @IsOptional()
  @Matches(/^[A-Za-z0-9._:-]{1,128}$/, { message: 'must be 1 to 128 of A-Z a-z 0-9 . _ : -' })
  REPLICA_ID?: string;

  @OneOfEnv(['fatal', 'error', 'warn', 'info', 'debug', 'trace']) LOG_LEVEL?: string;
  @OneOfEnv(['json', 'pretty']) LOG_FORMAT?: string;
  @IntEnv(1_000, 31_536_000_000) STALE_AFTER_MS?: number;
  @NonEmptyEnv() API_KEYS?: string;
  @OneOfEnv(['true', 'false']) AUTH_DISABLED?: string;
  @OneOfEnv(['true', 'false']) METRICS_PUBLIC?: string;
  @OneOfEnv(['true', 'false']) DOCS_PUBLIC?: string;
  @IntEnv(1, 1_000_000) RATE_LIMIT_PER_MINUTE?: number;
  @NonEmptyEnv() CORS_ORIGINS?: string;

  @IntEnv(0, 65_535) PORT?: number;
  @IsOptional()
  @Validate(IsListenHost)
  HOST?: string;
}

/** Variables whose values are never echoed in an error, even in part. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'DATABASE_URL',
  'UPSTREAM_BASE_URL',
  'UPSTREAM_TOKEN',
  'UPSTREAM_USERNAME',
  'UPSTREAM_PASSWORD',
  'UPSTREAM_CLIENT_SECRET',
  'UPSTREAM_TOKEN_URL',
  'API_KEYS',
]);

/** One element of API_KEYS. */
export class ApiKeyEntry {
  @IsString({ message: 'must be a string' })
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1 to 64 of A-Z a-z 0-9 . _ -' })
  name!: string;

  @IsString({ message: 'must be a string' })
  @Matches(/^sha256:[0-9a-fA-F]{64}$/, {
    message: 'must be "sha256:" followed by 64 hex digits (npm run apikey prints one)',
  })
  keyHash!: string;

  @IsIn(['read', 'operate'], { each: true, message: 'must hold only read and operate' })
  scopes!: string[];
}

export class ApiKeyList {
  @ValidateNested({ each: true })
  @Type(() => ApiKeyEntry)
  items!: ApiKeyEntry[];
}
