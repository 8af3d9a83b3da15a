import pino, { type Logger } from 'pino';
import type { IncomingMessage } from 'node:http';

declare module 'node:http' {
  interface IncomingMessage {
    /** The service's logger, for what a request handler has to say. */
    log: Logger;
  }
}

export type { DestinationStream, Logger } from 'pino';

/** Request and response headers that carry credentials: never written to a log. */
export const REDACTED_HEADERS = ['authorization', 'cookie', 'dapr-api-token', 'x-api-key'];

export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [...REDACTED_HEADERS.map((h) => `req.headers["${h}"]`), 'res.headers["set-cookie"]'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** W3C traceparent is `version-traceid-spanid-flags`; Dapr propagates it on invocation and pub/sub. */
export function traceIdOf(req: IncomingMessage): string | undefined {
  const header = req.headers.traceparent;
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split('-')[1];
}

/**
 * One compact line per answered request: what was asked, of whom, the answer's status and time (an answer ≥ 500 at
 * level error, the rest at info). No headers: they cost more to serialise (and redact) than the request costs to
 * answer, and they are where credentials travel. Nothing is built for a line the level leaves out.
 */
export function logAnswered(logger: Logger, req: IncomingMessage & { originalUrl?: string }, statusCode: number, ms: number): void {
  const level = statusCode >= 500 ? 'error' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  logger[level]({
    req: { method: req.method, url: req.originalUrl ?? req.url, remoteAddress: req.socket.remoteAddress },
    res: { statusCode },
    responseTime: Math.round(ms),
    traceId: traceIdOf(req),
  }, level === 'error' ? 'request errored' : 'request completed');
}
