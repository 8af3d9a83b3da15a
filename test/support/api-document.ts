import { readFileSync } from 'node:fs';
import path from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { repoRoot } from '@flash/stack';
import { SERVICES, startTestStack } from './stack';

/** Where the committed public document and the client types generated from it live. */
export const GENERATED = {
  document: path.join(repoRoot, 'packages/stack/src/api/openapi.json'),
  types: path.join(repoRoot, 'packages/stack/src/api/types.ts'),
};

/** The document as committed: formatted JSON. */
export const documentText = (document: unknown) => `${JSON.stringify(document, null, 2)}\n`;

/** The TypeScript types openapi-typescript generates from a document. */
export async function clientTypesFor(document: unknown): Promise<string> {
  // A property with a default may be left out of a request: it is optional in the types too.
  const ast = await openapiTS(document as Parameters<typeof openapiTS>[0], { defaultNonNullable: false });
  return `${COMMENT_HEADER}// Generated from openapi.json next to it by \`npm run api:generate\`; do not edit.\n\n${astToString(ast)}`;
}

export const committed = (file: string) => readFileSync(file, 'utf8');

/** The public document as the running system serves it at /api/docs/openapi.json (a stack of every service). */
export async function servedPublicDocument(): Promise<unknown> {
  const stack = await startTestStack(SERVICES);
  try {
    // Plain fetch: the checked client reads the committed document, which this may be about to replace.
    const res = await fetch(`${stack.edgeUrl}/api/docs/openapi.json`);
    if (!res.ok) throw new Error(`/api/docs/openapi.json → ${res.status}: ${await res.text()}`);
    return await res.json();
  } finally {
    await stack.stop();
  }
}
