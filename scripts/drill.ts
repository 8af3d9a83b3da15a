/** `npm run drill -- <name>|all`: the fault drills live in load/drills (see its main.ts and the README's Faults). */
import { main } from '../load/drills/main';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
