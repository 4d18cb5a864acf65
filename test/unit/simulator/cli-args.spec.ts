import { describe, expect, it } from 'vitest';
import { SIMULATOR_USAGE, SimulatorArgsError, parseSimulatorArgs } from '../../../src/demo/simulator/cli-args';

/** The error `parseSimulatorArgs(argv)` throws, as its parts. */
function rejection(argv: string[]): { argument: string; rule: string; message: string } {
  try {
    parseSimulatorArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(SimulatorArgsError);
    const { argument, rule, message } = error as SimulatorArgsError;
    return { argument, rule, message };
  }
  throw new Error(`accepted ${JSON.stringify(argv)}`);
}

describe('parseSimulatorArgs', () => {
  it('answers help for --help or -h, wherever it stands and whatever else is on the line', () => {
    expect(parseSimulatorArgs(['--help'])).toBe('help');
    expect(parseSimulatorArgs(['-h'])).toBe('help');
    expect(parseSimulatorArgs(['--bogus', '--port', '70000', '--help'])).toBe('help');
  });

  it('takes a value starting with a single dash, and the last of a repeated flag', () => {
    expect(parseSimulatorArgs(['--offset', '-06:00', '--port', '1', '--port=2', '--latency', '0'])).toEqual({
      port: 2,
      host: '127.0.0.1',
      latencyMs: 0,
      timeZoneOffset: '-06:00',
      firstRun: false,
    });
  });

  it.each([
    [['--bogus'], '--bogus', 'is not a known option'],
    [['-x'], '-x', 'is not a known option'],
    [['5080'], '"5080"', 'is not an option (options start with --)'],
    [['--', '--port'], '"--port"', 'is not an option (options start with --)'],
    [['--port', '--host', 'h'], '--port', 'needs a value'],
    [['--host'], '--host', 'needs a value'],
    [['--host='], '--host', 'must not be empty'],
    [['--port='], '--port', 'must be an integer from 0 to 65535 (got "")'],
    [['--port', '1.5'], '--port', 'must be an integer from 0 to 65535 (got "1.5")'],
    [['--latency', '-1'], '--latency', 'must be an integer from 0 to 3600000 (got "-1")'],
    [['--latency=3600001'], '--latency', 'must be an integer from 0 to 3600000 (got "3600001")'],
    [['--offset', 'bogus'], '--offset', 'must be ±HH:MM within ±14:00 (got "bogus")'],
    [['--offset=+14:01'], '--offset', 'must be ±HH:MM within ±14:00 (got "+14:01")'],
    [['--first-run=yes'], '--first-run', 'takes no value'],
  ])('rejects %j: %s %s', (argv, argument, rule) => {
    expect(rejection(argv)).toEqual({ argument, rule, message: `${argument}: ${rule}` });
  });

  it('reports the first bad argument only', () => {
    expect(rejection(['--port', 'x', '--bogus']).argument).toBe('--port');
  });

  it('has a usage text whose first line is the synopsis', () => {
    expect(SIMULATOR_USAGE.split('\n')[0]).toBe(
      'usage: simulator [--port N] [--host H] [--latency MS] [--offset ±HH:MM] [--first-run]',
    );
  });
});
