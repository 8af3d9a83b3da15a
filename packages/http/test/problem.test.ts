import http from 'node:http';
import { Router } from 'express';
import mysql from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { freePort, mysqlServerFromEnv, waitUntil } from '@flash/stack';
import { buildService, createLogger, handle, OpenAPIRegistry } from '../src';

/** A service whose routes fail as `routes` make them fail, listening on a free port; resolves its URL and its closing. */
async function serviceWith(routes: Record<string, () => Promise<unknown>>) {
  const router = Router();
  for (const [path, work] of Object.entries(routes)) router.get(path, handle(async (_req, res) => res.json(await work())));
  const { app } = buildService({ name: 'problem-test', logLevel: 'silent', logger: createLogger('problem-test', 'silent'), docs: new OpenAPIRegistry(), readiness: {}, routers: [router] });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

async function get(url: string): Promise<{ status: number; retryAfter?: string; body: { code?: string } }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString())).on('end', () =>
        resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body: JSON.parse(text) as { code?: string } }));
    }).on('error', reject);
  });
}

describe('answers when a store is out of reach', () => {
  const server = mysqlServerFromEnv();

  it('when the database refuses connections (a server restarting), then the answer is 503 SERVICE_UNAVAILABLE with Retry-After, not a 500', async () => {
    const port = await freePort();
    const service = await serviceWith({ '/stock': () => mysql.createConnection({ ...server, port, connectTimeout: 2000 }) });
    try {
      const answer = await get(`${service.url}/stock`);
      expect(answer).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'SERVICE_UNAVAILABLE' } });
    } finally {
      await service.close();
    }
  });

  it('when the database drops a connection mid-query (as a kill -9 of the server does), then the answer is 503 with Retry-After', async () => {
    const db = await new DataSource({ type: 'mysql', ...server, username: server.user, poolSize: 1 }).initialize();
    const admin = await mysql.createConnection(server);
    try {
      const { id } = ((await db.query('SELECT CONNECTION_ID() AS id')) as { id: number }[])[0]!;
      const service = await serviceWith({
        '/ledger': async () => {
          const slow = db.query('SELECT SLEEP(10)');
          // It may fail while the kill is still being answered: handled below, not an unhandled rejection meanwhile.
          slow.catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 200));
          await admin.query(`KILL CONNECTION ${Number(id)}`);
          return slow;
        },
      });
      try {
        expect(await get(`${service.url}/ledger`)).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'SERVICE_UNAVAILABLE' } });
        // The pool opens a new connection and answers again (the dropped one may be handed out once more before the
        // pool has seen it close: that query fails as the one above did, a 503 to retry).
        await waitUntil('the pool answers again', async () => ((await db.query('SELECT 1 AS one')) as { one: number }[])[0]?.one === 1, 5_000, 50);
      } finally {
        await service.close();
      }
    } finally {
      await admin.end();
      await db.destroy();
    }
  });

  it('when a request fails for any other reason, then the answer is still 500 INTERNAL without internals', async () => {
    const service = await serviceWith({ '/broken': () => Promise.reject(new Error('secret detail of a bug')) });
    try {
      const answer = await get(`${service.url}/broken`);
      expect(answer).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
      expect(JSON.stringify(answer.body)).not.toContain('secret detail');
      expect(answer.retryAfter).toBeUndefined();
    } finally {
      await service.close();
    }
  });
});
