import pino, { type Logger } from 'pino';
import pinoHttp from 'pino-http';
import type { IncomingMessage } from 'node:http';

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
 * One compact line per request: what was asked, of whom, the answer's status and time. No headers: they cost more to
 * serialise (and redact) than the request costs to answer, and they are where credentials travel.
 */
export function requestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: req.url, remoteAddress: req.remoteAddress }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customProps: (req) => ({ traceId: traceIdOf(req) }),
    autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
  });
}
