/**
 * The faults a drill injects into a running stack, and the waits for its recovery. Processes are found as the bench
 * finds them (by the stack's run directory); the stack's supervisor restarts what is killed.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { deleteRedisKeys, heldMark, httpOk, mysqlServerFromEnv, redisClient, STACK_SERVICES, waitUntil } from '@flash/stack';
import type { BenchStack } from '../bench/stack';

export type ServiceName = `${(typeof STACK_SERVICES)[number]}-service`;

/** A service's process (`purchase-service`), its sidecar (`purchase-service daprd`), a replica (`… #2`). */
function pidOf(stack: BenchStack, name: string): number | undefined {
  return stack.processes().find((p) => p.name === name)?.pid;
}

/** Ports of replica `replica` (0 = the first) of a service, as scripts/start.ts lays them out. */


/** Sends `signal` to one process of the stack; resolves its pid. */
function signal(stack: BenchStack, name: string, signal: NodeJS.Signals): number {
  const pid = pidOf(stack, name);
  if (!pid) throw new Error(`no process named ${name} in the stack: ${stack.processes().map((p) => p.name).join(', ')}`);
  process.kill(pid, signal);
  return pid;
}

/** kill -9 of one process of the stack; resolves the pid killed. */
export const kill = (stack: BenchStack, name: string): number => signal(stack, name, 'SIGKILL');

/** Waits until the supervisor has started `name` again (another pid) and it answers: a service its /readyz, a sidecar its health. */
export async function restarted(stack: BenchStack, name: string, killedPid: number, timeoutMs = 60_000): Promise<void> {
  await waitUntil(`${name} to be restarted`, async () => (pidOf(stack, name) ?? killedPid) !== killedPid, timeoutMs, 50);
  const [service, replicaTag] = name.replace(' daprd', '').split(' #') as [ServiceName, string | undefined];
  const ports = stack.ports(service, replicaTag ? Number(replicaTag) - 1 : 0);
  const url = name.includes('daprd') ? `http://127.0.0.1:${ports.dapr.http}/v1.0/healthz` : `http://127.0.0.1:${ports.app}/readyz`;
  await waitUntil(`${name} to answer again`, () => httpOk(url), timeoutMs, 50);
}

/**
 * kill -9 of a service's process (its sidecar stays up), kept down for `ms` as Kubernetes keeps a crash-looping
 * container in back-off (the supervisor waits while its heldMark exists), then restarted; resolves when it answers.
 */
export async function killedAndHeld(stack: BenchStack, name: ServiceName, ms: number): Promise<number> {
  const held = heldMark(stack.runDir, name);
  mkdirSync(path.dirname(held), { recursive: true });
  writeFileSync(held, '');
  try {
    const pid = kill(stack, name);
    await new Promise((resolve) => setTimeout(resolve, ms));
    rmSync(held);
    await restarted(stack, name, pid);
  } finally {
    rmSync(held, { force: true });
  }
  return Date.now();
}

/** Everything the stack keeps in Redis is gone (state keys, topic streams), as a Redis restart without persistence leaves it. */
export async function loseRedisKeys(stack: BenchStack): Promise<number> {
  return deleteRedisKeys(`${stack.id}*`);
}

/** KILL CONNECTION for every connection the service's database user has open: MariaDB drops them mid-query. */
export async function killDatabaseConnections(stack: BenchStack, service: ServiceName): Promise<number> {
  const user = `${stack.id}_${service.replace('-service', '')}`;
  const connection = await mysql.createConnection(mysqlServerFromEnv(stack.database));
  try {
    const [rows] = await connection.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
    const ids = (rows as { id: number }[]).map((r) => r.id);
    for (const id of ids) await connection.query(`KILL CONNECTION ${Number(id)}`).catch(() => undefined);
    return ids.length;
  } finally {
    await connection.end();
  }
}

/** SIGSTOP of processes of the stack for `ms`, then SIGCONT: frozen, as a hung or partitioned pod is; resolves when resumed. */
export async function frozen(stack: BenchStack, names: string[], ms: number): Promise<number> {
  const pids = names.map((name) => signal(stack, name, 'SIGSTOP'));
  try {
    await new Promise((resolve) => setTimeout(resolve, ms));
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
  return Date.now();
}

/** A stream entry as Redis gives it: its id and its fields (name, value, name, value …). */
type StreamEntry = [id: string, fields: string[]];

/** The Redis stream of a topic of the stack: Dapr's Redis pub/sub keeps one per topic, named as the topic. */
const topicStream = (stack: BenchStack, topic: string) => `${stack.env.TOPIC_PREFIX}-${topic}`;

/** Waits until the topic's stream holds at least `count` entries (events published) and resolves them. */
export async function published(stack: BenchStack, topic: string, count: number, timeoutMs = 30_000): Promise<StreamEntry[]> {
  const redis = redisClient();
  try {
    let entries: StreamEntry[] = [];
    await waitUntil(`${count} events on ${topic}`, async () => (entries = (await redis.xrange(topicStream(stack, topic), '-', '+')) as StreamEntry[]).length >= count, timeoutMs, 100);
    return entries;
  } finally {
    redis.disconnect();
  }
}

/**
 * The same events delivered again: each entry added to its stream `copies` times at once, exactly as published (same
 * CloudEvent, same id), as Redis hands a consumer group an entry again after a lost acknowledgement.
 */
export async function redeliver(stack: BenchStack, topic: string, entries: StreamEntry[], copies: number): Promise<void> {
  const redis = redisClient();
  try {
    await Promise.all(entries.flatMap(([, fields]) => Array.from({ length: copies }, () => redis.xadd(topicStream(stack, topic), '*', ...fields))));
  } finally {
    redis.disconnect();
  }
}

/**
 * How many events of `topic` the app's sidecar has handed to its app and the app took (daprd's
 * dapr_component_pubsub_ingress_count with process_status "success"), since the sidecar started.
 */
export async function deliveries(stack: BenchStack, appId: string, topic: string): Promise<number> {
  const sidecar = stack.processes().find((p) => p.name === `${appId} daprd`);
  if (!sidecar?.metricsPort) throw new Error(`no sidecar of ${appId} in the stack`);
  const text = await (await fetch(`http://127.0.0.1:${sidecar.metricsPort}/metrics`)).text();
  return text.split('\n')
    .filter((line) => line.startsWith('dapr_component_pubsub_ingress_count{') && line.includes(`topic="${stack.env.TOPIC_PREFIX}-${topic}"`) && line.includes('process_status="success"'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}
