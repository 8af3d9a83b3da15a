import { Dapr } from '@flash/dapr';
import { SidecarRun } from '@flash/stack';
import { Payments, SimulatedPaymentProvider, TEST_TOKENS, type BookEntry } from '../src';

describe('the simulated payment provider behind the adapter, its book in a real state store', () => {
  const run = new SidecarRun();
  let payments: Payments;
  let flaky: Payments;

  const provider = (dapr: Dapr, options: Partial<ConstructorParameters<typeof SimulatedPaymentProvider>[1]> = {}) =>
    new SimulatedPaymentProvider(dapr.state<BookEntry>('statestore'), {
      failureRate: 0, refundFailureRate: 0, timeoutRate: 0, latencyMs: 5, seed: 'provider-test', ...options,
    });

  beforeAll(async () => {
    const sidecar = await run.start(`${run.id}-payments`);
    const dapr = new Dapr({ httpPort: sidecar.ports.http, apiToken: run.apiToken });
    payments = new Payments(provider(dapr), { timeoutMs: 2000 });
    flaky = new Payments(provider(dapr, { failureRate: 0.5, refundFailureRate: 0.5 }), { timeoutMs: 2000 });
  });
  afterAll(() => run.stop());

  it('when one key is charged several times at once, then the customer is charged once and every call gets the same answer', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => payments.charge({ key: 'c1', amount: 500, customerId: 'u1' })));
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toMatchObject({ status: 'APPROVED' });
    expect((await payments.statements(['c1'])).get('c1')).toEqual({ charged: 500, refunded: 0 });
  });

  it('when a test token decides, then it is approved, declined, or charged without an answer in time', async () => {
    expect(await payments.charge({ key: 'c2', amount: 1, customerId: 'u1', token: TEST_TOKENS.approve })).toMatchObject({ status: 'APPROVED' });
    expect(await payments.charge({ key: 'c3', amount: 1, customerId: 'u1', token: TEST_TOKENS.decline })).toMatchObject({ status: 'DECLINED' });
    const started = Date.now();
    expect(await payments.charge({ key: 'c4', amount: 700, customerId: 'u1', token: TEST_TOKENS.timeout })).toMatchObject({ status: 'TIMED_OUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    // The charge landed: asking again with the key gets its answer now.
    expect(await payments.charge({ key: 'c4', amount: 700, customerId: 'u1', token: TEST_TOKENS.timeout })).toMatchObject({ status: 'APPROVED' });
    expect([...(await payments.statements(['c2', 'c3', 'c4'])).values()].map((s) => s.charged)).toEqual([1, 0, 700]);
  });

  it('when a charge is refunded under one key again and again, then it is refunded once; another key is refused', async () => {
    await payments.charge({ key: 'c5', amount: 900, customerId: 'u1' });
    const refunds = await Promise.all([1, 2, 3].map(() => payments.refund({ key: 'r5', chargeKey: 'c5' })));
    expect(refunds.map((r) => r.status)).toEqual(['REFUNDED', 'REFUNDED', 'REFUNDED']);
    expect(new Set(refunds.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await payments.refund({ key: 'other', chargeKey: 'c5' })).toMatchObject({ status: 'FAILED' });
    expect((await payments.statements(['c5'])).get('c5')).toEqual({ charged: 900, refunded: 900 });
  });

  it('when a charge that never landed is refunded, then it is voided and a late charge under its key is refused', async () => {
    expect(await payments.refund({ key: 'void-c6', chargeKey: 'c6' })).toMatchObject({ status: 'REFUNDED', amount: 0 });
    expect(await payments.charge({ key: 'c6', amount: 300, customerId: 'u1' })).toMatchObject({ status: 'DECLINED' });
    expect((await payments.statements(['c6'])).get('c6')).toEqual({ charged: 0, refunded: 0 });
  });

  it('when the failure rates are set, then which calls fail follows from the seed, and a failed refund is made by a later attempt', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `seeded-${i}`);
    const first = await Promise.all(keys.map((key) => flaky.charge({ key, amount: 100, customerId: 'u2' })));
    const declined = first.filter((a) => a.status === 'DECLINED').length;
    expect(declined).toBeGreaterThan(0);
    expect(declined).toBeLessThan(20);
    const approved = keys.filter((_, i) => first[i]!.status === 'APPROVED');
    for (const key of approved) {
      let attempts = 0;
      for (;;) {
        attempts++;
        if ((await flaky.refund({ key: `r-${key}`, chargeKey: key })).status === 'REFUNDED') break;
        expect(attempts).toBeLessThan(30);
      }
    }
    const statements = await flaky.statements(approved);
    expect([...statements.values()].every((s) => s.charged === 100 && s.refunded === 100)).toBe(true);
  });
});
