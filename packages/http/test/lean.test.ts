import http from 'node:http';
import { Writable } from 'node:stream';
import { ApiRoutes, AppError, buildService, createLogger, listen, OpenAPIRegistry, problemResponse, type RunningService } from '../src';

/** What a client sees: status, headers and the parsed body. */
function request(port: number, method: string, path: string, options: { body?: string; agent?: http.Agent } = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }>((resolve, reject) => {
    const req = http.request({ port, host: '127.0.0.1', method, path, agent: options.agent }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString())).on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** One instance for every refusal, as the crowd's refusals are. */
const TAKEN = new AppError(409, 'TAKEN', 'Taken', 'Someone has it.', undefined, { 'retry-after': '3' });

describe('lean routes: the hot path served by Node’s HTTP server, the same answers as through express', () => {
  let running: RunningService;
  let metrics: ReturnType<typeof buildService>['metrics'];
  const lines: string[] = [];
  const seen: string[] = [];

  beforeAll(async () => {
    const docs = new OpenAPIRegistry();
    const routes = new ApiRoutes(docs, { name: 'test', description: 'test' })
      .lean('post', '/api/things/{id}/holds', {
        operationId: 'holdThing', summary: 'Hold a thing', description: 'For the test.',
        responses: { 201: { description: 'held' }, 409: problemResponse('TAKEN') },
      }, async (req, { id }) => {
        seen.push(id!);
        if (id === 'taken') throw TAKEN;
        if (id === 'broken') throw new Error('a bug');
        if (id === 'unwritable') return { status: 201, body: { id, count: 1n } };
        return { status: 201, body: { id, by: req.headers['x-who'] ?? null } };
      })
      .router;
    const logger = createLogger('lean-test', 'info', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const built = buildService({ name: 'lean-test', logLevel: 'info', logger, docs, readiness: {}, routers: [routes] });
    metrics = built.metrics;
    running = await listen(built, 0);
  });

  afterAll(async () => {
    await running?.stop();
  });

  it('when the route is asked, then it answers JSON with the status, is metered under its route and logged', async () => {
    const answer = await request(running.port, 'POST', '/api/things/t-1/holds?x=1');
    expect(answer).toMatchObject({ status: 201, body: { id: 't-1', by: null } });
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/http_request_duration_seconds_count\{service="lean-test",method="POST",route="\/api\/things\/:id\/holds",status="201"\} 1/);
    expect(lines.join('')).toContain('"url":"/api/things/t-1/holds?x=1"');
  });

  it('when the handler refuses, then the answer is its problem with its headers; a bug is a 500 without internals', async () => {
    const taken = await request(running.port, 'POST', '/api/things/taken/holds');
    expect(taken.body).toEqual({
      type: 'https://flash-sale.dev/problems/taken', title: 'Taken', status: 409, code: 'TAKEN', detail: 'Someone has it.', instance: '/api/things/taken/holds',
    });
    expect(taken.status).toBe(409);
    // The same refusal again, on another path: its own instance.
    expect((await request(running.port, 'POST', '/api/things/taken/holds?again="1"')).body).toMatchObject({ code: 'TAKEN', instance: '/api/things/taken/holds?again="1"' });
    expect(taken.headers['retry-after']).toBe('3');
    expect(taken.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const broken = await request(running.port, 'POST', '/api/things/broken/holds');
    expect(broken).toMatchObject({ status: 500, body: { code: 'INTERNAL', detail: 'Something went wrong on our side.' } });
    expect(JSON.stringify(broken.body)).not.toContain('a bug');
    // An answer JSON cannot write (a BigInt) is a bug too: a 500, and the service keeps answering.
    expect(await request(running.port, 'POST', '/api/things/unwritable/holds')).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
    expect(await request(running.port, 'POST', '/api/things/unwritable/holds/')).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
  });

  it('when the path has a percent-escape or a trailing slash, then express serves the same handler: decoded, or 400 for a broken escape', async () => {
    expect(await request(running.port, 'POST', '/api/things/t%2D2/holds')).toMatchObject({ status: 201, body: { id: 't-2' } });
    expect(await request(running.port, 'POST', '/api/things/t-3/holds/')).toMatchObject({ status: 201, body: { id: 't-3' } });
    expect(await request(running.port, 'POST', '/api/things/t%ZZ/holds')).toMatchObject({ status: 400, body: { code: 'MALFORMED_PATH' } });
    expect(await request(running.port, 'GET', '/api/things/t-4/holds')).toMatchObject({ status: 404, body: { code: 'ROUTE_NOT_FOUND' } });
    expect(seen).not.toContain('t%ZZ');
  });

  it('when a request sends a body the route does not read, then the connection carries the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(running.port, 'POST', '/api/things/t-5/holds', { agent, body: 'x'.repeat(200_000) });
      const second = await request(running.port, 'POST', '/api/things/t-6/holds', { agent });
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(second.body.id).toBe('t-6');
    } finally {
      agent.destroy();
    }
  });
});
