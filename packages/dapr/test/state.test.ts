import { SidecarRun } from '@flash/stack';
import { ConcurrencyConflictError, Dapr, type StateStore } from '../src';

describe('state through a real daprd and Redis', () => {
  const run = new SidecarRun();
  let store: StateStore<{ available: number }>;

  beforeAll(async () => {
    const sidecar = await run.start(`${run.id}-state`);
    store = new Dapr({ httpPort: sidecar.ports.http, apiToken: run.apiToken }).state('statestore');
  });
  afterAll(() => run.stop());

  it('when a key is read, then its value comes with an ETag', async () => {
    await store.create('stock-a', { available: 10 });
    const entry = await store.get('stock-a');
    expect(entry?.value).toEqual({ available: 10 });
    expect(entry?.etag).toMatch(/^\d+$/);
  });

  it('when a save carries a stale ETag, then it is refused as a conflict and the newer value stays', async () => {
    await store.create('stock-b', { available: 5 });
    const first = await store.get('stock-b');
    await store.save('stock-b', { available: 4 }, first!.etag);

    await expect(store.save('stock-b', { available: 3 }, first!.etag)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect((await store.get('stock-b'))?.value).toEqual({ available: 4 });
  });

  it('when two writers race with the same ETag, then exactly one wins', async () => {
    await store.create('stock-c', { available: 1 });
    const read = await store.get('stock-c');
    const results = await Promise.allSettled([
      store.save('stock-c', { available: 0 }, read!.etag),
      store.save('stock-c', { available: 0 }, read!.etag),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConcurrencyConflictError);
  });

  it('when a key is created twice, then the second create is a conflict', async () => {
    await store.create('stock-d', { available: 7 });
    await expect(store.create('stock-d', { available: 99 })).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect((await store.get('stock-d'))?.value).toEqual({ available: 7 });
  });

  it('when several keys are read at once, then each comes with its ETag and missing ones are absent', async () => {
    await store.create('bulk-a', { available: 1 });
    await store.create('bulk-b', { available: 2 });
    const found = await store.getMany(['bulk-a', 'bulk-b', 'bulk-missing']);
    expect(found.get('bulk-a')?.value).toEqual({ available: 1 });
    expect(found.get('bulk-b')?.etag).toBe((await store.get('bulk-b'))?.etag);
    expect(found.get('bulk-missing')).toBeUndefined();
  });

  it('when a missing key is read, then there is no entry', async () => {
    expect(await store.get('never-written')).toBeUndefined();
  });

  it('when a key is deleted with a stale ETag, then it is refused and the key stays', async () => {
    await store.create('stock-e', { available: 2 });
    const old = await store.get('stock-e');
    await store.save('stock-e', { available: 1 }, old!.etag);
    await expect(store.delete('stock-e', old!.etag)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    const current = await store.get('stock-e');
    await store.delete('stock-e', current!.etag);
    expect(await store.get('stock-e')).toBeUndefined();
  });
});
