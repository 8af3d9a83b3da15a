import { REFUND_REQUESTED_TOPIC, type RefundRequested } from '@flash/events';
import { AppError } from '@flash/http';
import { PaymentErrors, type ChargeOutcome, type Payments } from '@flash/payments';
import { GroupCommit } from '@flash/runtime';
import type { StockKeeper } from '@flash/stock';
import { SaleErrors } from './errors';
import type { FlashSales } from './flash-sales';
import type { FlashSale, Purchase } from './flash-sale';
import type { PurchaseChange, PurchaseStore } from './ports';
import type { HoldBatches } from './hold-batches';
import { purchasePaidEvent } from './order-checks';
import type { SaleBoard } from './sale-board';

/** Holds one expiry run handles at most. */
const EXPIRY_BATCH = 500;
/** A unit that could not be given back is looked for again this much later. */
const STRANDED_RETRY_MS = 1000;
/** Payments settled in one transaction at most. */
const SETTLE_BATCH = 100;
/**
 * Payment batches written at once: each waits on ~9 round trips to MariaDB (150–230 ms a batch in flash-spike, where
 * a payment waited 338 ms at the median to be settled; README, Performance), and a second batch overlaps those waits.
 * Each locks its purchases (in id order) before it decides them.
 */
const SETTLE_IN_FLIGHT = 2;
/** Units given back in one ledger transaction at most. */
const RETURN_BATCH = 100;

type PaymentResult = 'paid' | 'ended' | 'not held' | 'expired' | 'failed' | 'timed out';
interface Settling {
  purchaseId: string;
  /** The charge's outcome; none when the hold had run out before the buyer paid. */
  charge?: ChargeOutcome;
}
/** A charge that sells its purchase's unit (decided once the reservations are committed). */
const SELLS = Symbol('sells');
const TELLING = ['APPROVED', 'DECLINED', 'TIMED_OUT'];
/** Of two outcomes of one charge key, the one that knows more: the provider's answer over a lost one. */
const mostTelling = (a: ChargeOutcome | undefined, b: ChargeOutcome | undefined) =>
  !a || (b && TELLING.indexOf(b.status) < TELLING.indexOf(a.status)) ? b : a;

/** A shopper's purchase: attempt (hold one unit), pay, abandon; holds that run out are expired. */
export class Purchasing {
  constructor(
    private readonly sales: FlashSales,
    private readonly purchases: PurchaseStore,
    private readonly stock: StockKeeper,
    private readonly payments: Payments,
    private readonly board: SaleBoard,
    private readonly holds: HoldBatches,
    /** Publishes what the last change wrote to the outbox (without waiting for it). */
    private readonly announce: () => void = () => undefined,
    /** Wakes the hold expiry: a hold made now runs out in so many ms. */
    private readonly holdsDue: (delayMs: number) => void = () => undefined,
    /** Wakes the order checks (OrderChecks): a purchase was just paid. */
    private readonly paidNow: () => void = () => undefined,
  ) {}

  /** Whether units of ended purchases may still be held (see returnStranded): at start, and after a failed release. */
  private strandedMayExist = true;

  /** Payments whose charges have their outcome, waiting to be applied (group commit; see settle). */
  private readonly settlements = new GroupCommit<Settling, { result: PaymentResult; purchase: Purchase } | undefined>((batch) => this.settle(batch), SETTLE_BATCH, SETTLE_IN_FLIGHT);

  /** Abandons whose purchases are ended together (see endAbandoned). */
  private readonly abandonments = new GroupCommit<Purchase, Purchase | undefined>((seen) => this.endAbandoned(seen), SETTLE_BATCH);

  /**
   * Units going back to their sales (abandons, failed payments, expiries), by purchase id: those that come while a
   * batch is written go back together, in one ledger transaction and one counter write per shard. Already sold means
   * the purchase was paid meanwhile: nothing to give back.
   */
  private readonly unitReturns = new GroupCommit<string, void>(async (ids) => {
    const released = await this.stock.releaseMany(ids);
    return ids.map((id) => {
      const outcome = released.get(id);
      return outcome instanceof AppError && outcome.code !== 'RESERVATION_COMMITTED' ? outcome : undefined;
    });
  }, RETURN_BATCH);

