import type { OpenApiDocument, PublicDocumentParts } from '@flash/http';

const DESCRIPTION = `
The REST API of the flash-sale shop: accounts and sessions, the catalog, flash sales with one-unit holds, orders and
the wishlist. Every path below is served through the ingress under \`/api\`.

## Authentication
Log in with \`POST /api/auth/login\`; the answer's \`accessToken\` (an Ed25519 JWT, valid for minutes) goes into
\`Authorization: Bearer <accessToken>\` on every operation marked with a lock. Use **Authorize** above to paste one.
\`POST /api/auth/refresh\` exchanges the \`refreshToken\` for a new pair; each refresh token works once. Logging out
revokes a session's tokens everywhere within a second.

## Errors
Every error answer is \`application/problem+json\` (RFC 9457) with a stable, machine-readable \`code\` such as
\`VALIDATION_FAILED\`, \`SOLD_OUT\`, \`SALE_NOT_OPEN\`, \`LIMIT_REACHED\` or \`TOO_MANY_ATTEMPTS\`; branch on \`code\`, not on
\`title\` or \`detail\`. \`VALIDATION_FAILED\` (400) lists one message per invalid field in \`errors\`. Any operation may
answer 5XX when a service behind it fails.

## Retry-After
A 429 (too many attempts) or a 503 (a service is unavailable) carries \`Retry-After\` in seconds: wait at least that
long before trying again.

## Idempotency-Key
A flash-sale purchase attempt (\`createFlashSalePurchase\`) requires an \`Idempotency-Key\` header, unique per
attempt (a UUID). Retrying with the same key — after a timeout, a dropped connection or a 5XX — always returns the
answer the first attempt got and never holds a second unit. A key whose attempt was answered \`SOLD_OUT\` may be
tried again; the same key on another sale is refused with 422.

## Conventions
Bodies are JSON. Money is an integer in minor units. Times are ISO-8601 in UTC. Lists that can grow are paginated
with \`page\` and \`size\`.
`.trim();

/** What the public document says about itself: the API as a whole, where it is served. */
export const PUBLIC_DOCUMENT: PublicDocumentParts = {
  info: {
    title: 'Flash sale API',
    version: '0.1.0',
    description: DESCRIPTION,
    contact: { name: 'Flash sale maintainers' },
  },
  servers: [{ url: '/', description: 'The host serving this document (the ingress, or the edge of npm start)' }],
};

/** How long an assembled document is served before it is built again (each build asks every service once). */
export const DOCUMENT_CACHE_MS = 5000;

/** Serves one build of the document for `ttlMs`; concurrent requests share the build in progress. */
export function cachedDocument<D>(build: () => Promise<D>, ttlMs = DOCUMENT_CACHE_MS): () => Promise<D> {
  let cached: { document: D; at: number } | undefined;
  let building: Promise<D> | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < ttlMs) return cached.document;
    building ??= build()
      .then((document) => {
        cached = { document, at: Date.now() };
        return document;
      })
      .finally(() => (building = undefined));
    return building;
  };
}

/**
 * Builds the public document from every service's own. A service that cannot be reached is listed under
 * `x-unavailable` instead of failing the whole document.
 */
export async function publicApiDocument(
  sources: string[],
  fetchDocument: (appId: string) => Promise<OpenApiDocument>,
  merge: (parts: PublicDocumentParts, docs: OpenApiDocument[]) => OpenApiDocument,
): Promise<OpenApiDocument & { 'x-unavailable'?: string[] }> {
  const results = await Promise.allSettled(sources.map(fetchDocument));
  const documents = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const unavailable = sources.filter((_, i) => results[i]!.status === 'rejected');
  const merged = merge(PUBLIC_DOCUMENT, documents);
  return unavailable.length ? { ...merged, 'x-unavailable': unavailable } : merged;
}
