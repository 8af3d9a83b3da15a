/**
 * Stores a drill owns: a Redis and a MariaDB of its own, on their own ports, started before the stack, killed and
 * started again as the fault, removed after. The machine's shared Redis (6379) and MariaDB (3306) are never touched.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { failOnExit, freePort, portOpen, startProcess, waitUntil, type Managed } from '@flash/stack';

/** A store of the drill's own: the stack's settings to use it, a crash and restart of it, its removal. */
export interface OwnedStore {
  settings: Record<string, string>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A store process `start` starts (and resolves once it answers); restart is kill -9 and a new start. */
async function ownedStore(settings: Record<string, string>, start: () => Promise<Managed>, removed = () => {}): Promise<OwnedStore> {
  let server = await start();
  return {
    settings,
    async restart() {
      process.kill(server.child.pid!, 'SIGKILL');
      await server.exited;
      server = await start();
    },
    async stop() {
      await server.stop();
      removed();
    },
  };
}

/** A Redis of the drill's own on a free port, keeping nothing on disk. */
export async function ownRedis(): Promise<OwnedStore> {
  const port = await freePort();
  return ownedStore({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port) }, async () => {
    const server = startProcess('drill-redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await waitUntil(`Redis on :${port}`, () => portOpen(port), 10_000, 20);
    return server;
  });
}

const run = promisify(execFile);

/** Answers a query: the server is up and has finished its crash recovery. */
async function answers(port: number): Promise<boolean> {
  const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '', connectTimeout: 1000 });
  try {
    await connection.query('SELECT 1');
    return true;
  } finally {
    await connection.end();
  }
}

/**
 * A MariaDB of the drill's own: a fresh datadir in a temporary directory, its own port on 127.0.0.1, root with an
 * empty password as on the machine's server, the machine's mariadb-install-db and mariadbd.
 */
export async function ownMariadb(): Promise<OwnedStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'drill-mariadb-'));
  const datadir = path.join(dir, 'data');
  const port = await freePort();
  // `--user=root`: the drill may run as root, which mariadbd refuses unless told; the files stay the drill's own.
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db']);
  return ownedStore({ DB_HOST: '127.0.0.1', DB_PORT: String(port) }, async () => {
    const server = startProcess('drill-mariadb', 'mariadbd', [
      '--no-defaults', `--datadir=${datadir}`, '--user=root', `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${path.join(dir, 'mariadb.sock')}`, `--pid-file=${path.join(dir, 'mariadb.pid')}`, '--max-connections=300',
    ], { logFile: path.join(dir, 'mariadb.log') });
    const died = failOnExit(server);
    died.catch(() => undefined); // a later death (the drill's kill -9) is no start-up failure
    await Promise.race([waitUntil(`MariaDB on :${port}`, () => answers(port), 60_000, 50), died]);
    return server;
  }, () => rmSync(dir, { recursive: true, force: true }));
}