  /**
   * Holds one unit for the buyer; the same Idempotency-Key always answers with the same purchase. A sale that is not
   * open, has ended or is sold out is refused from memory; everything else joins the sale's next batch (HoldBatches).
   */
  async attempt(saleId: string, buyerId: string, idempotencyKey: string, now = new Date()): Promise<Purchase> {
    const sale = await this.sales.sale(saleId);
    const known = await this.fromMemory(sale, buyerId, idempotencyKey, now);
    if (known instanceof AppError) throw known;
    if (known) return this.sameSale(known, saleId);
    if (now.getTime() >= sale.endsAt.getTime()) {
      const earlier = await this.purchases.byKey(buyerId, idempotencyKey);
      if (earlier) return this.sameSale(earlier, saleId);
      throw SaleErrors.ended();
    }
    this.holdsDue(sale.holdSeconds * 1000);
    return this.holds.hold(sale, buyerId, idempotencyKey);
  }

  /**
   * The refusal this attempt gets from memory, if it gets one: the sale is not open yet, or it has nothing to sell and
   * `buyerId` made no earlier attempt with this key. Such a refusal does not depend on who asks, so it may be given
   * before the caller's token is checked (purchasesRouter); undefined: the attempt must go the whole way.
   */
  async refusal(saleId: string, buyerId: string, idempotencyKey: string, now = new Date()): Promise<AppError | undefined> {
    const known = await this.fromMemory(await this.sales.sale(saleId), buyerId, idempotencyKey, now);
    return known instanceof AppError ? known : undefined;
  }

  /**
   * What memory alone answers an attempt: a refusal, or the purchase an earlier attempt with this key made (on a sale
   * with nothing to sell, only such a retry gets something other than the refusal); undefined when memory cannot tell.
   */
  private async fromMemory(sale: FlashSale, buyerId: string, idempotencyKey: string, now: Date): Promise<AppError | Purchase | undefined> {
    if (now.getTime() < sale.startsAt.getTime()) return SaleErrors.notOpen(sale.startsAt);
    const ended = now.getTime() >= sale.endsAt.getTime();
    const level = ended ? undefined : await this.board.level(sale.id);
    if (level && level.value.available > 0) return undefined;
    const recordedSince = this.board.holdsRecordedSince(sale, level);
    const earlier = recordedSince === undefined ? undefined : this.board.earlierAttempt(sale.id, buyerId, idempotencyKey, recordedSince);
    if (earlier === null) return ended ? SaleErrors.ended() : SaleErrors.soldOut();
    return earlier;
  }

  /**
   * Pays a held purchase; exactly one unit is sold, or the unit goes back (and money that landed comes back). The
   * charge is made outside the purchase's lock: a provider that does not answer for PAYMENT_TIMEOUT_MS must not hold a
   * row lock and a database connection meanwhile, or every other payment queues behind it. Its outcome is applied under
   * the lock to whatever the purchase has become by then (paid by a retry, expired, abandoned), together with the
   * outcomes of the other payments that came meanwhile (settle: one transaction for all of them).
   */
  async pay(purchaseId: string, buyerId: string, paymentToken?: string, now = new Date()): Promise<Purchase> {
    const seen = await this.owned(purchaseId, buyerId);
    // The purchase id is the charge's idempotency key: a retried (or concurrent) payment can never charge twice.
    const charge = seen.status === 'HELD' && seen.holdExpiresAt.getTime() > now.getTime()
      ? await this.payments.charge({ key: seen.id, amount: seen.price, customerId: seen.buyerId, token: paymentToken })
      : undefined;
    const locked = await this.settlements.submit({ purchaseId, charge });
    const outcome = locked?.result;
    const purchase = locked?.purchase ?? seen;
    // Ended unpaid in the settle's transaction: the unit goes back to the sale without the buyer waiting for it (under a
    // crowd that took up to 1.5 s more per declined payment). A return that fails is retried by the expiry job
    // (returnStranded), as after a crash between the two.
    if (outcome === 'expired' || outcome === 'failed' || outcome === 'timed out') void this.returnUnit(purchase).catch(() => undefined);
    if (outcome !== undefined) this.announce();
    if (outcome === 'paid') this.paidNow();
    if (outcome === 'expired' || outcome === 'ended') throw SaleErrors.holdExpired();
    if (outcome === 'failed') throw PaymentErrors.failed('declined', 'the unit goes back to the sale');
    if (outcome === 'timed out') throw PaymentErrors.timedOut('the unit goes back to the sale');
    if (outcome === 'not held') throw SaleErrors.notHeld(purchase.status);
    return purchase;
  }

