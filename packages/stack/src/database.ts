import Redis, { type RedisOptions } from 'ioredis';
import mysql from 'mysql2/promise';

export interface MysqlServer {
  host: string;
  port: number;
  user: string;
  password: string;
}

export function mysqlServerFromEnv(env: NodeJS.ProcessEnv = process.env): MysqlServer {
  return {
    host: env.DB_HOST ?? '127.0.0.1',
    port: Number(env.DB_PORT ?? 3306),
    user: env.DB_USER ?? 'root',
    password: env.DB_PASSWORD ?? '',
  };
}

/** The machine's Redis as `host:port`, the form the sidecars' REDIS_HOST takes. */
export const redisUrl = (env: NodeJS.ProcessEnv = process.env) => `${env.REDIS_HOST ?? '127.0.0.1'}:${env.REDIS_PORT ?? 6379}`;

/** A client of the machine's Redis (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD). */
export function redisClient(options: RedisOptions = {}): Redis {
  const [host, port] = redisUrl().split(':');
  return new Redis({ host, port: Number(port), password: process.env.REDIS_PASSWORD || undefined, ...options });
}

const safeName = (name: string) => {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unsafe database name: ${name}`);
  return name;
};

async function withServer<T>(server: MysqlServer, work: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ ...server });
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}

export async function createDatabase(server: MysqlServer, name: string): Promise<void> {
  await withServer(server, (c) => c.query(`CREATE DATABASE IF NOT EXISTS \`${safeName(name)}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`));
}

/**
 * A service's own database and its own user (named like the database), with rights on that database and nothing
 * else: a compromised service cannot read another's data. The password is (re)set to `password`.
 */
export async function createServiceDatabase(server: MysqlServer, name: string, password: string): Promise<{ user: string; password: string }> {
  await createDatabase(server, name);
  await withServer(server, async (c) => {
    await c.query(`CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?`, [safeName(name), password]);
    await c.query(`ALTER USER ?@'%' IDENTIFIED BY ?`, [name, password]);
    await c.query(`GRANT ALL PRIVILEGES ON \`${name}\`.* TO ?@'%'`, [name]);
  });
  return { user: name, password };
}

/** Drops the database and its service user, if any. */
export async function dropDatabase(server: MysqlServer, name: string): Promise<void> {
  await withServer(server, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS \`${safeName(name)}\``);
    await c.query(`DROP USER IF EXISTS ?@'%'`, [name]);
  });
}
