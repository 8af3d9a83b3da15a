import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@flash/stack';
import { SERVICES, startTestStack } from './stack';

/** Where the committed public document and the client types generated from it live. */
export const GENERATED = {
  document: path.join(repoRoot, 'packages/stack/src/api/openapi.json'),
  types: path.join(repoRoot, 'packages/stack/src/api/types.ts'),
};

/** The document as committed: formatted JSON. */
export const documentText = (document: unknown) => `${JSON.stringify(document, null, 2)}\n`;

/**
 * openapi-typescript, writing the client types from the committed document (`--check`: fails when they differ).
 * A property with a default may be left out of a request, so it stays optional in the types.
 */
export async function clientTypes(mode: 'write' | 'check'): Promise<void> {
  await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/openapi-typescript'), [
    GENERATED.document, '--output', GENERATED.types, '--default-non-nullable=false', ...(mode === 'check' ? ['--check'] : []),
  ]);
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