  /**
   * Applies charges' outcomes, each under its purchase's lock, in one transaction: the purchases change, the units of
   * the paid ones are sold and their PAID events written, all or nothing. Each payment's result and purchase, in order
   * (undefined: no such purchase).
   */
  private async settle(payments: Settling[]): Promise<({ result: PaymentResult; purchase: Purchase } | undefined)[]> {
    const charges = new Map<string, ChargeOutcome | undefined>();
    // The same purchase twice in a batch (a retry beside its first try): the most telling outcome decides for both.
    for (const { purchaseId, charge } of payments) charges.set(purchaseId, mostTelling(charges.get(purchaseId), charge));
    const settled = await this.purchases.withPurchaseLocks([...charges.keys()], async (found, tx) => {
      const changes = new Map<string, PurchaseChange<PaymentResult> | typeof SELLS>(found.map((p) => [p.id, this.chargeApplied(p, charges.get(p.id))]));
      const selling = found.filter((p) => changes.get(p.id) === SELLS);
      // Sold in this transaction: the units and the purchases become PAID together.
      const sold = await this.stock.commitManyIn(tx, selling.map((p) => p.id));
      const decided = new Map<string, PurchaseChange<PaymentResult>>();
      for (const p of found) {
        const change = changes.get(p.id)!;
        if (change !== SELLS) {
          decided.set(p.id, change);
          continue;
        }
        const status = sold.get(p.id);
        if (!status) throw AppError.notFound(`Reservation ${p.id}`);
        decided.set(p.id, status === 'COMMITTED'
          ? { result: 'paid', ...this.paid(p, (await this.sales.sale(p.saleId)).productId, (charges.get(p.id) as { reference: string }).reference) }
          // The stock hold ran out first (only if the purchase expiry fell far behind): give the money back.
          : { result: 'expired', to: 'EXPIRED', reason: 'stock hold ran out', event: refundOf(p, 'expired', 'stock hold ran out') });
      }
      return decided;
    });
    return payments.map((p) => settled.get(p.purchaseId));
  }

  /** What a charge's outcome makes of the purchase it was for, as the purchase is now; SELLS when its unit is to be sold. */
  private chargeApplied(p: Purchase, charge: ChargeOutcome | undefined): PurchaseChange<PaymentResult> | typeof SELLS {
    if (p.status === 'PAID') return { result: 'paid' };
    if (p.status !== 'HELD') {
      // Charged while the purchase ended another way (expired, abandoned, failed): what may have landed goes back.
      const event = charge && charge.status !== 'DECLINED' ? refundOf(p, charge.status === 'TIMED_OUT' ? 'void' : 'expired', 'purchase ended while charged') : undefined;
      return { result: p.status === 'EXPIRED' ? 'ended' : 'not held', event };
    }
    // Not charged: the hold had run out when the buyer asked.
    if (!charge) return { result: 'expired', to: 'EXPIRED', reason: 'hold ran out' };
    if (charge.status === 'DECLINED') return { result: 'failed', to: 'PAYMENT_FAILED', reason: charge.reason };
    if (charge.status === 'TIMED_OUT') return { result: 'timed out', to: 'PAYMENT_FAILED', reason: 'payment timed out', event: refundOf(p, 'void', 'charge timed out') };
    return SELLS;
  }

