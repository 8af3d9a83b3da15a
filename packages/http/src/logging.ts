import pino, { type Logger } from 'pino';
import pinoHttp from 'pino-http';
import type { IncomingMessage } from 'node:http';

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

export function requestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    customProps: (req) => ({ traceId: traceIdOf(req) }),
    autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
  });
}
