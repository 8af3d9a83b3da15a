/** A service that does nothing: every request answers 401 with a small problem body, like the auth guard would. */
import express from 'express';
import { LISTEN_BACKLOG } from '@flash/http';

const app = express();
app.disable('x-powered-by');
app.use((_req, res) => void res.status(401).type('application/problem+json').send('{"status":401,"code":"UNAUTHENTICATED"}'));
// The services' accept queue, so the edge meets the same as in front of them.
const server = app.listen({ port: Number(process.env.PORT), host: '127.0.0.1', backlog: LISTEN_BACKLOG }, () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
