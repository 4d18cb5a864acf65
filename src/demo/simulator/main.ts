/**
 * Runs the upstream simulator as its own process: `npm run simulator -- --port 5080` (`node dist/src/demo/simulator/main.js`).
 * Prints the base URL on stdout (one line) once listening; stops cleanly on SIGINT/SIGTERM.
 */
import { parseSimulatorArgs } from './cli-args';
import { UpstreamSimulator } from './upstream-simulator';

async function main(): Promise<void> {
  let args;
  try {
    args = parseSimulatorArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const simulator = new UpstreamSimulator({
    latencyMs: args.latencyMs,
    timeZoneOffset: args.timeZoneOffset,
    firstCallReturnsFirstRun: args.firstRun,
    // A long-running process must not grow without bound; tests use the class directly.
    maxRecordedCalls: 10_000,
  });
  const url = await simulator.start(args.port, args.host);
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
