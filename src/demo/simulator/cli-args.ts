import { parseArgs } from 'node:util';
import { parseOffsetMinutes } from './net-time';

/** Command-line flags of `src/demo/simulator/main.ts`. */
export interface SimulatorCliArgs {
  /** TCP port; 0 picks a free one. */
  port: number;
  host: string;
  /** Delay before each IntegrationStart call, ms. */
  latencyMs: number;
  /** Offset dates are written in, `±HH:MM`. */
  timeZoneOffset: string;
  /** Each pair's first call answers the "first run" shape. */
  firstRun: boolean;
}

/** What `--help` prints on stdout; the first line is the synopsis. */
export const SIMULATOR_USAGE = [
  'usage: simulator [--port N] [--host H] [--latency MS] [--offset ±HH:MM] [--first-run]',
  '',
  'Serves a Gravitate-style IntegrationStart upstream; prints its base URL on stdout once listening,',
  'stops on SIGINT or SIGTERM.',
  '',
  '  --port N          TCP port from 0 to 65535; 0 picks a free one (default 0)',
  '  --host H          address to listen on (default 127.0.0.1)',
  '  --latency MS      delay before each IntegrationStart answer, 0 to 3600000 ms (default 0)',
  '  --offset ±HH:MM   offset the dates are written in, within ±14:00 (default +00:00)',
  '  --first-run       each pair\'s first call answers the "first run" shape',
  '  -h, --help        print this help and exit',
].join('\n');

/** A bad command line: `argument` is the flag (or stray word) at fault, `rule` what it must be. */
export class SimulatorArgsError extends Error {
  constructor(
    readonly argument: string,
    readonly rule: string,
  ) {
    super(`${argument}: ${rule}`);
    this.name = 'SimulatorArgsError';
  }
}

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  latency: { type: 'string' },
  offset: { type: 'string' },
  'first-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Parses `--port N --host H --latency MS --offset ±HH:MM --first-run` (also `--flag=value`), or `--help`/`-h`,
 * which wins over anything else on the line. A later repeat of a flag overrides an earlier one.
 * Configuration comes from argv rather than the environment, which only src/config may read.
 * @returns the flags with defaults applied, or `'help'` when help was asked for
 * @throws SimulatorArgsError for the first unknown flag, stray word, missing value or invalid value
 */
export function parseSimulatorArgs(argv: readonly string[]): SimulatorCliArgs | 'help' {
  // Lenient mode, because strict mode refuses `--offset -06:00` (a value starting with a dash); the checks below
  // are the strict ones, with messages that name the flag and its rule.
  const { tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) return 'help';
  const args: SimulatorCliArgs = {
    port: 0,
    host: '127.0.0.1',
    latencyMs: 0,
    timeZoneOffset: '+00:00',
    firstRun: false,
  };
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      throw new SimulatorArgsError(JSON.stringify(token.value), 'is not an option (options start with --)');
    }
    applyOption(args, token);
  }
  return args;
}

/** The fields of one of parseArgs' option tokens that the checks read. */
interface OptionToken {
  name: string;
  rawName: string;
  value?: string;
  inlineValue?: boolean;
}

/** Sets the flag `token` names in `args`, checking it is known, has a value if it takes one, and the value's rule. */
function applyOption(args: SimulatorCliArgs, token: OptionToken): void {
  const flag = token.rawName;
  if (token.name === 'first-run') {
    if (token.value !== undefined) throw new SimulatorArgsError(flag, 'takes no value');
    args.firstRun = true;
    return;
  }
  if (!Object.hasOwn(OPTIONS, token.name)) {
    throw new SimulatorArgsError(flag, 'is not a known option');
  }
  const value = token.value;
  // `--port --host x` hands "--host" to --port as its value; a flag is never meant as one.
  if (value === undefined || (!token.inlineValue && value.startsWith('--'))) {
    throw new SimulatorArgsError(flag, 'needs a value');
  }
  switch (token.name) {
    case 'port':
      args.port = integer(flag, value, 0, 65535);
      break;
    case 'host':
      if (value === '') throw new SimulatorArgsError(flag, 'must not be empty');
      args.host = value;
      break;
    case 'latency':
      args.latencyMs = integer(flag, value, 0, 3_600_000);
      break;
    case 'offset':
      args.timeZoneOffset = offset(flag, value);
      break;
  }
}

/** `value` as an integer from `min` to `max`, written in decimal digits only. */
function integer(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new SimulatorArgsError(flag, `must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return Number(value);
}

/** `value` when the simulator accepts it as its date offset (the check it makes at construction). */
function offset(flag: string, value: string): string {
  try {
    parseOffsetMinutes(value);
  } catch {
    throw new SimulatorArgsError(flag, `must be ±HH:MM within ±14:00 (got ${JSON.stringify(value)})`);
  }
  return value;
}
