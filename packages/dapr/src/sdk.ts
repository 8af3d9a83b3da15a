import { AppError, type ProblemBody } from '@flash/http';
import { SidecarError } from './errors';

/**
 * What a failed @dapr/dapr call tells us, whichever protocol carried it. Over HTTP the SDK throws (or returns as
 * `{ error }`) an Error whose message is JSON `{ error, error_msg, status }`; over gRPC it throws a ConnectError, or
 * `{ error: ConnectError }` from publish. Anything else (refused connection, timeout) has no status.
 */
export interface SidecarFailure {
  /** The HTTP status daprd (or the invoked app through it) answered; 0 when there was no answer. */
  status: number;
  /** The body of that answer (daprd's error JSON or the app's problem), or the transport's message. */
  body: string;
  /** The gRPC status code, for calls carried by gRPC. */
  grpcCode?: number;
}

export function sidecarFailure(thrown: unknown): SidecarFailure {
  const err = isWrapped(thrown) ? thrown.error : thrown;
  if (isConnectError(err)) return { status: httpStatusOf(err.code), body: err.rawMessage, grpcCode: err.code };
  const message = err instanceof Error ? err.message : String(err);
  try {
    const parsed = JSON.parse(message) as { status?: unknown; error_msg?: unknown };
    if (typeof parsed.status === 'number') return { status: parsed.status, body: String(parsed.error_msg ?? '') };
  } catch {
    // not the SDK's HTTP error shape: a network error
  }
  return { status: 0, body: message };
}

/** The problem an invoked app answered, as the AppError it threw there; undefined when the body is not one. */
export function problemOf(failure: SidecarFailure): AppError | undefined {
  try {
    const problem = JSON.parse(failure.body) as Partial<ProblemBody>;
    if (problem.status !== failure.status || typeof problem.code !== 'string' || typeof problem.title !== 'string') return undefined;
    return new AppError(problem.status, problem.code, problem.title, problem.detail, problem.errors);
  } catch {
    return undefined;
  }
}

/** Runs one SDK call with a deadline (the SDK sets none: a hung sidecar would hang the request). */
export async function withDeadline<T>(operation: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SidecarError(operation, 0, `no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([call(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** gRPC status codes (https://grpc.io/docs/guides/status-codes/), as the SDK's ConnectError carries them. */
const Code = { InvalidArgument: 3, DeadlineExceeded: 4, NotFound: 5, AlreadyExists: 6, PermissionDenied: 7, FailedPrecondition: 9, Aborted: 10, Unavailable: 14, Unauthenticated: 16 } as const;

// Duck-typed: the SDK's @connectrpc/connect is its own dependency, not ours to import.
const isConnectError = (err: unknown): err is { code: number; rawMessage: string } =>
  err instanceof Error && err.name === 'ConnectError' && typeof (err as { code?: unknown }).code === 'number';

const isWrapped = (value: unknown): value is { error: unknown } =>
  typeof value === 'object' && value !== null && !(value instanceof Error) && 'error' in value;

function httpStatusOf(code: number): number {
  switch (code) {
    case Code.Aborted:
    case Code.AlreadyExists:
      return 409;
    case Code.NotFound:
      return 404;
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
      return 400;
    case Code.Unauthenticated:
      return 401;
    case Code.PermissionDenied:
      return 403;
    case Code.Unavailable:
      return 503;
    case Code.DeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}
