/**
 * Runs the upstream simulator as its own process: `npm run simulator -- --port 5080` (`node dist/src/demo/simulator/main.js`).
 * Prints the base URL on stdout (one line) once listening; stops cleanly on SIGINT/SIGTERM.
 * Exit codes: 0 after `--help` or a signal, 2 for a bad command line, 1 when it can't listen (or a bug). Only a bug
 * prints a stack trace; a user's mistake gets one line on stderr.
 */
import { SIMULATOR_USAGE, SimulatorArgsError, parseSimulatorArgs } from './cli-args';
import { UpstreamSimulator } from './upstream-simulator';

async function main(): Promise<void> {
  let args;
  try {
    args = parseSimulatorArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof SimulatorArgsError)) throw err;
    process.stderr.write(`simulator: ${err.message}; run with --help for usage\n`);
    process.exitCode = 2;
    return;
  }
  if (args === 'help') {
    process.stdout.write(`${SIMULATOR_USAGE}\n`);
    return;
  }
  const simulator = new UpstreamSimulator({
    latencyMs: args.latencyMs,
    timeZoneOffset: args.timeZoneOffset,
    firstCallReturnsFirstRun: args.firstRun,
    // A long-running process must not grow without bound; tests use the class directly.
    maxRecordedCalls: 10_000,
  });
  let url: string;
  try {
    url = await simulator.start(args.port, args.host);
  } catch (err) {
    // The listen error (EADDRINUSE, EACCES, ENOTFOUND) already names what is wrong.
    process.stderr.write(`simulator: cannot listen on ${args.host} port ${args.port}: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${url}\n`);
  const shutdown = () => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
