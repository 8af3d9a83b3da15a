/** `npm run build`: every service compiled to dist/<service>/main.js (see buildServices). */
import { buildServices } from '@flash/stack';

buildServices((line) => process.stdout.write(`[build] ${line}\n`)).catch((err: unknown) => {
  process.stderr.write(`[build] failed: ${String(err)}\n`);
  process.exit(1);
});
