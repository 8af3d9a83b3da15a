import { randomUUID } from 'node:crypto';
import express from 'express';
import { AppError, problemHandler } from '@flash/http';
import { listenOnFreePort, SidecarRun } from '@flash/stack';
import { ConcurrencyConflictError, Dapr } from '../src';

describe('resiliency policies in a real daprd', () => {
  const run = new SidecarRun();
  const calls = { rejected: 0, unavailable: 0 };
  let caller: Dapr;
  let state: ReturnType<Dapr['state']>;
  let callerMetrics: () => Promise<string>;
  let app: Awaited<ReturnType<typeof listenOnFreePort>>;

  beforeAll(async () => {
    const web = express();
    web.post('/orders/rejected', (_req, _res, next) => {
      calls.rejected += 1;
      next(new AppError(409, 'SOLD_OUT', 'Sold out'));
    });
    web.get('/orders/unavailable', (_req, res) => {
      calls.unavailable += 1;
      res.status(503).json({ message: 'down for a moment' });
    });
    web.use(problemHandler);
    app = await listenOnFreePort(web);
    // The callee takes a real app id, so the app targets of resiliency.yaml apply to calls to it.
    const callee = await run.start('order-service', app.port, undefined, { accessControl: false });
    state = new Dapr({ httpPort: callee.ports.http, apiToken: run.apiToken }).state('statestore');
    const sidecar = await run.start(`${run.id}-caller`);
    caller = new Dapr({ httpPort: sidecar.ports.http, apiToken: run.apiToken });
    callerMetrics = sidecar.metrics;
  });
  afterAll(async () => {
    await run.stop();
    await app.close();
  });

  it('when the sidecar starts, then it has loaded our Resiliency resource', async () => {
    expect(await callerMetrics()).toMatch(/dapr_resiliency_loaded\{[^}]*name="flash-sale-resiliency"[^}]*\} 1/);
  });

  it('when the callee answers 4xx, then the call is not retried and the caller sees its problem', async () => {
    const error = await caller.invoke('order-service', 'orders/rejected', { method: 'POST', body: {} }).catch((e) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ status: 409, code: 'SOLD_OUT' });
    expect(calls.rejected).toBe(1);
  });

  it('when the callee answers 503, then the call is retried by the policy (1 + 3 retries)', async () => {
    await expect(caller.invoke('order-service', 'orders/unavailable')).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
    expect(calls.unavailable).toBe(4);
  });

  it('when many writes in a row lose their ETag race, then the state store still answers (a lost race is not a failure)', async () => {
    const key = `resiliency-${randomUUID()}`;
    await state.create(key, { n: 0 });
    const stale = (await state.get(key))!.etag;
    await state.save(key, { n: 1 }, stale);
    try {
      for (let i = 0; i < 15; i++) await expect(state.save(key, { n: 2 }, stale)).rejects.toBeInstanceOf(ConcurrencyConflictError);
      expect((await state.get(key))?.value).toEqual({ n: 1 });
    } finally {
      await state.delete(key);
    }
  });
});
