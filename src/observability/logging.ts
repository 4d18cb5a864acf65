import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import pino, { type DestinationStream, type LevelWithSilent, type LoggerOptions } from 'pino';
import type { Options as HttpLoggerOptions } from 'pino-http';
import pretty from 'pino-pretty';
import { MIGRATIONS } from '../../migrations';
import type { AppConfig } from '../config';
import { BootFailure } from '../config/boot-failure';
import { batchedStdout } from './log-stream';
import {
  apiKeyDigestsOf,
  scrubText,
  scrubValue,
  secretKeySerializers,
  secretValuesOf,
  knownNamesOf,
} from './redaction';

/** The request id header: honoured when a client or proxy sends a sane one, and always echoed. */
export const REQUEST_ID_HEADER = 'x-request-id';
/** What an incoming request id must look like to be reused (anything else could forge or break log lines). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Paths whose successful requests are logged at debug: probes and scrapes would drown everything else. */
const QUIET_PATHS = /^\/(health\/|metrics(\?|$))/;
/** The readiness probe, whose 503 is its answer (not ready), not a failed request. */
const READINESS_PATH = /^\/health\/ready(\?|$)/;

/**
 * A readiness 503, which only HealthController answers (an exception there is a 500): logged as a completed request
 * at info, without the error pino-http makes up for every 5xx and its stack. A drain answers it on purpose and must
 * not page anyone; a check that failed is logged at error by terminus.
 */
const notReady = (req: IncomingMessage, res: ServerResponse): boolean =>
  res.statusCode === 503 && READINESS_PATH.test(req.url ?? '');

/**
 * The request id for one HTTP request: its `X-Request-Id` when that is 1–128 of `A-Z a-z 0-9 . _ : -`, else a
 * new random UUID. Used as Fastify's `genReqId`, so that the Fastify request, the pino-http log lines and the
 * echoed header share it.
 */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** The fields of the run being executed: `runId`, `sourceSystemId`, `integrationName`. */
export interface RunLogFields {
  runId: string;
  sourceSystemId: number;
  integrationName: string;
}

/**
 * The run a line is logged for, added to every line by the loggers' `mixin`. A run is entered once
 * (RunTelemetry) and its fields cost nothing unless a line is written: a child logger per run would
 * serialise, and redact, its bindings for every run, whether or not it logs anything.
 */
export const runLogContext = new AsyncLocalStorage<RunLogFields>();

/** Where and how logs go. */
export interface LoggingOptions {
  /** Write here instead of stdout (tests capture with it). */
  destination?: DestinationStream;
  /** No output at all (tests that pass `logger: false`). */
  silent?: boolean;
}

/**
 * nestjs-pino parameters for Tidemark: one JSON line per event on stdout (or pino-pretty when
 * `LOG_FORMAT=pretty`), at `LOG_LEVEL`, with ISO timestamps, level names, `replicaId` on every line, a
 * `requestId` on every line logged while serving a request, and secrets removed three ways: the values of
 * secret-named fields at any depth (Authorization, X-API-Key, cookies, tokens, passwords, client secrets; at the top
 * level of child loggers' bindings), a scrub of every
 * logged string for URL userinfo, `Bearer`/`Basic` credentials and secret query parameters, and a scrub of the
 * literal secret values in the configuration.
 *
 * nestjs-pino keeps one root logger per process, built from the first parameters it sees; a process runs one
 * Tidemark, so that is these.
 */
export function createLoggerParams(config: AppConfig, options: LoggingOptions = {}): Params {
  const scrub = scrubberOf(config);
  const destination = logDestination(config, options);
  const pinoOptions = rootLoggerOptions(config, options, scrub);
  return {
    pinoHttp: [
      httpLoggerOptions(pinoOptions, config.observability.readsAtDebug, scrub),
      destination ?? batchedStdout(),
    ],
    // `PinoLogger.assign` (the API key name, set by the auth guard) also reaches the request completion line.
    assignResponse: true,
    // nestjs-pino's default route, "{/*splat}", reaches @fastify/middie 9.3 as "/{/*splat}", which matches no
    // request: without this, the request logger never runs on Fastify.
    forRoutes: [{ path: '/{*splat}', method: RequestMethod.ALL }],
  };
}

/** pino-pretty for `LOG_FORMAT=pretty`, else JSON lines; undefined when silenced. */
function logDestination(config: AppConfig, options: LoggingOptions): DestinationStream | undefined {
  if (options.silent) return undefined;
  if (config.observability.logFormat !== 'pretty') return options.destination ?? batchedStdout();
  return pretty({
    sync: true,
    colorize: !options.destination && process.stdout.isTTY,
    translateTime: 'SYS:standard',
    ignore: 'pid,hostname',
    destination: options.destination ?? 1,
  });
}

