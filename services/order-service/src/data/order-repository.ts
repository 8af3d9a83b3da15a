import { In, IsNull, Not, type DataSource } from 'typeorm';
import { addToOutbox, insertRows, isDuplicateKey } from '@flash/runtime';
import { RESTOCKING, type FirstInStep, type Order, type OrderItem } from '../domain/order';
import type { Payment } from '../domain/payment';
import type { OrderDetails, OrderStore, Step } from '../domain/ports';
import { OrderEntity, OrderItemEntity, OrderTransitionEntity, PaymentEntity } from './entities';
import { requestRefundIn } from './payment-repository';

/** Rolls an order insert back when its checkout payment was settled otherwise meanwhile. */
class PaymentNoLongerPending extends Error {}

export const ORDER_STATUS_TOPIC = 'order-status-changed';

export class OrderRepository implements OrderStore {
  constructor(private readonly db: DataSource) {}

  async insert(order: Order, items: Omit<OrderItem, 'id' | 'orderId' | 'restockedAt'>[], payment: Payment): Promise<boolean> {
    try {
      await this.db.transaction(async (tx) => {
        const payments = tx.getRepository(PaymentEntity);
        if (order.source === 'REGULAR') {
          const { affected } = await payments.update({ id: payment.id, status: 'PENDING' }, {
            status: 'PAID', reference: payment.reference, orderId: order.id,
          });
          if (!affected) throw new PaymentNoLongerPending();
        } else {
          await payments.insert(payment);
        }
        await tx.getRepository(OrderEntity).insert(order);
        await insertRows(tx, OrderItemEntity, items.map((item) => ({ ...item, orderId: order.id, restockedAt: null })));
        await insertRows(tx, OrderTransitionEntity, [{ orderId: order.id, fromStatus: null, toStatus: order.status, at: order.placedAt }]);
        await addToOutbox(tx, [{
          topic: ORDER_STATUS_TOPIC,
          data: { orderId: order.id, userId: order.userId, from: null, to: order.status, at: order.placedAt.toISOString() },
        }]);
      });
      return true;
    } catch (err) {
      if (isDuplicateKey(err) || err instanceof PaymentNoLongerPending) return false;
      throw err;
    }
  }

  async byId(id: string): Promise<OrderDetails | undefined> {
    const order = await this.db.getRepository(OrderEntity).findOneBy({ id });
    return order ? this.details([order]).then((d) => d[0]) : undefined;
  }

  async existing(ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    return ((await this.db.query('SELECT id FROM orders WHERE id IN (?)', [ids])) as { id: string }[]).map((r) => r.id);
  }

  async ofUser(userId: string): Promise<OrderDetails[]> {
    return this.details(await this.db.getRepository(OrderEntity).find({ where: { userId }, order: { placedAt: 'DESC' }, take: 100 }));
  }

