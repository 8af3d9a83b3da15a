import type { OpenApiDocument } from '@flash/http';

/**
 * Builds the public document from every service's own. A service that cannot be reached is listed under
 * `x-unavailable` instead of failing the whole document.
 */
export async function publicApiDocument(
  sources: string[],
  fetchDocument: (appId: string) => Promise<OpenApiDocument>,
  merge: (title: string, docs: OpenApiDocument[]) => OpenApiDocument,
): Promise<OpenApiDocument & { 'x-unavailable'?: string[] }> {
  const results = await Promise.allSettled(sources.map(fetchDocument));
  const documents = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const unavailable = sources.filter((_, i) => results[i]!.status === 'rejected');
  const merged = merge('Flash sale API', documents);
  return unavailable.length ? { ...merged, 'x-unavailable': unavailable } : merged;
}
