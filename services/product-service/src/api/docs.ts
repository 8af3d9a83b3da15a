import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { handle, mergeDocuments, z, type OpenAPIRegistry } from '@flash/http';
import type { Dapr } from '@flash/dapr';
import { publicApiDocument } from '../domain/api-document';

const DOCUMENT_PATH = '/api/docs/openapi.json';

/** The public API document and its browsable UI; the ingress routes /api/docs here. */
export function docsRouter(dapr: Dapr, sources: string[], docs: OpenAPIRegistry): Router {
  docs.registerPath({
    method: 'get', path: DOCUMENT_PATH, tags: ['operations'], summary: 'The OpenAPI document of the whole public API',
    responses: { 200: { description: 'OpenAPI 3 document', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
  });
  docs.registerPath({
    method: 'get', path: '/api/docs', tags: ['operations'], summary: 'Browsable API documentation',
    responses: { 200: { description: 'Swagger UI', content: { 'text/html': { schema: z.string() } } } },
  });
  const router = Router();
  router.get(DOCUMENT_PATH, handle(async (_req, res) => {
    res.json(await publicApiDocument(sources, (appId) => dapr.invoke(appId, 'openapi.json'), mergeDocuments));
  }));
  const ui = { swaggerOptions: { url: DOCUMENT_PATH }, customSiteTitle: 'Flash sale API' };
  router.use('/api/docs', swaggerUi.serveFiles(undefined, ui), swaggerUi.setup(undefined, ui));
  return router;
}