  /** The shopper walks away from a held purchase: the unit goes back. */
  async abandon(purchaseId: string, buyerId: string): Promise<Purchase> {
    const seen = await this.owned(purchaseId, buyerId);
    const ended = await this.abandonments.submit(seen);
    // The unit goes back after the commit (again on a retry: a crash in between must not strand it).
    if (ended) await this.returnUnit(ended);
    return ended ?? seen;
  }

  /**
   * Ends abandoned purchases, all that came together (group commit): their charges looked up in one read (chargesOf),
   * the purchases ended in one transaction. Each one's purchase as it now is (undefined: none), or why it cannot be
   * abandoned.
   */
  private async endAbandoned(seen: Purchase[]): Promise<(Purchase | undefined | Error)[]> {
    const charged = await this.chargesOf(seen.filter((p) => p.status === 'HELD'));
    let refunds = false;
    const ended = await this.purchases.withPurchaseLocks([...new Set(seen.map((p) => p.id))], async (found) => new Map(found.map((p): [string, PurchaseChange<AppError | undefined>] => {
      if (p.status === 'ABANDONED') return [p.id, { result: undefined }];
      if (p.status !== 'HELD') return [p.id, { result: SaleErrors.notHeld(p.status) }];
      const event = charged(p);
      refunds ||= event !== undefined;
      return [p.id, { result: undefined, to: 'ABANDONED', reason: 'abandoned by the buyer', event }];
    })));
    if (refunds) this.announce();
    return seen.map((p) => ended.get(p.id)?.result ?? ended.get(p.id)?.purchase);
  }

  /**
   * Expires holds past their time (only those, through the `purchases_due` index); each unit goes back once, whichever
   * instance runs this. Resolves how many expired and how long until the next hold runs out: while nothing is due, a
   * run is one index lookup.
   */
  async expireHolds(now = new Date()): Promise<{ expired: number; dueInMs?: number }> {
    if (this.strandedMayExist) await this.returnStranded();
    const next = await this.purchases.nextHoldExpiry();
    if (!next || next.getTime() > now.getTime()) return { expired: 0, ...(next ? { dueInMs: next.getTime() - now.getTime() } : {}) };
    const due = await this.purchases.heldUntil(now, EXPIRY_BATCH);
    const charged = await this.chargesOf(due);
    const locked = await this.purchases.withPurchaseLocks(due.map((p) => p.id), async (found) => new Map(found.map((p) => [p.id,
      p.status !== 'HELD' || p.holdExpiresAt.getTime() > now.getTime()
        ? { result: false }
        : { result: true, to: 'EXPIRED' as const, reason: 'hold ran out', event: charged(p) },
    ])));
    const ended = due.filter((p) => locked.get(p.id)?.result);
    const returned = await Promise.allSettled(ended.map((p) => this.returnUnit(p)));
    const expired = ended.length;
    if (expired) this.announce();
    const failed = returned.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    // The next run finds when the next hold runs out (or more that are due already).
    return { expired, dueInMs: 0 };
  }

  /** A paid unit comes back to its sale (its order was cancelled or returned): exactly once. */
  async restock(purchaseId: string): Promise<Purchase> {
    const locked = await this.purchases.withPurchaseLock(purchaseId, async (p) => {
      if (p.status === 'RESTOCKED') return { result: 'done' as const };
      if (p.status !== 'PAID') throw SaleErrors.notPaid(p.status);
      return { result: 'done' as const, to: 'RESTOCKED' as const, reason: 'order cancelled or returned' };
    });
    if (!locked) throw AppError.notFound(`Purchase ${purchaseId}`);
    await this.stock.returnSold(purchaseId);
    this.board.unitReturned(locked.purchase.saleId);
    return locked.purchase;
  }

