import { buildService, createLogger, OpenAPIRegistry } from '@flash/http';
import { freeSidecarPorts, listenOnFreePort, redisClient, SidecarRun, waitUntil } from '@flash/stack';
import { Dapr, EventRefused, subscriptionRouter, type DeliveredEvent, type Subscription } from '../src';

describe('pub/sub through a real daprd and Redis Streams', () => {
  const run = new SidecarRun();
  const received: Record<string, DeliveredEvent<{ n: number }>[]> = { steady: [], flaky: [], down: [], refused: [] };
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
      // An app that fails every delivery for a while (down, restarting), longer than Dapr's retries last.
      topic: 'down',
      deadLetterTopic: 'down-dead',
      handle: async (event) => {
        await record('down')(event);
        if (received.down!.length <= 9) throw new Error('not available yet');
      },
    },
    {
      topic: 'refused',
      deadLetterTopic: 'refused-dead',
      handle: async (event) => {
        await record('refused')(event);
        throw new EventRefused('about nothing that exists');
      },
    },
  ];
  let dapr: Dapr;
  let app: Awaited<ReturnType<typeof listenOnFreePort>>;
  /** How many events went to a dead-letter topic (its Redis stream's length). */
  const deadLetters = async (topic: string) => {
    const redis = redisClient();
    try {
      return await redis.xlen(`${run.id}-${topic}`);
    } finally {
      redis.disconnect();
    }
  };

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

  it('when several events are published in one call, then the subscriber receives each once, as published', async () => {
    const events = Array.from({ length: 20 }, (_, i) => ({ n: 100 + i }));
    expect(await dapr.publishMany('pubsub', 'steady', events)).toEqual([]);
    const of = (n: number) => received.steady!.filter((e) => e.data.n === n);
    await waitUntil('all delivered', async () => events.every(({ n }) => of(n).length > 0));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const { n } of events) expect(of(n).map((e) => [e.data, e.topic])).toEqual([[{ n }, `${run.id}-steady`]]);
  });

  it('when a bulk publish cannot be published, then every event is reported as not published', async () => {
    expect(await dapr.publishMany('no-such-pubsub', 'steady', [{ n: 200 }, { n: 201 }])).toEqual([0, 1]);
  });

  it('when a subscriber fails once, then the same event is delivered again', async () => {
    await dapr.publish('pubsub', 'flaky', { n: 7 });
    await waitUntil('redelivery', async () => received.flaky!.filter((e) => e.data.n === 7).length >= 2, 20_000);
    const deliveries = received.flaky!.filter((e) => e.data.n === 7);
    expect(new Set(deliveries.map((e) => e.id)).size).toBe(1);
  });

  it('when deliveries fail for longer than the retries last, then the event comes round again through its dead-letter topic until it is handled, once', async () => {
    await dapr.publish('pubsub', 'down', { n: 13 });
    await waitUntil('handled', async () => received.down!.length >= 10, 60_000, 250);
    // Delivered once plus the inbound retries of resiliency.yaml (maxRetries: 3), then dead-lettered; its dead letter
    // (the same envelope) is delivered to the same handler, and dead-lettered to itself again while it fails, until it
    // succeeds on the 10th delivery (the second time round). Then it does not come round again.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(received.down).toHaveLength(10);
    expect(new Set(received.down!.map((e) => e.id)).size).toBe(1);
    expect(await deadLetters('down-dead')).toBe(2);
  });

  it('when an event is refused, then it is dead-lettered, refused once more from there and dropped', async () => {
    await dapr.publish('pubsub', 'refused', { n: 21 });
    await waitUntil('refused twice', async () => received.refused!.length >= 2, 30_000, 250);
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(received.refused).toHaveLength(2);
    expect(await deadLetters('refused-dead')).toBe(1);
  });
});
