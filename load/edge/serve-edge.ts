/** The local edge alone, routing every area to TARGET (the no-op app). */
import { createEdge, routes } from '@flash/edge';

const targets = Object.fromEntries(routes.map((r) => [r.service, process.env.TARGET!]));
const server = createEdge(targets).listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
