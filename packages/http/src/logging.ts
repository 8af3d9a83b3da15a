import pino, { type Logger } from 'pino';
import pinoHttp from 'pino-http';
import type { IncomingMessage } from 'node:http';

export function createLogger(service: string, level: string): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
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
