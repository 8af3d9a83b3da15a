import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  apiCall, deleteRedisKeys, dropDatabase, freePorts, mysqlServerFromEnv, privateStackEnv, promQuery, signUpShopper, startLocalStack,
  STACK_SERVICES, testRunId, waitUntil,
} from '@flash/stack';
import { alertRules, panelQueries } from './support/sre-view';

/** Alerts whose series cannot exist on a healthy local stack, and why; promtool's unit tests cover them instead. */
const NOT_LOCAL: Record<string, string> = {
  DaprSidecarRestarting: 'kube-state-metrics runs in a cluster, not here',
  FlashSaleEventsDeadLettered: 'a series appears with the first dead-lettered event',
};
/** An alert's query is its expression without the threshold it compares against. */
const withoutThreshold = (expr: string) => expr.trim().replace(/\s*(>=|<=|==|!=|>|<)\s*[0-9.]+$/, '');

/** `npm start -- --observe`, a short burst of shopping, then every query an SRE would run during a sale. */
describe('npm start -- --observe: Prometheus on the running stack', () => {
  const id = testRunId();
  const runDir = mkdtempSync(path.join(tmpdir(), `flash-observe-${id}-`));
  let stack: ReturnType<typeof startLocalStack>;
  let env: Record<string, string>;
  let prometheus: string;

  beforeAll(async () => {
    const [prometheusPort] = await freePorts(1);
    env = { ...(await privateStackEnv(id, runDir)), PROMETHEUS_PORT: String(prometheusPort) } as Record<string, string>;
    prometheus = `http://127.0.0.1:${prometheusPort}`;
    stack = startLocalStack('npm', ['start', '--', '--observe'], env);
    await stack.ready;
  }, 240_000);

  afterAll(async () => {
    if (stack?.child.exitCode === null) {
      stack.child.kill('SIGTERM');
      await new Promise((resolve) => stack.child.once('exit', resolve));
    }
    // npm exits at once; the orchestrator then stops its processes and removes its pid file last. Keys deleted before
    // that would be made again by a sidecar still reading its topics (an empty stream with its consumer group).
    await waitUntil('the stack stopped', async () => !existsSync(path.join(runDir, 'pids.json')), 30_000).catch(() => undefined);
    for (const s of STACK_SERVICES) await dropDatabase(mysqlServerFromEnv(), `${id}_${s}`);
    await deleteRedisKeys(`${id}*`);
    rmSync(runDir, { recursive: true, force: true });
  }, 60_000);

  it('when a short burst of shopping has run, then every service and sidecar is scraped, the alert rules are loaded, and every panel and alert query returns series', async () => {
    expect(stack.output()).toContain(`Prometheus      ${prometheus}`);
    const targets = async () => ((await (await fetch(`${prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } }).data.activeTargets;
    await waitUntil('every target up', async () => (await targets()).filter((t) => t.health === 'up').length === 2 * STACK_SERVICES.length, 30_000);
    expect((await targets()).map((t) => t.labels.job).sort()).toEqual([...Array(4).fill('dapr'), ...Array(4).fill('services')]);
    const loaded = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string }[] }[] } };
    expect(loaded.data.groups.flatMap((g) => g.rules.map((r) => r.name)).sort()).toEqual(alertRules.map((r) => r.alert).sort());

    // The burst: a flash purchase paid (an order through pub/sub), refusals, a regular checkout cancelled (a refund).
    const api = `http://127.0.0.1:${env.EDGE_PORT}`;
    const { accessToken: token } = await signUpShopper(api, `http://127.0.0.1:${env.MAIL_WEB_PORT}`, {
      name: 'Observer', email: `observer-${id}@example.test`, password: 'Observe!pass1', phone: '010-1234-5678', address: 'Seoul',
    });
    const [sale] = (await apiCall(api, '/api/flash-sales')).body.items;
    const buy = (key: string) => apiCall(api, `/api/flash-sales/${sale.id}/purchases`, { method: 'POST', token, headers: { 'idempotency-key': `${id}-${key}` } });
    const held = await buy('first');
    expect(held.status).toBe(201);
    expect((await apiCall(api, `/api/purchases/${held.body.purchaseId}/payment`, { method: 'POST', token, body: {} })).status).toBe(200);
    const refusals = await Promise.all(Array.from({ length: 10 }, (_, i) => buy(`again-${i}`)));
    // The per-buyer limit: 409 LIMIT_REACHED, or 429 while another of the buyer's attempts holds the slot.
    expect(refusals.every((r) => r.status === 409 || r.status === 429) && refusals.some((r) => r.status === 409)).toBe(true);
    const [product] = (await apiCall(api, '/api/products')).body.items;
    const order = await apiCall(api, '/api/orders', { method: 'POST', token, body: { items: [{ productId: product.id, quantity: 1 }] } });
    expect(order.status).toBe(201);
    expect((await apiCall(api, `/api/orders/${order.body.id}/cancel`, { method: 'POST', token })).status).toBe(200);

    const queries = [
      ...panelQueries,
      ...alertRules.filter((r) => !NOT_LOCAL[r.alert]).map((r) => ({ where: `alert ${r.alert}`, expr: withoutThreshold(r.expr) })),
    ];
    // A rate needs two scrapes after a counter's first increment: give every query up to 30 s.
    const empty = new Set(queries.map((q) => q.where));
    await waitUntil('every query returns series', async () => {
      for (const q of queries) if (empty.has(q.where) && (await promQuery(prometheus, q.expr)).length > 0) empty.delete(q.where);
      return empty.size === 0;
    }, 30_000, 1000).catch(() => undefined);
    expect([...empty]).toEqual([]);
    expect(queries.length).toBe(panelQueries.length + alertRules.length - Object.keys(NOT_LOCAL).length);

    // Healthy: every event of the burst published, and every stock it changed passed its audit (2 s after, once quiet).
    await sleep(3000);
    const values = async (expr: string) => (await promQuery(prometheus, expr)).map((s) => `${s.metric.service}${s.metric.check ? ` ${s.metric.check}` : ''}: ${s.value[1]}`).sort();
    expect(await values('max by (service) (outbox_oldest_pending_seconds) > 5')).toEqual([]);
    expect(await values('stock_invariant_breaches')).toEqual([
      'product-service counter: 0', 'purchase-service counter: 0', 'purchase-service ledger: 0',
    ]);
  }, 180_000);
});
