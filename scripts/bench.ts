/** `npm run bench -- <scenario>`: the benchmark lives in load/bench (see its main.ts and the README). */
import { main } from '../load/bench/main';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
