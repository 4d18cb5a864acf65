/**
 * A start that failed because of one configuration value: the database DATABASE_URL names can't be reached, say.
 * The entry point prints it as one JSON line naming the variable and exits 1.
 */
export class BootFailure extends Error {
  constructor(
    /** The environment variable whose value could not be used. */
    readonly variable: string,
    /** What went wrong, naming the variable; never a secret (credentials are removed from URLs). */
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BootFailure';
  }
}

/**
 * The failure to reach the database at `url` at boot, with the URL's user and password removed, and the driver's
 * reason (every address tried when a host name resolves to several).
 */
export function databaseUnreachable(url: string, error: unknown): BootFailure {
  return new BootFailure(
    'DATABASE_URL',
    `DATABASE_URL: the database must be reachable at boot; ${urlWithoutCredentials(url)} is not (${reasonOf(error)})`,
    { cause: error },
  );
}

/** `url` without its userinfo (`postgres://u:p@h/db` → `postgres://h/db`); an unparsable URL is not shown at all. */
export function urlWithoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    // A password can also travel as a query parameter (`?password=`).
    for (const name of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(name)) parsed.searchParams.set(name, '[REDACTED]');
    }
    return parsed.toString();
  } catch {
    return '(the URL)';
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map((one: unknown) => reasonOf(one)).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    const message = error.message.replace(/\s+/g, ' ').trim();
    if (typeof code === 'string' && !message.includes(code)) return message ? `${code}: ${message}` : code;
    return message || error.name;
  }
  return String(error);
}
