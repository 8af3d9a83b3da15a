import { IsNull, LessThanOrEqual, type DataSource, type EntityManager } from 'typeorm';
import { REFUND_REQUESTED_TOPIC, type RefundRequested } from '@flash/events';
import { addToOutbox, isDuplicateKey } from '@flash/runtime';
import { RESTOCKING } from '../domain/order';
import { mayRefund, newPayment, type MoneyScope, type Payment, type RefundRequest } from '../domain/payment';
import type { PaymentStore } from '../domain/ports';
import { PaymentEntity } from './entities';

/** The fields of a refund asked for at `at` and not paid out yet: the whole amount, first attempt due at once. */
const pendingRefund = (amount: number, refund: RefundRequest, at: Date) => ({
  refundKey: refund.key, refundStatus: 'PENDING' as const, refundReason: refund.reason, refundAmount: amount, refundRequestedAt: at, refundNextAttemptAt: at,
});

/** Records the refund of a paid (or timed-out) charge and announces it, in the caller's transaction; once per charge. */
export async function requestRefundIn(tx: EntityManager, paymentId: string, refund: RefundRequest, at: Date): Promise<boolean> {
  const payments = tx.getRepository(PaymentEntity);
  const payment = await payments.findOne({ where: { id: paymentId }, lock: { mode: 'pessimistic_write' } });
  if (!payment || !mayRefund(payment)) return false;
  await payments.update({ id: paymentId }, pendingRefund(payment.amount, refund, at));
  await addToOutbox(tx, [{
    topic: REFUND_REQUESTED_TOPIC,
    data: {
      paymentId, refundKey: refund.key, userId: payment.userId, saleId: payment.saleId, amount: payment.amount,
      charge: payment.status, reason: refund.reason,
    } satisfies RefundRequested,
  }]);
  return true;
}

export class PaymentRepository implements PaymentStore {
  constructor(private readonly db: DataSource) {}

  private get payments() {
    return this.db.getRepository(PaymentEntity);
  }

  async byId(id: string) {
    return (await this.payments.findOneBy({ id })) ?? undefined;
  }

  async byCheckoutKey(userId: string, idempotencyKey: string) {
    return (await this.payments.findOneBy({ userId, idempotencyKey })) ?? undefined;
  }

  async begin(payment: Payment): Promise<boolean> {
    try {
      await this.payments.insert(payment);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async forget(id: string): Promise<void> {
    await this.payments.delete({ id, status: 'PENDING' });
  }

  async declined(id: string, reason: string): Promise<void> {
    await this.payments.update({ id, status: 'PENDING' }, { status: 'DECLINED', failure: reason });
  }

  async timedOut(id: string, reason: string, refund: RefundRequest, at: Date): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { affected } = await tx.getRepository(PaymentEntity).update({ id, status: 'PENDING' }, { status: 'TIMED_OUT', failure: reason });
      if (affected) await requestRefundIn(tx, id, refund, at);
    });
  }

  async requestRefund(request: RefundRequested, at: Date): Promise<void> {
    const refund = { key: request.refundKey, reason: request.reason };
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction(async (tx) => {
          const payments = tx.getRepository(PaymentEntity);
          const known = await payments.findOne({ where: { id: request.paymentId }, lock: { mode: 'pessimistic_write' } });
          if (known) {
            if (mayRefund(known)) await payments.update({ id: known.id }, pendingRefund(known.amount, refund, at));
            return;
          }
          // A flash charge that never became an order (its answer never came, or its stock hold ran out).
          await payments.insert({
            ...newPayment({
              id: request.paymentId, userId: request.userId, saleId: request.saleId, orderId: null, source: request.saleId ? 'FLASH' : 'REGULAR',
              amount: request.amount, status: request.charge, reference: null, failure: request.reason, createdAt: at,
            }),
            ...pendingRefund(request.amount, refund, at),
          });
        });
      } catch (err) {
        // Two deliveries inserting at once: the second finds the first's row on its next turn.
        if (!isDuplicateKey(err) || attempt > 0) throw err;
      }
    }
  }

  async refundsDue(now: Date, limit: number): Promise<Payment[]> {
    return this.payments.find({
      where: { refundStatus: 'PENDING', refundNextAttemptAt: LessThanOrEqual(now) }, order: { refundNextAttemptAt: 'ASC' }, take: limit,
    });
  }

  async nextRefundAttempt(): Promise<Date | undefined> {
    return this.earliest("SELECT MIN(refund_next_attempt_at) AS at FROM payments WHERE refund_status = 'PENDING'");
  }

  async refunded(id: string, outcome: { reference: string; amount: number }, at: Date): Promise<boolean> {
    const { affected } = await this.payments.update({ id, refundStatus: 'PENDING' }, {
      refundStatus: 'REFUNDED', refundReference: outcome.reference, refundAmount: outcome.amount, refundedAt: at,
      refundNextAttemptAt: null, refundError: null,
    });
    return Boolean(affected);
  }

  async refundFailed(id: string, error: string, nextAttemptAt: Date): Promise<void> {
    await this.payments.update({ id, refundStatus: 'PENDING' }, {
      refundAttempts: () => 'refund_attempts + 1', refundError: error.slice(0, 200), refundNextAttemptAt: nextAttemptAt,
    });
  }

  async pendingSince(before: Date, limit: number): Promise<Payment[]> {
    return this.payments.find({ where: { status: 'PENDING', createdAt: LessThanOrEqual(before), refundStatus: IsNull() }, take: limit });
  }

  async oldestPendingCheckout(): Promise<Date | undefined> {
    return this.earliest("SELECT MIN(created_at) AS at FROM payments WHERE status = 'PENDING' AND refund_status IS NULL");
  }

  /** The time a `SELECT MIN(...) AS at` over an index answers, if any row matched. */
  private async earliest(sql: string): Promise<Date | undefined> {
    const [row] = (await this.db.query(sql)) as { at: Date | null }[];
    return row?.at ?? undefined;
  }

  async inScope(scope: MoneyScope): Promise<Payment[]> {
    return this.payments.findBy({ ...(scope.userId ? { userId: scope.userId } : {}), ...(scope.saleId ? { saleId: scope.saleId } : {}) });
  }

  async standingValue(scope: MoneyScope): Promise<number> {
    const where = ['o.status NOT IN (?)'];
    const params: unknown[] = [RESTOCKING];
    if (scope.userId) {
      where.push('o.user_id = ?');
      params.push(scope.userId);
    }
    if (scope.saleId) {
      where.push('EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.sale_id = ?)');
      params.push(scope.saleId);
    }
    const [row] = (await this.db.query(`SELECT COALESCE(SUM(o.total), 0) AS value FROM orders o WHERE ${where.join(' AND ')}`, params)) as {
      value: string;
    }[];
    return Number(row?.value ?? 0);
  }

}