  async transition(id: string, decide: (order: Order) => Step | undefined) {
    return this.db.transaction(async (tx) => {
      const orders = tx.getRepository(OrderEntity);
      const order = await orders.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!order) return undefined;
      const made = decide(order);
      if (!made) return undefined;
      await orders.update({ id }, {
        status: made.to,
        ...(made.to === 'DELIVERED' ? { deliveredAt: made.at } : {}),
        ...(made.to === 'RETURN_REQUESTED' ? { returnRequestedAt: made.at } : {}),
      });
      await insertRows(tx, OrderTransitionEntity, [{ orderId: id, fromStatus: order.status, toStatus: made.to, at: made.at }]);
      await addToOutbox(tx, [{ topic: ORDER_STATUS_TOPIC, data: { orderId: id, userId: order.userId, from: order.status, to: made.to, at: made.at.toISOString() } }]);
      if (made.refund) await requestRefundIn(tx, id, made.refund, made.at);
      if (RESTOCKING.includes(made.to)) await tx.query('UPDATE orders SET restock_due_at = ? WHERE id = ?', [made.at, id]);
      return made;
    });
  }

  async schedulerWork() {
    const [row] = (await this.db.query(
      `SELECT (SELECT MIN(placed_at) FROM orders WHERE status = 'PLACED') AS placed,
              (SELECT MIN(placed_at) FROM orders WHERE status = 'SHIPPING') AS shipping,
              (SELECT MIN(return_requested_at) FROM orders WHERE status = 'RETURN_REQUESTED') AS returnRequested,
              EXISTS (SELECT 1 FROM orders WHERE source = 'REGULAR' AND stock_committed_at IS NULL AND status <> 'CANCELLED') AS uncommitted,
              EXISTS (SELECT 1 FROM orders WHERE restock_due_at IS NOT NULL) AS unrestocked`,
    )) as { placed: Date | null; shipping: Date | null; returnRequested: Date | null; uncommitted: number; unrestocked: number }[];
    const first = Object.fromEntries((['placed', 'shipping', 'returnRequested'] as const).filter((k) => row![k]).map((k) => [k, row![k]]));
    return { first, uncommitted: Boolean(Number(row!.uncommitted)), unrestocked: Boolean(Number(row!.unrestocked)) };
  }

  async dueForStep(cutoffs: Required<FirstInStep>, limit: number): Promise<Order[]> {
    const rows = (await this.db.query(
      `(SELECT id FROM orders WHERE status = 'PLACED' AND placed_at <= ? LIMIT ?)
       UNION ALL (SELECT id FROM orders WHERE status = 'SHIPPING' AND placed_at <= ? LIMIT ?)
       UNION ALL (SELECT id FROM orders WHERE status = 'RETURN_REQUESTED' AND return_requested_at <= ? LIMIT ?)`,
      [cutoffs.placed, limit, cutoffs.shipping, limit, cutoffs.returnRequested, limit],
    )) as { id: string }[];
    return rows.length ? this.db.getRepository(OrderEntity).findBy({ id: In(rows.map((r) => r.id)) }) : [];
  }

  async uncommitted(limit: number): Promise<OrderDetails[]> {
    return this.details(await this.db.getRepository(OrderEntity).find({
      where: { source: 'REGULAR', stockCommittedAt: IsNull(), status: Not('CANCELLED') }, take: limit,
    }));
  }

  async markStockCommitted(id: string, at: Date): Promise<void> {
    await this.db.getRepository(OrderEntity).update({ id, stockCommittedAt: IsNull() }, { stockCommittedAt: at });
  }

  async unrestocked(limit: number): Promise<OrderItem[]> {
    const rows = (await this.db.query(
      `SELECT i.id FROM orders o JOIN order_items i ON i.order_id = o.id
        WHERE o.restock_due_at IS NOT NULL AND i.restocked_at IS NULL LIMIT ?`,
      [limit],
    )) as { id: string }[];
    if (rows.length === 0) {
      // Marks left by a process that died between restocking the last item and clearing the mark.
      await this.db.query(`UPDATE orders o SET o.restock_due_at = NULL
        WHERE o.restock_due_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.restocked_at IS NULL)`);
      return [];
    }
    return this.db.getRepository(OrderItemEntity).findBy({ id: In(rows.map((r) => Number(r.id))) });
  }

  async markRestocked(item: OrderItem, at: Date): Promise<void> {
    await this.db.getRepository(OrderItemEntity).update({ id: item.id, restockedAt: IsNull() }, { restockedAt: at });
    await this.db.query(
      `UPDATE orders o SET o.restock_due_at = NULL
        WHERE o.id = ? AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.restocked_at IS NULL)`,
      [item.orderId],
    );
  }

  private async details(orders: Order[]): Promise<OrderDetails[]> {
    if (orders.length === 0) return [];
    const ids = orders.map((o) => o.id);
    const items = await this.db.getRepository(OrderItemEntity).find({ where: { orderId: In(ids) }, order: { id: 'ASC' } });
    const transitions = await this.db.getRepository(OrderTransitionEntity).find({ where: { orderId: In(ids) }, order: { id: 'ASC' } });
    const payments = await this.db.getRepository(PaymentEntity).findBy({ id: In(ids) });
    return orders.map((order) => ({
      order,
      items: items.filter((i) => i.orderId === order.id),
      transitions: transitions.filter((t) => t.orderId === order.id),
      payment: payments.find((p) => p.id === order.id),
    }));
  }
}
