/** The drills: one fault each, struck in the opening second of a real sale through the edge (see ../../README.md, Faults). */
import { PURCHASE_PAID_TOPIC } from '@flash/events';
import { apiClient, succeeded, waitUntil } from '@flash/stack';
import { log, sleep } from '../bench/report';
import type { BenchStack } from '../bench/stack';
import { deliveries, frozen, killDatabaseConnections, kill, killedAndHeld, loseRedisKeys, published, redeliver, restarted } from './faults';
import type { Attempt } from './crowd';
import { paid } from './outcome';
import { saleDrill, type DrillResult } from './sale-drill';
import { ownMariadb, ownRedis, type OwnedStore } from './stores';
import { clockBoundary } from './clock-boundary';
import { walkAway } from './walk-away';

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


/** kill -9 of processes in the stack at once; the fault is over when the supervisor's restarts all answer. */
const killed = (...names: string[]) => async (stack: BenchStack) => {
  const pids = names.map((name) => kill(stack, name));
  await Promise.all(names.map((name, i) => restarted(stack, name, pids[i]!)));
  return Date.now();
};

/** The simulated provider of the payment-faults drill: half of the charges declined, a tenth never answered. */
const FAILING_PROVIDER = { PAYMENT_FAILURE_RATE: '0.5', PAYMENT_TIMEOUT_RATE: '0.1' };


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
    name: 'pay-kill',
    faults: 'kill -9 product-service, order-service and their daprd 0.7 s after the opening, while buyers who hold pay; the supervisor restarts them',
    run: (stack) => saleDrill(stack, 'pay-kill', 'kill -9 product-service, order-service and their sidecars', {
      pays: true,
      faultAtMs: 700,
      fault: killed('product-service', 'product-service daprd', 'order-service', 'order-service daprd'),
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
    name: 'order-consumer-down',
    // Frozen rather than killed: a crash and restart is pay-kill; a hung or partitioned consumer keeps the events it
    // had taken (pending in its consumer group) and makes callers wait rather than fail fast.
    faults: 'order-service and its daprd frozen (SIGSTOP) for 60 s from 0.3 s after the opening, while buyers pay; then SIGCONT',
    run: (stack) => saleDrill(stack, 'order-consumer-down', 'order-service and its sidecar frozen for 60 s', {
      pays: true,
      fault: (s) => frozen(s, ['order-service', 'order-service daprd'], 60_000),
    }),
  },
  {
    name: 'order-app-down',
    // The common crash in a pod: the app's container dies and is held in back-off while its daprd container runs on
    // and keeps delivering events to it.
    faults: "kill -9 order-service's app (its daprd stays up), held down for 20 s from 0.3 s after the opening, while buyers pay",
    run: (stack) => saleDrill(stack, 'order-app-down', "order-service's app killed, down 20 s, sidecar up", {
      pays: true,
      fault: (s) => killedAndHeld(s, 'order-service', 20_000),
    }),
  },
  {
    name: 'duplicate-events',
    faults: 'the first 20 purchase-paid events added to their stream twice at once while buyers pay, then each once more 3 s later; afterwards 10 buyers cancel and their events come again',
    run: duplicateEvents,
  },
  {
    name: 'payment-faults',
    faults: 'the payment provider declines 50% of charges and never answers 10% (past PAYMENT_TIMEOUT_MS) throughout the sale',
    settings: FAILING_PROVIDER,
    run: (stack) => saleDrill(stack, 'payment-faults', 'provider: 50% declined, 10% no answer', {
      pays: true,
      // The fault lasts the whole sale: it is over for the last buyer once that buyer's first charge has had its
      // answer or its timeout (the opening second, a hold, PAYMENT_TIMEOUT_MS).
      fault: async () => Date.now() + 1_000 + Number(stack.env.PAYMENT_TIMEOUT_MS ?? 3_000),
    }),
  },
  {
    name: 'pay-walk-away',
    // Half the charges land without their answer: the kill meets payments that charged and wait, as a provider that
    // answers slowly would leave them.
    faults: 'kill -9 purchase-service 0.7 s after the opening while buyers who hold pay and the provider leaves half the charges unanswered (they land); a buyer whose payment gets no answer walks away (5 s holds)',
    settings: { PAYMENT_TIMEOUT_RATE: '0.5' },
    run: (stack) => walkAway(stack, 'pay-walk-away', 'kill -9 purchase-service while buyers pay; no retry after a lost answer'),
  },
  {
    name: 'clock-boundary',
    faults: 'attempts 50 ms either side of a 3 s sale’s startsAt and endsAt; 100 payments sent at their 1 s hold’s expiry instant (±40 ms)',
    run: (stack) => clockBoundary(stack, 'clock-boundary', 'attempts at startsAt/endsAt ± 50 ms; payments racing hold expiry'),
  },
];

