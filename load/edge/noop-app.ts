/** A service that does nothing: every request answers 401 with a small problem body, like the auth guard would. */
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.use((_req, res) => void res.status(401).type('application/problem+json').send('{"status":401,"code":"UNAUTHENTICATED"}'));
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
