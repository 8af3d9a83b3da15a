/**
 * The @dapr/dapr behaviours our package works around, each pinned against a real daprd: when an SDK upgrade changes
 * one, the test that describes it fails (and the workaround can be revisited) instead of a sale overselling.
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { DaprClient, CommunicationProtocolEnum, HttpMethod, LogLevel, StateConcurrencyEnum, StateConsistencyEnum } from '@dapr/dapr';
import { AppError } from '@flash/http';
import { freePort, freeSidecarPorts, listenOnFreePort, SidecarRun, type Sidecar } from '@flash/stack';
import { ConcurrencyConflictError, Dapr, SidecarError } from '../src';

const quiet = { level: LogLevel.Error, service: { error() {}, warn() {}, info() {}, verbose() {}, debug() {} } };
const sdkOver = (sidecar: Sidecar, apiToken: string) =>
  new DaprClient({ daprHost: '127.0.0.1', daprPort: String(sidecar.ports.http), communicationProtocol: CommunicationProtocolEnum.HTTP, daprApiToken: apiToken, logger: quiet });
const statusOf = (error: unknown) => (JSON.parse((error as Error).message) as { status: number; error_msg: string });

describe('@dapr/dapr quirks against a real daprd', () => {
  const run = new SidecarRun();
  let sidecar: Sidecar;
  let sdk: DaprClient;
  let dapr: Dapr;
  let callee: Awaited<ReturnType<typeof listenOnFreePort>>;

  beforeAll(async () => {
    const web = express();
    web.get('/gone', (_req, res) => void res.status(404).end());
    web.get('/slow', (_req, res) => void setTimeout(() => res.json({ late: true }), 1500));
    callee = await listenOnFreePort(web);
    await run.start(`${run.id}-callee`, callee.port);
    sidecar = await run.start(`${run.id}-quirks`);
    sdk = sdkOver(sidecar, run.apiToken);
    await sdk.start();
    dapr = new Dapr({ httpPort: sidecar.ports.http, apiToken: run.apiToken });
    await dapr.start();
  });
  afterAll(async () => {
    await dapr.close();
    await run.stop();
    await callee.close();
  });

  it('when the SDK reads one key over HTTP, then it returns the bare value without its ETag (we read it in bulk)', async () => {
    await sdk.state.save('statestore', [{ key: 'get-etag', value: { n: 1 } }]);
    expect(await sdk.state.get('statestore', 'get-etag')).toEqual({ n: 1 });
    const [item] = (await sdk.state.getBulk('statestore', ['get-etag'])) as { data: unknown; etag: string }[];
    expect(item).toMatchObject({ data: { n: 1 }, etag: expect.stringMatching(/^\d+$/) });
    expect(await dapr.state('statestore').get('get-etag')).toEqual({ value: { n: 1 }, etag: item!.etag });
  });

  it('when a save carries a stale ETag, then the SDK does not throw but returns the 409 (we raise a conflict)', async () => {
    const store = dapr.state<{ n: number }>('statestore');
    await store.create('stale', { n: 1 });
    const read = await store.get('stale');
    await store.save('stale', { n: 2 }, read!.etag);

    const options = { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE, consistency: StateConsistencyEnum.CONSISTENCY_STRONG };
    const result = await sdk.state.save('statestore', [{ key: 'stale', value: { n: 3 }, etag: read!.etag, options }]);
    expect(statusOf(result.error).status).toBe(409);
    await expect(store.save('stale', { n: 3 }, read!.etag)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect((await store.get('stale'))?.value).toEqual({ n: 2 });
  });

  it('when a delete or a publish fails, then the SDK returns the error instead of throwing it (we throw)', async () => {
    const store = dapr.state<{ n: number }>('statestore');
    await store.create('delete-me', { n: 1 });
    const deleted = await sdk.state.delete('statestore', 'delete-me', { etag: '999', concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } as never);
    expect(statusOf(deleted.error).status).toBe(409);
    await expect(store.delete('delete-me', '999')).rejects.toBeInstanceOf(ConcurrencyConflictError);

    const published = await sdk.pubsub.publish('no-such-pubsub', 'topic', { n: 1 });
    expect(statusOf(published.error).status).toBe(404);
    await expect(dapr.publish('no-such-pubsub', 'topic', { n: 1 })).rejects.toBeInstanceOf(SidecarError);
  });

  it('when the concurrency option is a plain string, then the SDK drops it and a second "create" overwrites (we pass its enum)', async () => {
    const asString = { concurrency: 'first-write' } as never;
    await sdk.state.save('statestore', [{ key: 'string-option', value: { n: 1 }, options: asString }]);
    const again = await sdk.state.save('statestore', [{ key: 'string-option', value: { n: 2 }, options: asString }]);
    expect(again.error).toBeUndefined();
    expect(await sdk.state.get('statestore', 'string-option')).toEqual({ n: 2 });

    const store = dapr.state<{ n: number }>('statestore');
    await store.create('enum-option', { n: 1 });
    await expect(store.create('enum-option', { n: 2 })).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect((await store.get('enum-option'))?.value).toEqual({ n: 1 });
  });

  it('when the callee answers 404 without a body, then the SDK throws an empty error (we answer "none")', async () => {
    const thrown = await sdk.invoker.invoke(`${run.id}-callee`, 'gone', HttpMethod.GET).catch((e: unknown) => e);
    expect(statusOf(thrown)).toEqual(expect.objectContaining({ status: 404, error_msg: '' }));
    const error = await dapr.invoke(`${run.id}-callee`, 'gone').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(await dapr.find(`${run.id}-callee`, 'gone')).toBeUndefined();
  });

  it('when the callee is slow, then the SDK would wait for ever; our deadline answers 503 in time', async () => {
    const impatient = new Dapr({ httpPort: sidecar.ports.http, timeoutMs: 200, apiToken: run.apiToken });
    const began = Date.now();
    const error = await impatient.invoke(`${run.id}-callee`, 'slow').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SidecarError);
    expect(error).toMatchObject({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
    expect(Date.now() - began).toBeLessThan(1000);
    await impatient.close();
  });

  it('when one of several clients closes, then the calls of the others in flight are not cut', async () => {
    const other = new Dapr({ httpPort: sidecar.ports.http, apiToken: run.apiToken });
    const closing = new Dapr({ httpPort: sidecar.ports.http, apiToken: run.apiToken });
    const store = other.state<{ n: number }>('statestore');
    await store.get('warm-up');
    const reads = Array.from({ length: 200 }, (_, i) => store.get(`in-flight-${i}`));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await closing.close();
    await expect(Promise.all(reads)).resolves.toHaveLength(200);
    await other.close();
  });

  it('when a client was never started, then the SDK\'s first call waits for the sidecar; ours answers 503 at once', async () => {
    const port = await freePort();
    const raw = sdkOver({ ports: { http: port } } as Sidecar, run.apiToken);
    const first = raw.state.get('statestore', 'x').then(() => 'answered', () => 'failed');
    expect(await Promise.race([first, sleep(1500).then(() => 'still waiting')])).toBe('still waiting');

    const ours = new Dapr({ httpPort: port, apiToken: run.apiToken });
    const began = Date.now();
    await expect(ours.state('statestore').get('x')).rejects.toMatchObject({ status: 503 });
    expect(Date.now() - began).toBeLessThan(1000);
    await ours.close();
    // Something answers on the port at last, so the SDK's waiting ends with the test.
    const standIn = createServer((_req, res) => res.end('{}')).listen(port, '127.0.0.1');
    expect(await first).toBe('answered');
    standIn.close();
  });

  it('when the client starts before its sidecar listens (gRPC too), then start() waits and the first call works; when the sidecar dies, calls answer 503 at once', async () => {
    const ports = await freeSidecarPorts();
    const early = new Dapr({ httpPort: ports.http, grpcPort: ports.grpc, protocol: 'grpc', timeoutMs: 1000, apiToken: run.apiToken });
    const waiting = early.start();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const late = await run.start(`${run.id}-late`, undefined, ports);
    await waiting;
    const store = early.state<{ n: number }>('statestore');
    await store.create('late', { n: 1 });
    expect((await store.get('late'))?.value).toEqual({ n: 1 });

    await late.stop();
    const began = Date.now();
    await expect(store.get('late')).rejects.toMatchObject({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
    await expect(early.invoke(`${run.id}-callee`, 'gone')).rejects.toMatchObject({ status: 503 });
    expect(Date.now() - began).toBeLessThan(1000);
    await early.close();
  });
});
