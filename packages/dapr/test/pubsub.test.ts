import { buildService, createLogger, OpenAPIRegistry } from '@flash/http';
import { freeSidecarPorts, listenOnFreePort, SidecarRun, waitUntil } from '@flash/stack';
import { Dapr, subscriptionRouter, type DeliveredEvent, type Subscription } from '../src';

describe('pub/sub through a real daprd and Redis Streams', () => {
  const run = new SidecarRun();
  const received: Record<string, DeliveredEvent<{ n: number }>[]> = { steady: [], flaky: [], poison: [], 'poison-dead': [] };
  const failedOnce = new Set<number>();
  const record = (topic: string) => async (event: DeliveredEvent<unknown>) => {
    received[topic]!.push(event as DeliveredEvent<{ n: number }>);
  };
  const subscriptions: Subscription[] = [
    { topic: 'steady', deadLetterTopic: 'steady-dead', handle: record('steady') },
    {
      topic: 'flaky',
      deadLetterTopic: 'flaky-dead',
      handle: async (event) => {
        await record('flaky')(event);
        const { n } = event.data as { n: number };
        if (!failedOnce.has(n)) {
          failedOnce.add(n);
          throw new Error('transient failure');
        }
      },
    },
    {
      topic: 'poison',
      deadLetterTopic: 'poison-dead',
      handle: async (event) => {
        await record('poison')(event);
        throw new Error('cannot ever process this');
      },
    },
    { topic: 'poison-dead', deadLetterTopic: 'poison-dead-dead', handle: record('poison-dead') },
  ];
  let dapr: Dapr;
  let app: Awaited<ReturnType<typeof listenOnFreePort>>;

  beforeAll(async () => {
    const ports = await freeSidecarPorts();
    dapr = new Dapr({ httpPort: ports.http, topicPrefix: run.id, apiToken: run.apiToken });
    // The service kit's own app, so events arrive through the same body parsing and routing as in a service.
    const logger = createLogger(`${run.id}-events`, 'silent');
    const { app: web } = buildService({
      name: `${run.id}-events`, logLevel: 'silent', logger, docs: new OpenAPIRegistry(), readiness: {},
      routers: [subscriptionRouter(dapr, 'pubsub', subscriptions, logger)],
    });
    app = await listenOnFreePort(web);
    await run.start(`${run.id}-events`, app.port, ports);
    // Subscriptions load once daprd has found the app; wait until an event gets through.
    await waitUntil('subscriptions', async () => {
      await dapr.publish('pubsub', 'steady', { n: -1 });
      return received.steady!.length > 0;
    }, 30_000, 1000);
  });
  afterAll(async () => {
    await run.stop();
    await app.close();
  });

  it('when an event is published, then the subscriber receives its data once', async () => {
    await dapr.publish('pubsub', 'steady', { n: 1 });
    await waitUntil('delivery', async () => received.steady!.some((e) => e.data.n === 1));
    expect(received.steady!.filter((e) => e.data.n === 1)).toHaveLength(1);
    expect(received.steady!.find((e) => e.data.n === 1)!.topic).toBe(`${run.id}-steady`);
  });

  it('when a subscriber fails once, then the same event is delivered again', async () => {
    await dapr.publish('pubsub', 'flaky', { n: 7 });
    await waitUntil('redelivery', async () => received.flaky!.filter((e) => e.data.n === 7).length >= 2, 20_000);
    const deliveries = received.flaky!.filter((e) => e.data.n === 7);
    expect(new Set(deliveries.map((e) => e.id)).size).toBe(1);
  });

  it('when an event can never be processed, then it ends in the dead-letter topic', async () => {
    await dapr.publish('pubsub', 'poison', { n: 13 });
    await waitUntil('dead letter', async () => received['poison-dead']!.some((e) => e.data.n === 13), 45_000, 500);
    // Delivered once plus the inbound retries of resiliency.yaml (maxRetries: 3), then dead-lettered.
    expect(received.poison!.filter((e) => e.data.n === 13).length).toBe(4);
  });
});
