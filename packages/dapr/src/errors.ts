import { AppError } from '@flash/http';

/** A state write lost a race: the key changed since it was read (stale ETag) or already exists (create). */
export class ConcurrencyConflictError extends AppError {
  constructor(readonly key: string) {
    super(409, 'CONCURRENCY_CONFLICT', 'Concurrent update', `The state of ${key} changed concurrently.`);
    this.name = 'ConcurrencyConflictError';
  }
}

/** The sidecar itself failed (unreachable, component error); never the answer of the invoked app. */
export class SidecarError extends AppError {
  constructor(operation: string, readonly sidecarStatus: number, readonly sidecarBody: string) {
    super(503, 'DEPENDENCY_UNAVAILABLE', 'Dependency unavailable', `Dapr ${operation} failed (${sidecarStatus}).`, undefined, {
      'retry-after': '1',
    });
    this.name = 'SidecarError';
  }
}
