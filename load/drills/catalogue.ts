/** The drills: one fault each, struck in the opening second of a real sale through the edge (see ../../README.md, Faults). */
import { freePort, startProcess, waitUntil, portOpen, type Managed } from '@flash/stack';
import type { BenchStack } from '../bench/stack';
import { killDatabaseConnections, kill, loseRedisKeys, restarted } from './faults';
import { saleDrill, type DrillResult } from './sale-drill';
import { ownMariadb } from './mariadb';
import { clockBoundary } from './clock-boundary';

export interface Drill {
  name: string;
  /** What the drill does, for the table and `npm run drill` without a name. */
  faults: string;
  /** A stack of its own with these settings (drills with the same settings share one). */
  settings?: Record<string, string>;
  /** A store the stack runs on that the drill owns (a Redis it restarts): started before the stack, stopped after. */
  owns?: () => Promise<OwnedStore>;
  run(stack: BenchStack, owned?: OwnedStore): Promise<DrillResult>;
}

/** A store of the drill's own: the stack's settings to use it, a crash and restart of it, its removal. */
export interface OwnedStore {
  settings: Record<string, string>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** kill -9 of a process in the stack; the fault is over when the supervisor's restart answers. */
const killed = (name: string) => async (stack: BenchStack) => {
  const pid = kill(stack, name);
  await restarted(stack, name, pid);
  return Date.now();
};

/** A Redis of the drill's own on a free port, keeping nothing on disk (the machine's shared Redis is never touched). */
async function ownRedis(): Promise<OwnedStore> {
  const port = await freePort();
  const start = async () => {
    const server = startProcess('drill-redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await waitUntil(`Redis on :${port}`, () => portOpen(port), 10_000, 20);
    return server;
  };
  let server: Managed = await start();
  return {
    settings: { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port) },
    async restart() {
      process.kill(server.child.pid!, 'SIGKILL');
      await server.exited;
      server = await start();
    },
    stop: () => server.stop(),
  };
}

export const DRILLS: Drill[] = [
  {
    name: 'purchase-kill',
    faults: 'kill -9 purchase-service 0.3 s after the opening; the supervisor restarts it',
    run: (stack) => saleDrill(stack, 'purchase-kill', 'kill -9 purchase-service', { fault: killed('purchase-service') }),
  },
  {
    name: 'purchase-dapr-kill',
    faults: "kill -9 purchase-service's daprd 0.3 s after the opening; the supervisor restarts it",
    run: (stack) => saleDrill(stack, 'purchase-dapr-kill', "kill -9 purchase-service's daprd", { fault: killed('purchase-service daprd') }),
  },
  {
    name: 'replica-kill',
    faults: 'two purchase-service replicas, one killed with kill -9 0.3 s after the opening; the other keeps selling',
    settings: { PURCHASE_REPLICAS: '2' },
    run: (stack) => saleDrill(stack, 'replica-kill', 'kill -9 one of two purchase-service replicas', {
      // The fault is over at once: the other replica sells on without waiting for the restart.
      fault: async (s) => (kill(s, 'purchase-service #2'), Date.now()),
    }),
  },
  {
    name: 'redis-loss',
    faults: "every key of the stack in Redis deleted 0.3 s after the opening (what a restart without persistence leaves)",
    run: (stack) => saleDrill(stack, 'redis-loss', 'Redis loses every key', { fault: async (s) => (await loseRedisKeys(s), Date.now()) }),
  },
  {
    name: 'redis-restart',
    faults: 'the Redis the stack runs on (the drill’s own, on its own port) killed and started again empty 0.3 s after the opening',
    owns: ownRedis,
    run: (stack, redis) => saleDrill(stack, 'redis-restart', 'Redis killed and restarted empty', {
      fault: async () => (await redis!.restart(), Date.now()),
    }),
  },
  {
    name: 'db-connections',
    faults: "MariaDB kills every connection of purchase-service's database user (KILL CONNECTION) 0.3 s after the opening",
    run: (stack) => saleDrill(stack, 'db-connections', 'KILL CONNECTION of purchase-service', {
      fault: async (s) => (await killDatabaseConnections(s, 'purchase-service'), Date.now()),
    }),
  },
  {
    name: 'mariadb-restart',
    faults: 'the MariaDB the stack runs on (the drill’s own, on its own port) killed with kill -9 and started again 0.3 s after the opening',
    owns: ownMariadb,
    run: (stack, mariadb) => saleDrill(stack, 'mariadb-restart', 'MariaDB killed and restarted', {
      fault: async () => (await mariadb!.restart(), Date.now()),
    }),
  },
  {
    name: 'clock-boundary',
    faults: 'attempts 50 ms either side of a 3 s sale’s startsAt and endsAt; 100 payments sent at their 1 s hold’s expiry instant (±40 ms)',
    run: (stack) => clockBoundary(stack, 'clock-boundary', 'attempts at startsAt/endsAt ± 50 ms; payments racing hold expiry'),
  },
];
