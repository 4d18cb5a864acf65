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

const USAGE =
  'usage: simulator [--port N] [--host H] [--latency MS] [--offset ±HH:MM] [--first-run]\n' +
  '  defaults: --port 0 (any free port) --host 127.0.0.1 --latency 0 --offset +00:00';

/**
 * Parses `--port N --host H --latency MS --offset ±HH:MM --first-run` (also `--flag=value`).
 * Configuration comes from argv rather than the environment, which only src/config may read.
 * @throws Error with a usage text for an unknown flag, a missing value or an invalid number.
 */
export function parseSimulatorArgs(argv: readonly string[]): SimulatorCliArgs {
  const args: SimulatorCliArgs = {
    port: 0,
    host: '127.0.0.1',
    latencyMs: 0,
    timeZoneOffset: '+00:00',
    firstRun: false,
  };
  const fail = (why: string): never => {
    throw new Error(`${why}\n${USAGE}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (flag === '--first-run') {
      if (eq >= 0) fail('--first-run takes no value');
      args.firstRun = true;
      continue;
    }
    if (flag === '--help' || flag === '-h') fail('help requested');
    if (!['--port', '--host', '--latency', '--offset'].includes(flag)) fail(`unknown flag ${flag}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) fail(`${flag} needs a value`);
    const integer = (min: number, max: number): number => {
      if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
        fail(`${flag} must be an integer from ${min} to ${max}`);
      return Number(value);
    };
    switch (flag) {
      case '--port':
        args.port = integer(0, 65535);
        break;
      case '--host':
        args.host = value;
        break;
      case '--latency':
        args.latencyMs = integer(0, 3_600_000);
        break;
      case '--offset':
        args.timeZoneOffset = value;
        break;
      default:
        fail(`unknown flag ${flag}`);
    }
  }
  return args;
}