  /** A purchase as recorded (for another service to confirm what an event says). */
  async record(purchaseId: string): Promise<Purchase> {
    const purchase = await this.purchases.byId(purchaseId);
    if (!purchase) throw AppError.notFound(`Purchase ${purchaseId}`);
    return purchase;
  }

  async history(buyerId: string) {
    return this.purchases.ofBuyer(buyerId);
  }

  private paid(p: Purchase, productId: string, paymentReference: string) {
    // One order per paid purchase: order-service creates it under the purchase's id.
    return { to: 'PAID' as const, reason: 'payment captured', orderId: p.id, paymentReference, event: purchasePaidEvent(p, productId, paymentReference, new Date()) };
  }

  /** Gives the purchase's unit back to its sale (idempotent in the stock ledger). */
  private async returnUnit(purchase: Pick<Purchase, 'id' | 'saleId'>): Promise<void> {
    try {
      await this.unitReturns.submit(purchase.id);
    } catch (err) {
      // Retried by the next expiry run (returnStranded).
      this.strandedMayExist = true;
      this.holdsDue(STRANDED_RETRY_MS);
      throw err;
    }
    this.board.unitReturned(purchase.saleId);
  }

  /**
   * Gives back the units of purchases that ended unpaid while their unit stayed held: a purchase ends in one
   * transaction and its unit goes back after it, so a process that dies (or a release that fails) in between leaves
   * the unit held until its stock hold runs out, STOCK_HOLD_MARGIN_SECONDS after the purchase's. Looked for once
   * after a start and after a failed release, not on every run.
   */
  private async returnStranded(): Promise<void> {
    this.strandedMayExist = false;
    const stranded = await this.purchases.endedWithUnitHeld(EXPIRY_BATCH).catch((err: unknown) => {
      this.strandedMayExist = true;
      throw err;
    });
    await Promise.all(stranded.map((purchase) => this.returnUnit(purchase)));
    if (stranded.length === EXPIRY_BATCH) this.strandedMayExist = true;
  }

  /**
   * The refund each of these held purchases needs when it ends unpaid: one whose charge landed while its payment was
   * never recorded (the paying process died between the two, or its database connection did, and the buyer walked away
   * from the lost answer) must not keep the money. The provider's book tells, for all of them in one read; when it
   * cannot be read, each gets a void (order-service's refund gives back what landed and bars a charge still coming).
   * A payment still running in a live process finds the purchase ended and refunds on its own (pay); both ask under
   * the same refund key, or order-service keeps the first.
   */
  private async chargesOf(purchases: Purchase[]): Promise<(p: Purchase) => ReturnType<typeof refundOf> | undefined> {
    if (!purchases.length) return () => undefined;
    const statements = await this.payments.statements(purchases.map((p) => p.id)).catch(() => undefined);
    if (!statements) return (p) => refundOf(p, 'void', 'ended unpaid; its charge could not be looked up');
    return (p) => {
      const statement = statements.get(p.id);
      return statement && statement.charged > statement.refunded ? refundOf(p, 'expired', 'ended unpaid with a charge that never became a payment') : undefined;
    };
  }

  private async owned(purchaseId: string, buyerId: string): Promise<Purchase> {
    const purchase = await this.purchases.byId(purchaseId);
    if (!purchase || purchase.buyerId !== buyerId) throw AppError.notFound(`Purchase ${purchaseId}`);
    return purchase;
  }

  private sameSale(purchase: Purchase, saleId: string): Purchase {
    if (purchase.saleId !== saleId) throw SaleErrors.keyReused();
    return purchase;
  }
}

/** Asks order-service (which settles every refund) to give back whatever this purchase's charge took. */
function refundOf(p: Purchase, why: 'void' | 'expired', reason: string) {
  return {
    topic: REFUND_REQUESTED_TOPIC,
    data: {
      paymentId: p.id, refundKey: `${why}-${p.id}`, userId: p.buyerId, saleId: p.saleId, amount: p.price,
      charge: why === 'void' ? 'TIMED_OUT' : 'PAID', reason,
    } satisfies RefundRequested,
  };
}
