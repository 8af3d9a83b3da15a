import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import type Redis from 'ioredis';
import { redisClient, redisUrl } from './database';
import { startSentry, type Sentry } from './sentry';
import { freeSidecarPorts, startSidecar, type Sidecar, type SidecarPorts } from './sidecar';

/** A short id that keeps one test run's databases, keys, topics and app ids apart from any other run. */
export function testRunId(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

export async function listenOnFreePort(app: Express): Promise<{ port: number; close(): Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * One test run's sidecars: a private run directory (name resolution), a private state key prefix, and a private
 * Sentry, so every sidecar runs with mTLS and the apps' access-control policies apply as in Kubernetes.
 */
export class SidecarRun {
  readonly id = testRunId();
  readonly dir = mkdtempSync(path.join(tmpdir(), `flash-${this.id}-`));
  /** The tokens every sidecar of this run requires from its app (API) and sends to it (app). */
  readonly apiToken = randomBytes(24).toString('base64url');
  readonly appToken = randomBytes(24).toString('base64url');
  private readonly sidecars: Sidecar[] = [];
  private sentry?: Promise<Sentry>;

  /**
   * `accessControl: false` leaves out the app's access-control policy (for tests of Dapr itself that play one of our
   * app ids with other callers).
   */
  async start(appId: string, appPort?: number, ports?: SidecarPorts, options: { accessControl?: boolean } = {}): Promise<Sidecar> {
    this.sentry ??= startSentry(this.dir);
    const sentry = await this.sentry;
    const sidecar = await startSidecar({
      sentry,
      accessControl: options.accessControl,
      appId,
      appPort,
      runDir: this.dir,
      ports: ports ?? (await freeSidecarPorts()),
      redisHost: redisUrl(),
      redisPassword: process.env.REDIS_PASSWORD,
      stateKeyPrefix: this.id,
      topicPrefix: this.id,
      apiToken: this.apiToken,
      appToken: this.appToken,
    });
    this.sidecars.push(sidecar);
    return sidecar;
  }

  /** Stops the sidecars and deletes every Redis key this run made: state keys and topic streams. */
  async stop(): Promise<void> {
    await Promise.all(this.sidecars.map((s) => s.stop()));
    await (await this.sentry?.catch(() => undefined))?.stop();
    await deleteRedisKeys(`${this.id}*`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Deletes the keys matching `pattern` (a Redis SCAN pattern); returns how many there were. */
export async function deleteRedisKeys(pattern: string): Promise<number> {
  return withRedisKeys(pattern, (redis, keys) => (keys.length ? redis.del(...keys) : Promise.resolve(0)));
}

/** Counts the keys matching `pattern`. */
export async function countRedisKeys(pattern: string): Promise<number> {
  return withRedisKeys(pattern, async (_redis, keys) => keys.length);
}

async function withRedisKeys(pattern: string, each: (redis: Redis, keys: string[]) => Promise<number>): Promise<number> {
  const redis = redisClient({ lazyConnect: true });
  await redis.connect();
  try {
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      total += await each(redis, keys);
    } while (cursor !== '0');
    return total;
  } finally {
    redis.disconnect();
  }
}