/** Copies of purchase-paid events on their stream, twice at once and once more later; each must reach order-service. */
async function duplicateEvents(stack: BenchStack): Promise<DrillResult> {
  const copies = { first: 20, atOnce: 2, later: 1 };
  const before = await deliveries(stack, 'order-service', PURCHASE_PAID_TOPIC);
  return saleDrill(stack, 'duplicate-events', 'purchase-paid delivered twice at once, then again, then late after 10 cancellations', {
    pays: true,
    fault: async (s) => {
      const first = (await published(s, PURCHASE_PAID_TOPIC, copies.first)).slice(0, copies.first);
      await redeliver(s, PURCHASE_PAID_TOPIC, first, copies.atOnce);
      await sleep(3_000);
      await redeliver(s, PURCHASE_PAID_TOPIC, first, copies.later);
      return Date.now();
    },
    // The copies really reached the consumer (and were taken), so one order each is not for want of a duplicate.
    after: async (s, attempts, sale) => {
      const expected = attempts.filter(paid).length + copies.first * (copies.atOnce + copies.later);
      const delivered = (await deliveries(s, 'order-service', PURCHASE_PAID_TOPIC)) - before;
      return [
        ...(delivered >= expected ? [] : [`order-service took ${delivered} purchase-paid deliveries, fewer than the ${expected} events and copies`]),
        ...(await redeliveredAfterCancel(s, attempts, sale)),
      ];
    },
  });
}

/**
 * Out of order: 10 buyers cancel their orders, then their purchase-paid events arrive again. Each order stays one and
 * cancelled, its money is refunded once (standing falls by exactly those orders) and its unit is back in the sale.
 */
async function redeliveredAfterCancel(stack: BenchStack, attempts: Attempt[], sale: { id: string; price: number }): Promise<string[]> {
  const failures: string[] = [];
  const cancelling = attempts.filter(paid).slice(0, 10);
  const standingBefore = (await stack.moneyInvariant({ saleId: sale.id })).standing;
  const orderOf = (a: Attempt) => apiClient(stack.base, { token: a.token });
  for (const a of cancelling) {
    const { response } = await orderOf(a).POST('/api/orders/{id}/cancel', { params: { path: { id: a.payment!.final!.orderId! } } });
    if (response.status !== 200) failures.push(`cancelling order ${a.payment!.final!.orderId} answered ${response.status}`);
  }
  const ids = new Set(cancelling.map((a) => a.final!.purchaseId!));
  const entries = (await published(stack, PURCHASE_PAID_TOPIC, 1)).filter(([, fields]) => [...ids].some((id) => fields.join(' ').includes(id)));
  const before = await deliveries(stack, 'order-service', PURCHASE_PAID_TOPIC);
  await redeliver(stack, PURCHASE_PAID_TOPIC, entries, 1);
  await waitUntil('the late events taken', async () => (await deliveries(stack, 'order-service', PURCHASE_PAID_TOPIC)) - before >= entries.length, 20_000, 200)
    .catch(() => failures.push(`order-service did not take the ${entries.length} late purchase-paid events`));
  for (const a of cancelling) {
    const mine = (await succeeded(orderOf(a).GET('/api/orders'))).items.filter((o) => o.items.some((i) => i.saleId === sale.id));
    if (mine.length !== 1 || mine[0]!.status !== 'CANCELLED') failures.push(`after a late purchase-paid, a cancelling buyer has ${mine.map((o) => o.status).join(', ') || 'no orders'}`);
  }
  const money = await stack.moneyInvariant({ saleId: sale.id });
  if (!money.consistent || money.standing !== standingBefore - cancelling.length * sale.price) {
    failures.push(`after ${cancelling.length} cancellations and their late events, money ${JSON.stringify(money)} (standing was ${standingBefore})`);
  }
  log(`duplicate-events: ${cancelling.length} orders cancelled, ${entries.length} late purchase-paid events delivered again; standing ${standingBefore} → ${money.standing}`);
  const invariant = await stack.saleInvariant(sale.id);
  if (!invariant.consistent || invariant.ledger.sold !== attempts.filter(paid).length - cancelling.length) {
    failures.push(`after the cancellations, the sale's ledger is ${JSON.stringify(invariant.ledger)} (consistent: ${invariant.consistent})`);
  }
  return failures;
}
