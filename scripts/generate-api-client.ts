// Writes the public API document as a stack of every service serves it, and the typed client's types generated from it.
import { writeFileSync } from 'node:fs';
import { clientTypes, documentText, GENERATED, servedPublicDocument } from '../test/support/api-document';

async function main(): Promise<void> {
  const document = await servedPublicDocument();
  writeFileSync(GENERATED.document, documentText(document));
  await clientTypes('write');
  process.stdout.write(`wrote ${GENERATED.document} and ${GENERATED.types}\n`);
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
