import { createHash, timingSafeEqual } from 'node:crypto';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from './errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  errors?: { field: string; message: string }[];
}

export function toProblem(error: AppError, instance?: string): ProblemBody {
  return {
    type: `https://flash-sale.dev/problems/${error.code.toLowerCase().replace(/_/g, '-')}`,
    title: error.title,
    status: error.status,
    code: error.code,
    ...(error.detail ? { detail: error.detail } : {}),
    ...(instance ? { instance } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

/** Errors raised by express's own body parser carry a status and a type; a broken path escape is a URIError. */
function fromBodyParser(err: unknown): AppError | undefined {
  if (err instanceof URIError) return new AppError(400, 'MALFORMED_PATH', 'Malformed path', 'The path has a broken percent-encoding.');
  if (typeof err !== 'object' || err === null || !('type' in err) || !('status' in err)) return undefined;
  const { type, status } = err as { type: string; status: number };
  if (type === 'entity.parse.failed') return new AppError(400, 'MALFORMED_JSON', 'Malformed JSON', 'The request body is not valid JSON.');
  if (type === 'entity.too.large') return new AppError(413, 'PAYLOAD_TOO_LARGE', 'Payload too large', 'The request body is too large.');
  if (status >= 400 && status < 500) return new AppError(status, 'BAD_REQUEST', 'Bad request', 'The request body could not be read.');
  return undefined;
}

/**
 * Codes of a connection that could not be made or was lost: a database or another store restarting, a service behind
 * this one gone for a moment. The same request may well succeed shortly.
 */
const LOST_CONNECTION = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ER_CONNECTION_KILLED', 'ER_SERVER_SHUTDOWN']);

/** The lost-connection code of an error, however wrapped (TypeORM's `driverError`, fetch's `cause`), if it has one. */
export function lostConnectionCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const { code, driverError, cause } = e as { code?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof code === 'string' && LOST_CONNECTION.has(code)) return code;
    e = driverError ?? cause;
  }
  return undefined;
}

/** A lost connection is a 503 to retry, not a bug. */
function fromLostConnection(err: unknown): AppError | undefined {
  if (lostConnectionCode(err) === undefined) return undefined;
  return AppError.unavailable('A store this service needs could not be reached; retry the same request (with the same Idempotency-Key).');
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError(404, 'ROUTE_NOT_FOUND', 'Not found', `No route for ${req.method} ${req.path}.`));
};

/**
 * What an error answers: an AppError as it is; a lost connection → 503 with Retry-After (logged as a warning);
 * anything else is logged and answered 500 without internals.
 */
export function answerOf(err: unknown, log?: Logger): AppError {
  if (err instanceof AppError) return err;
  const lost = fromLostConnection(err);
  if (lost) {
    log?.warn({ err }, 'a connection was refused or lost; answered 503');
    return lost;
  }
  const known = fromBodyParser(err);
  if (known) return known;
  log?.error({ err }, 'unhandled error');
  return new AppError(500, 'INTERNAL', 'Internal server error', 'Something went wrong on our side.');
}

/** The central handler: every error a route passes on is answered as a problem (answerOf). */
export const problemHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const error = answerOf(err, req.log);
  if (error.headers) res.set(error.headers);
  res.status(error.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(toProblem(error, req.originalUrl)));
};

/** Express 4 does not catch rejected promises: a failed async handler goes to the problem handler through this. */
export function handle(fn: (req: Request, res: Response) => Promise<unknown>): RequestHandler {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Lets a request through only when it carries the app token its Dapr sidecar sends (`dapr-api-token`, daprd's
 * APP_API_TOKEN): a caller that reaches the app port directly, not through its sidecar, gets 401.
 */
export function requireAppToken(appToken: string): RequestHandler {
  const expected = digest(appToken);
  return (req, _res, next) => {
    const sent = req.headers['dapr-api-token'];
    if (typeof sent === 'string' && timingSafeEqual(digest(sent), expected)) return next();
    next(new AppError(401, 'DAPR_CALLER_REQUIRED', 'Unauthenticated', 'Only the Dapr sidecar may call this route.'));
  };
}
