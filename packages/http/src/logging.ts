import pino, { type Logger } from 'pino';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';

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

const UNLOGGED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One compact line per request once it is answered: what was asked, of whom, the answer's status and time (an answer
 * ≥ 500 at level error, the rest at info). No headers: they cost more to serialise (and redact) than the request
 * costs to answer, and they are where credentials travel. Nothing is built for a line the level leaves out (a crowd
 * at LOG_LEVEL=warn pays a listener per request, no child logger, no serialising).
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    req.log = logger;
    if (!UNLOGGED.has(req.url)) {
      const began = performance.now();
      res.once('finish', () => {
        const level = res.statusCode >= 500 ? 'error' : 'info';
        if (!logger.isLevelEnabled(level)) return;
        logger[level]({
          req: { method: req.method, url: req.originalUrl, remoteAddress: req.socket.remoteAddress },
          res: { statusCode: res.statusCode },
          responseTime: Math.round(performance.now() - began),
          traceId: traceIdOf(req),
        }, level === 'error' ? 'request errored' : 'request completed');
      });
    }
    next();
  };
}
