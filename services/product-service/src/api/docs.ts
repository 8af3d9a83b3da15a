import type { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { ApiRoutes, handle, jsonContent, mergeDocuments, OPERATIONS_TAG, z, type OpenAPIRegistry } from '@flash/http';
import type { Dapr } from '@flash/dapr';
import { cachedDocument, DOCUMENT_CACHE_MS, publicApiDocument } from '../domain/api-document';

const DOCUMENT_PATH = '/api/docs/openapi.json';

/** The public API document and its browsable UI; the ingress routes /api/docs here. */
export function docsRouter(dapr: Dapr, sources: string[], docs: OpenAPIRegistry): Router {
  const document = cachedDocument(() => publicApiDocument(sources, (appId) => dapr.invoke(appId, 'openapi.json'), mergeDocuments));
  // The token pasted into Authorize stays across page reloads; no online validator badge (nothing leaves the page).
  const ui = { swaggerOptions: { url: DOCUMENT_PATH, persistAuthorization: true, validatorUrl: null }, customSiteTitle: 'Flash sale API' };
  const routes = new ApiRoutes(docs, OPERATIONS_TAG).get(DOCUMENT_PATH, {
    operationId: 'getApiDocument', summary: 'The OpenAPI document of the whole public API',
    description: 'Assembled from every service\'s own document; a service that cannot be reached is named in `x-unavailable`.',
    responses: {
      200: {
        description: 'OpenAPI 3 document',
        ...jsonContent(z.object({
          openapi: z.string(),
          'x-sources': z.array(z.string()).openapi({ description: 'The services whose documents are in it' }),
          'x-unavailable': z.array(z.string()).optional().openapi({ description: 'The services that could not be reached' }),
        }).passthrough()),
      },
    },
  }, handle(async (_req, res) => {
    res.set('cache-control', `public, max-age=${DOCUMENT_CACHE_MS / 1000}`).json(await document());
  })).get('/api/docs', {
    operationId: 'getApiDocumentation', summary: 'Browsable API documentation',
    description: 'Swagger UI on the public document: Authorize with an access token, then try any operation.',
    responses: {
      200: { description: 'Swagger UI (at `/api/docs/`)', content: { 'text/html': { schema: z.string() } } },
      301: { description: 'To `/api/docs/`, where the UI finds its scripts and styles' },
    },
  }, (req, res, next) => (req.originalUrl.split('?')[0]!.endsWith('/') ? next() : res.redirect(301, '/api/docs/')));
  routes.router.use('/api/docs', swaggerUi.serveFiles(undefined, ui), swaggerUi.setup(undefined, ui));
  return routes.router;
}
