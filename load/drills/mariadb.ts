/**
 * A MariaDB of the drill's own: a fresh datadir in a temporary directory, its own port on 127.0.0.1, root with an
 * empty password as on the machine's server, the machine's mariadb-install-db and mariadbd. The machine's shared
 * server (3306) is never touched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { failOnExit, freePort, startProcess, waitUntil, type Managed } from '@flash/stack';
import type { OwnedStore } from './catalogue';

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

export async function ownMariadb(): Promise<OwnedStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'drill-mariadb-'));
  const datadir = path.join(dir, 'data');
  const port = await freePort();
  // `--user=root`: the drill may run as root, which mariadbd refuses unless told; the files stay the drill's own.
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db']);
  const start = async () => {
    const server = startProcess('drill-mariadb', 'mariadbd', [
      '--no-defaults', `--datadir=${datadir}`, '--user=root', `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${path.join(dir, 'mariadb.sock')}`, `--pid-file=${path.join(dir, 'mariadb.pid')}`, '--max-connections=300',
    ], { logFile: path.join(dir, 'mariadb.log') });
    const died = failOnExit(server);
    died.catch(() => undefined); // a later death (the drill's kill -9) is no start-up failure
    await Promise.race([waitUntil(`MariaDB on :${port}`, () => answers(port), 60_000, 50), died]);
    return server;
  };
  let server: Managed = await start();
  return {
    settings: { DB_HOST: '127.0.0.1', DB_PORT: String(port) },
    async restart() {
      process.kill(server.child.pid!, 'SIGKILL');
      await server.exited;
      server = await start();
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
