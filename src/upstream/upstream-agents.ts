/**
 * The keep-alive connection pools the upstream client's axios instance uses, with a connect deadline.
 *
 * The deadline is a plain timer armed in `createConnection` (a public `http.Agent` hook): it covers DNS, the TCP
 * handshake and, for https, the TLS handshake of a new connection, and nothing after it. A socket's own idle
 * timeout would not do: it does not fire while a connect hangs on a dropped SYN.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';

/**
 * Sockets per upstream origin. A run holds at most one at a time (its token request comes before its call), so this
 * bounds concurrency well above MAX_CONCURRENT_RUNS' default without queueing runs inside the agent.
 */
export const UPSTREAM_MAX_SOCKETS = 1_024;
/** An idle kept-alive socket is closed after this long, before a typical server (5 s and up) closes it under us. */
const IDLE_SOCKET_TIMEOUT_MS = 4_000;
/**
 * TCP keep-alive probe delay of the pooled sockets. axios sets 60 s on every request's socket and the agent sets its
 * own `keepAliveMsecs` each time it pools one; Node skips the setsockopt calls only when the value is unchanged, so
 * the two must agree or every request pays five system calls twice.
 */
const TCP_KEEPALIVE_DELAY_MS = 60_000;

/** The error a connection that did not come up within the connect deadline is destroyed with. */
export class ConnectDeadlineError extends Error {
  readonly code = 'UPSTREAM_CONNECT_DEADLINE';

  constructor(readonly timeoutMs: number) {
    super(`no connection within ${timeoutMs} ms`);
    this.name = 'ConnectDeadlineError';
  }
}

/** The http and https agents of one upstream client. */
export interface UpstreamAgents {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
}

/** Fresh keep-alive agents whose new connections must be up within `connectTimeoutMs`. */
export function createUpstreamAgents(connectTimeoutMs: number): UpstreamAgents {
  const options = {
    keepAlive: true,
    keepAliveMsecs: TCP_KEEPALIVE_DELAY_MS,
    maxSockets: UPSTREAM_MAX_SOCKETS,
    maxFreeSockets: UPSTREAM_MAX_SOCKETS,
    timeout: IDLE_SOCKET_TIMEOUT_MS,
  };
  return {
    httpAgent: new ConnectDeadlineHttpAgent(options, connectTimeoutMs),
    httpsAgent: new ConnectDeadlineHttpsAgent(options, connectTimeoutMs),
  };
}

class ConnectDeadlineHttpAgent extends http.Agent {
  constructor(
    options: http.AgentOptions,
    private readonly connectTimeoutMs: number,
  ) {
    super(options);
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    return armConnectDeadline(super.createConnection(options, callback), this.connectTimeoutMs);
  }
}

class ConnectDeadlineHttpsAgent extends https.Agent {
  constructor(
    options: https.AgentOptions,
    private readonly connectTimeoutMs: number,
  ) {
    super(options);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    return armConnectDeadline(super.createConnection(options, callback), this.connectTimeoutMs);
  }
}

/** Destroys `socket` with a {@link ConnectDeadlineError} unless it is connected (TLS: handshake done) in time. */
function armConnectDeadline<S extends Duplex | null | undefined>(socket: S, timeoutMs: number): S {
  if (!(socket instanceof Socket) || !socket.connecting) return socket;
  const ready = socket instanceof TLSSocket ? 'secureConnect' : 'connect';
  const timer = setTimeout(() => socket.destroy(new ConnectDeadlineError(timeoutMs)), timeoutMs);
  const disarm = () => {
    clearTimeout(timer);
    socket.off(ready, disarm);
    socket.off('close', disarm);
  };
  socket.once(ready, disarm);
  socket.once('close', disarm);
  return socket;
}

/** Closes the kept-alive sockets of the agents in an axios configuration, if they are upstream agents. */
export function destroyUpstreamAgents(config: { httpAgent?: unknown; httpsAgent?: unknown }): void {
  for (const agent of [config.httpAgent, config.httpsAgent]) {
    if (agent instanceof ConnectDeadlineHttpAgent || agent instanceof ConnectDeadlineHttpsAgent) agent.destroy();
  }
}
