import { createHash } from 'node:crypto';
import type { Response } from 'express';

/**
 * Cache-Control of pages that show a snapshot: caches keep the page but ask again each time, and the answer to a
 * repeat is a 304 from the page's ETag. (`max-age` counts whole seconds, which would double the staleness.)
 */
export const PAGE_CACHE_CONTROL = 'no-cache';

/** A weak validator of a body: the same bytes, the same tag. */
const tagOf = (body: string) => `W/"${createHash('sha1').update(body).digest('base64url')}"`;

/**
 * Answers a page the crowd refreshes (a sale, a product) as JSON with `Cache-Control: no-cache` and an ETag; a client,
 * CDN or ingress that sends the same tag in `If-None-Match` gets a 304 without the body (express's freshness check).
 * Only pages carry an ETag: the service turns express's ETag on every answer off (see buildService).
 */
export function sendPage(res: Response, value: unknown): void {
  const body = JSON.stringify(value);
  res.set({ 'Cache-Control': PAGE_CACHE_CONTROL, ETag: tagOf(body) }).type('json').send(body);
}
