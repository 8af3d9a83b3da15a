/**
 * The faults a drill injects into a running stack, and the waits for its recovery. Processes are found as the bench
 * finds them (by the stack's run directory); the stack's supervisor restarts what is killed.
 */
import mysql from 'mysql2/promise';
import { deleteRedisKeys, httpOk, mysqlServerFromEnv, STACK_SERVICES, waitUntil } from '@flash/stack';
import type { BenchStack } from '../bench/stack';

export type ServiceName = `${(typeof STACK_SERVICES)[number]}-service`;

/** A service's process (`purchase-service`), its sidecar (`purchase-service daprd`), a replica (`… #2`). */
function pidOf(stack: BenchStack, name: string): number | undefined {
  return stack.processes().find((p) => p.name === name)?.pid;
}

/** Ports of replica `replica` (0 = the first) of a service, as scripts/start.ts lays them out. */
export function portsOf(stack: BenchStack, service: ServiceName, replica = 0): { app: number; daprHttp: number } {
  const i = STACK_SERVICES.indexOf(service.replace('-service', '') as (typeof STACK_SERVICES)[number]);
  return { app: stack.portBase + 1 + i + 10 * replica, daprHttp: stack.portBase + 501 + i + 10 * replica };
}

/** kill -9 of one process of the stack; resolves the pid killed. */
export function kill(stack: BenchStack, name: string): number {
  const pid = pidOf(stack, name);
  if (!pid) throw new Error(`no process named ${name} in the stack: ${stack.processes().map((p) => p.name).join(', ')}`);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** Waits until the supervisor has started `name` again (another pid) and it answers: a service its /readyz, a sidecar its health. */
export async function restarted(stack: BenchStack, name: string, killedPid: number, timeoutMs = 60_000): Promise<void> {
  await waitUntil(`${name} to be restarted`, async () => (pidOf(stack, name) ?? killedPid) !== killedPid, timeoutMs, 50);
  const [service, replicaTag] = name.replace(' daprd', '').split(' #') as [ServiceName, string | undefined];
  const ports = portsOf(stack, service, replicaTag ? Number(replicaTag) - 1 : 0);
  const url = name.includes('daprd') ? `http://127.0.0.1:${ports.daprHttp}/v1.0/healthz` : `http://127.0.0.1:${ports.app}/readyz`;
  await waitUntil(`${name} to answer again`, () => httpOk(url), timeoutMs, 50);
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
