import { OpenAPIRegistry, OpenApiGeneratorV3, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import type { Express } from 'express';
import { z } from 'zod';

extendZodWithOpenApi(z);

export { OpenAPIRegistry, z };

export type OpenApiDocument = ReturnType<OpenApiGeneratorV3['generateDocument']>;

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().openapi({ example: 'VALIDATION_FAILED' }),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

/** A JSON request body or response content, for registerPath. */
export const jsonContent = (schema: z.ZodTypeAny) => ({ content: { 'application/json': { schema } } });

/** The responses every endpoint may give: a problem body. */
export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

/** Documents the operational endpoints every service has. */
export function registerOperationalPaths(registry: OpenAPIRegistry): void {
  const text = (description: string) => ({ description, content: { 'text/plain': { schema: z.string() } } });
  const checks = z.object({ status: z.enum(['ready', 'not-ready']), checks: z.record(z.string()) });
  registry.registerPath({ method: 'get', path: '/healthz', tags: ['operations'], summary: 'Liveness', responses: { 200: text('alive') } });
  registry.registerPath({
    method: 'get', path: '/readyz', tags: ['operations'], summary: 'Readiness: database and Dapr sidecar',
    responses: {
      200: { description: 'ready', content: { 'application/json': { schema: checks } } },
      503: { description: 'not ready', content: { 'application/json': { schema: checks } } },
    },
  });
  registry.registerPath({ method: 'get', path: '/metrics', tags: ['operations'], summary: 'Prometheus metrics', responses: { 200: text('metrics') } });
  registry.registerPath({
    method: 'get', path: '/openapi.json', tags: ['operations'], summary: "This service's OpenAPI document",
    responses: { 200: { description: 'OpenAPI 3 document', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
  });
}

export function generateDocument(registry: OpenAPIRegistry, title: string, version = '0.1.0'): OpenApiDocument {
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title, version },
  });
}

/** Merges several services' documents into the one the ingress serves; `x-sources` names the services in it. */
export function mergeDocuments(title: string, docs: OpenApiDocument[]): OpenApiDocument & { 'x-sources': string[] } {
  const merged: OpenApiDocument & { 'x-sources': string[] } = {
    openapi: '3.0.3',
    info: { title, version: '0.1.0' },
    paths: {},
    components: { schemas: {} },
    'x-sources': docs.map((d) => d.info.title),
  };
  for (const doc of docs) {
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      merged.paths[path] = { ...merged.paths[path], ...item };
    }
    Object.assign(merged.components!.schemas!, doc.components?.schemas ?? {});
  }
  return merged;
}

interface RouteLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  name?: string;
  handle?: { stack?: RouteLayer[] };
}

/** Lists `METHOD /path` for every route of an express 4 app, paths in OpenAPI form (`{id}`). */
export function listRoutes(app: Express): string[] {
  const routes: string[] = [];
  const walk = (stack: RouteLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const method of Object.keys(layer.route.methods)) {
            routes.push(`${method.toUpperCase()} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
          }
        }
      } else if (layer.name === 'router' && layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { _router: { stack: RouteLayer[] } })._router.stack);
  return routes;
}

export function documentedRoutes(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );
}
