import type { Dapr } from '@flash/dapr';
import type { RecordedPurchase, StockGateway } from '../domain/ports';

/** product-service and purchase-service, through this service's sidecar. */
export function daprStockGateway(dapr: Dapr): StockGateway {
  const post = (app: string, path: string, body: unknown = {}) => dapr.invoke(app, path, { method: 'POST', body });
  return {
    product: (id) => dapr.find<{ id: string; name: string; price: number }>('product-service', `api/products/${id}`),
    async reserve(productId, quantity, reservationId, holdSeconds) {
      await post('product-service', 'internal/stock/reservations', { productId, quantity, reservationId, holdSeconds });
    },
    async commit(reservationId) {
      await post('product-service', `internal/stock/reservations/${reservationId}/commit`);
    },
    async release(reservationId) {
      await post('product-service', `internal/stock/reservations/${reservationId}/release`);
    },
    async restockProduct(reservationId) {
      await post('product-service', `internal/stock/reservations/${reservationId}/restock`);
    },
    async restockFlash(purchaseId) {
      await post('purchase-service', `internal/purchases/${purchaseId}/restock`);
    },
    flashPurchase: (purchaseId) => dapr.find<RecordedPurchase>('purchase-service', `internal/purchases/${purchaseId}`),
  };
}
