import { Writable } from 'node:stream';
import http from 'node:http';
import { buildService, createLogger, OpenAPIRegistry } from '../src';

/** Captures what a service logs, as its log file would hold it. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  return { lines, stream };
}

describe('request logs', () => {
  it('when a request carries credentials, then its log line has the request but none of its headers or secrets', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('logging-test', 'info', stream);
    const { app } = buildService({ name: 'logging-test', logLevel: 'info', logger, docs: new OpenAPIRegistry(), readiness: {}, routers: [] });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const secrets = { authorization: 'Bearer eyJhbGciOiJFZERTQSJ9.secret-payload.signature', cookie: 'session=s3cr3t-cookie', 'dapr-api-token': 'app-token-do-not-log-0123' };
    await new Promise<void>((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', path: '/api/somewhere', headers: secrets }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    await new Promise((resolve) => server.close(resolve));
    const logged = lines.join('');
    expect(logged).toContain('/api/somewhere');
    expect(logged).toContain('"statusCode":404');
    expect(logged).not.toContain('"headers"');
    for (const value of Object.values(secrets)) expect(logged).not.toContain(value.split(' ').pop()!);
  });
});