/** Scrubs a logged string or object of what a configuration makes secret (see ./redaction). */
interface Scrubber {
  text(text: string): string;
  value(value: unknown): unknown;
}

/**
 * The scrubber of `config`'s secret values and API keys, which keeps the configured integrations' names and the
 * migrations' (the boot logs them) as they are. Without a configuration (a boot that failed before loading it), only
 * the general patterns apply.
 */
function scrubberOf(config: AppConfig | null): Scrubber {
  const secrets = config ? secretValuesOf(config) : [];
  const keys = config ? apiKeyDigestsOf(config) : undefined;
  const names = config
    ? knownNamesOf(
        config,
        MIGRATIONS.map((migration) => migration.name),
      )
    : undefined;
  return {
    text: (text) => scrubText(text, secrets, keys, names),
    value: (value) => scrubValue(value, secrets, keys, names),
  };
}

/** The root logger's options: level, base fields, the run's fields, and secrets scrubbed from every line. */
function rootLoggerOptions(config: AppConfig, options: LoggingOptions, scrub: Scrubber): LoggerOptions {
  return {
    level: options.silent ? 'silent' : config.observability.logLevel,
    base: { replicaId: config.replicaId },
    timestamp: pino.stdTimeFunctions.isoTime,
    // pino merges the line's own fields into what the mixin returns, so it must be a fresh object.
    mixin: () => {
      const run = runLogContext.getStore();
      return run === undefined ? {} : { ...run };
    },
    formatters: {
      level: levelLabel,
      log: (object) => scrub.value(object) as Record<string, unknown>,
    },
    hooks: {
      // Message strings and format arguments never pass through `formatters.log`.
      logMethod(args, method) {
        const scrubbed = args.map((arg: unknown) => (typeof arg === 'string' ? scrub.text(arg) : arg));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
    serializers: {
      ...secretKeySerializers(),
      // A client may send any sane X-Request-Id, its API key included; as a child logger's binding it never passes
      // through `formatters.log`.
      requestId: (id: unknown) => (typeof id === 'string' ? scrub.text(id) : id),
      err: (error: unknown) => scrub.value(pino.stdSerializers.err(error as Error)),
    },
  };
}

/** pino-http's options: the root logger's, plus the request id, the request and response fields, and levels. */
function httpLoggerOptions(pinoOptions: LoggerOptions, readsAtDebug: boolean, scrub: Scrubber): HttpLoggerOptions {
  return {
    ...pinoOptions,
    // Fastify's genReqId (requestIdFor) already set it; @fastify/middie copies it onto the raw request.
    genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? requestIdFor(req),
    customAttributeKeys: { reqId: 'requestId' },
    // Lines logged while serving a request carry the request id only; the completion line has method, URL, status.
    quietReqLogger: true,
    serializers: {
      ...pinoOptions.serializers,
      req: requestSerializer(scrub),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: requestLogLevel(readsAtDebug),
    // pino-http writes every 5xx as an error line; a readiness 503 gets the line of a completed request.
    customErrorMessage: (req: IncomingMessage, res: ServerResponse) =>
      notReady(req, res) ? 'request completed' : 'request errored',
    customErrorObject: (req: IncomingMessage, res: ServerResponse, _error: Error, line: Record<string, unknown>) => {
      if (!notReady(req, res)) return line;
      const { err: _err, ...completed } = line;
      return completed;
    },
  };
}

/** The `req` field of a request's lines: method, scrubbed URL, peer address and scrubbed user agent. */
function requestSerializer(scrub: Scrubber) {
  return (req: {
    id?: string;
    method?: string;
    url?: string;
    headers?: Record<string, unknown>;
    remoteAddress?: string;
  }) => {
    const userAgent = req.headers?.['user-agent'];
    return {
      method: req.method,
      url: req.url === undefined ? undefined : scrub.text(req.url),
      remoteAddress: req.remoteAddress,
      userAgent: typeof userAgent === 'string' ? scrub.text(userAgent) : userAgent,
    };
  };
}

/** The level of a request's completion line, by its outcome and path. */
function requestLogLevel(readsAtDebug: boolean) {
  return (req: IncomingMessage, res: ServerResponse, error?: Error): LevelWithSilent => {
    if (notReady(req, res)) return 'info';
    if (error || res.statusCode >= 500) return 'error';
    if (res.statusCode >= 400) return 'warn';
    if (QUIET_PATHS.test(req.url ?? '')) return 'debug';
    return readsAtDebug && req.method === 'GET' ? 'debug' : 'info';
  };
}

/** A request completion line's fields, as pino-http's serializers write them. */
export interface CompletedRequest {
  requestId: string;
  /** The request id is the client's X-Request-Id (which could be anything sane, a key included). */
  requestIdFromClient: boolean;
  method: string;
  url: string;
  remoteAddress: string | undefined;
  userAgent: string | undefined;
  statusCode: number;
  /** Milliseconds from the request's arrival to its answer. */
  responseTime: number;
  /** The API key's name when a key was required and given. */
  apiKeyName: string | undefined;
}

/** Writes the completion line of a successful GET answered outside Nest, as pino-http would write it. */
export type ReadLineWriter = (request: CompletedRequest) => void;

/** Most distinct strings remembered with their scrubbed form (URLs and user agents repeat). */
const SCRUBBED_MEMO_LIMIT = 2_000;

/**
 * The writer of `request completed` lines for successful reads answered before Nest (src/http/fast-read.ts): the
 * same JSON as pino-http's line for the same request (fields, order, level, base), on the same destination, with
 * the URL, user agent and a client's request id scrubbed by the same rules. It writes only these fields, all known
 * here, so it needs neither a child logger per request nor the walk of every logged field and string that the root
 * logger applies to arbitrary objects; that is what makes the line cheap.
 * @returns null when such a line is not written at the configured level (or logging is silenced)
 */
export function createReadLineWriter(config: AppConfig, params: Params): ReadLineWriter | null {
  const [options, destination] = params.pinoHttp as [LoggerOptions, DestinationStream];
  const lineLevel = config.observability.readsAtDebug ? 'debug' : 'info';
  if (!pino({ level: options.level }, destination).isLevelEnabled(lineLevel)) return null;
  const scrub = scrubberOf(config);
  // Strings repeat (URLs, user agents): each is scrubbed and JSON-quoted once.
  const memo = new Map<string, string>();
  const scrubbedJson = (text: string): string => {
    let out = memo.get(text);
    if (out === undefined) {
      if (memo.size >= SCRUBBED_MEMO_LIMIT) memo.clear();
      memo.set(text, (out = JSON.stringify(scrub.text(text))));
    }
    return out;
  };
  // The fields in pino's order: level, time, the base bindings, then the line's own fields and the message.
  const base = JSON.stringify(options.base ?? {}).slice(1, -1);
  const head = `{"level":${JSON.stringify(lineLevel)},"time":"`;
  const afterTime = `"${base === '' ? '' : `,${base}`},"requestId":`;
  // Requests arrive many to a millisecond under load; they share one ISO time string.
  let isoMs = -1;
  let iso = '';
  return (request) => {
    const nowMs = Date.now();
    if (nowMs !== isoMs) {
      isoMs = nowMs;
      iso = new Date(nowMs).toISOString();
    }
    let line = head + iso + afterTime;
    line += request.requestIdFromClient ? scrubbedJson(request.requestId) : JSON.stringify(request.requestId);
    line += `,"req":{"method":${JSON.stringify(request.method)},"url":${scrubbedJson(request.url)}`;
    if (request.remoteAddress !== undefined) line += `,"remoteAddress":${JSON.stringify(request.remoteAddress)}`;
    if (request.userAgent !== undefined) line += `,"userAgent":${scrubbedJson(request.userAgent)}`;
    line += '}';
    if (request.apiKeyName !== undefined) line += `,"apiKeyName":${JSON.stringify(request.apiKeyName)}`;
    line += `,"res":{"statusCode":${request.statusCode}},"responseTime":${request.responseTime}`;
    destination.write(`${line},"msg":"request completed"}\n`);
  };
}

function levelLabel(label: string): { level: string } {
  return { level: label };
}

/**
 * The one JSON line the entry point prints when the service can't start: `level` fatal, the message (naming the
 * variable at fault for a {@link BootFailure}, which also gets a `variable` field), and for any other error its
 * type, message and stack as one string, all with secrets removed.
 * @param config the configuration when it was loaded, for its secret values
 */
export function fatalStartLine(error: unknown, config: AppConfig | null): string {
  const scrub = scrubberOf(config);
  const line: Record<string, unknown> = { level: 'fatal', time: new Date().toISOString() };
  if (config) line.replicaId = config.replicaId;
  if (error instanceof BootFailure) {
    line.variable = error.variable;
    line.msg = scrub.text(error.message);
  } else {
    const err = error instanceof Error ? error : new Error(String(error));
    line.msg = scrub.text(`tidemark failed to start: ${err.message}`);
    line.err = scrub.value({ type: err.name, message: err.message, stack: err.stack });
  }
  return JSON.stringify(line);
}
