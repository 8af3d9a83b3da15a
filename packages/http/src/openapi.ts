import {
  OpenAPIRegistry, OpenApiGeneratorV3, extendZodWithOpenApi, type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { Router, type Express, type RequestHandler } from 'express';
import { z } from 'zod';
import { addLeanRoute, type LeanHandler } from './lean';

extendZodWithOpenApi(z);

export { OpenAPIRegistry, z };

export type OpenApiDocument = ReturnType<OpenApiGeneratorV3['generateDocument']>;
type InfoObject = OpenApiDocument['info'];
type TagObject = NonNullable<OpenApiDocument['tags']>[number];
type ServerObject = NonNullable<OpenApiDocument['servers']>[number];

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://flash-sale.dev/problems/validation-failed' }),
    title: z.string().openapi({ example: 'Validation failed' }),
    status: z.number().int().openapi({ example: 400 }),
    code: z.string().openapi({ description: 'Stable, machine-readable error code', example: 'VALIDATION_FAILED' }),
    detail: z.string().optional(),
    instance: z.string().optional().openapi({ description: 'The request path' }),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional()
      .openapi({ description: 'One message per invalid field (VALIDATION_FAILED)' }),
  })
  .openapi('Problem', { description: 'An RFC 9457 problem: every error answer of the API has this body' });

const RetryAfter = z.string().openapi({ description: 'Seconds to wait before trying again', example: '30' });

/** A JSON request body or response content, for an operation. */
export const jsonContent = (schema: z.ZodTypeAny) => ({ content: { 'application/json': { schema } } });

/** An error answer: a problem body. */
export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

/** An error answer that tells the caller when to try again (429, 503). */
export const retryLaterResponse = (description: string) => ({
  ...problemResponse(description),
  headers: z.object({ 'Retry-After': RetryAfter }),
});

/** What any operation may answer when the server or a service behind it fails. */
const serverErrorResponse = retryLaterResponse('INTERNAL, or SERVICE_UNAVAILABLE (503, with Retry-After) while a service behind this one is down');

export interface ApiTag {
  name: string;
  description: string;
}

const declaredTags = new WeakMap<OpenAPIRegistry, Map<string, ApiTag>>();

function declareTag(registry: OpenAPIRegistry, tag: ApiTag): void {
  if (!declaredTags.has(registry)) declaredTags.set(registry, new Map());
  declaredTags.get(registry)!.set(tag.name, tag);
}

/** An operation as documented; method, path and tag come from where the route is declared. */
export type Operation = Omit<RouteConfig, 'method' | 'path' | 'tags' | 'operationId' | 'summary' | 'description'> & {
  /** Stable name client generators use for the call (`createFlashSalePurchase`); never rename it. */
  operationId: string;
  summary: string;
  description: string;
  /** Overrides the tag of the ApiRoutes it is declared on. */
  tag?: ApiTag;
};

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Declare = (path: string, operation: Operation, ...handlers: RequestHandler[]) => ApiRoutes;

/**
 * Routes declared once: each call documents the operation in the service's registry and serves it on `router`.
 * Paths are written in OpenAPI form (`/api/orders/{id}`); express gets `/api/orders/:id`.
 */
export class ApiRoutes {
  readonly router = Router();
  readonly get: Declare = this.declare('get');
  readonly post: Declare = this.declare('post');
  readonly put: Declare = this.declare('put');
  readonly patch: Declare = this.declare('patch');
  readonly delete: Declare = this.declare('delete');

  constructor(private readonly docs: OpenAPIRegistry, private readonly tag: ApiTag) {}

  /**
   * A route the crowd hits (lean.ts): documented like the others, served straight from Node's HTTP server, and by
   * express when the path is written unusually. Its handler does its own checks (authentication included).
   */
  lean(method: Method, path: string, operation: Operation, handle: LeanHandler): ApiRoutes {
    return this.declare(method)(path, operation, addLeanRoute(this.router, method, path, handle));
  }

  private declare(method: Method): Declare {
    return (path, { tag = this.tag, responses, ...operation }, ...handlers) => {
      declareTag(this.docs, tag);
      this.docs.registerPath({ ...operation, method, path, tags: [tag.name], responses: { ...responses, '5XX': serverErrorResponse } });
      this.router[method](path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1'), ...handlers);
      return this;
    };
  }
}

export const OPERATIONS_TAG: ApiTag = {
  name: 'operations',
  description: 'Health, readiness, metrics and API documents. Per service, /healthz, /readyz and /metrics are for probes and scrapers, not routed by the ingress.',
};

/** The operational endpoints every service has, documented where they are served. */
export function operationalRoutes(docs: OpenAPIRegistry, ready: RequestHandler, metrics: RequestHandler, document: () => OpenApiDocument): Router {
  const text = (description: string) => ({ description, content: { 'text/plain': { schema: z.string() } } });
  const checks = z.object({ status: z.enum(['ready', 'not-ready']), checks: z.record(z.string()) });
  return new ApiRoutes(docs, OPERATIONS_TAG)
    .get('/healthz', {
      operationId: 'checkLiveness', summary: 'Liveness', description: 'Answers while the process is alive.',
      responses: { 200: text('alive') },
    }, (_req, res) => {
      res.type('text/plain').send('ok');
    })
    .get('/readyz', {
      operationId: 'checkReadiness', summary: 'Readiness: database and Dapr sidecar',
      description: 'Runs every readiness check; 503 names the ones failing.',
      responses: {
        200: { description: 'ready', ...jsonContent(checks) },
        503: { description: 'not ready', ...jsonContent(checks) },
      },
    }, ready)
    .get('/metrics', {
      operationId: 'getMetrics', summary: 'Prometheus metrics', description: 'Metrics in the Prometheus text format.',
      responses: { 200: text('metrics') },
    }, metrics)
    .get('/openapi.json', {
      operationId: 'getServiceApiDocument', summary: "This service's OpenAPI document",
      description: "Every route of this service, internal ones included; the public document is assembled from these.",
      responses: { 200: { description: 'OpenAPI 3 document', ...jsonContent(z.object({}).passthrough()) } },
    }, (_req, res) => {
      res.json(document());
    })
    .router;
}

/** One service's own document: every route it serves, with the tags its routes declared. */
export function generateDocument(registry: OpenAPIRegistry, title: string, version = '0.1.0'): OpenApiDocument {
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title, version },
    tags: [...(declaredTags.get(registry)?.values() ?? [])],
  });
}

/** Paths under this prefix are what the ingress routes: the public API. */
export const PUBLIC_PATH_PREFIX = '/api/';

export interface PublicDocumentParts {
  info: InfoObject;
  servers: ServerObject[];
}

/** The `#/components/schemas/...` names reachable from a part of a document, following references transitively. */
function referencedSchemas(start: unknown, schemas: Record<string, unknown>): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const name = key === '$ref' && typeof value === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(value)?.[1] : undefined;
      if (name !== undefined) {
        if (!found.has(name)) {
          found.add(name);
          visit(schemas[name]);
        }
      } else {
        visit(value);
      }
    }
  };
  visit(start);
  return found;
}

/**
 * The public document served at /api/docs/openapi.json: the public paths of several services' documents, with
 * the tags, security schemes and schemas they use. `x-sources` names the services in it.
 */
export function mergeDocuments(parts: PublicDocumentParts, docs: OpenApiDocument[]): OpenApiDocument & { 'x-sources': string[] } {
  const paths: NonNullable<OpenApiDocument['paths']> = {};
  const tags = new Map<string, TagObject>();
  const schemas: Record<string, unknown> = {};
  const securitySchemes: Record<string, unknown> = {};
  for (const doc of docs) {
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (path.startsWith(PUBLIC_PATH_PREFIX)) paths[path] = { ...paths[path], ...item };
    }
    for (const tag of doc.tags ?? []) tags.set(tag.name, tag);
    Object.assign(schemas, doc.components?.schemas ?? {});
    Object.assign(securitySchemes, doc.components?.securitySchemes ?? {});
  }
  const operations = Object.values(paths).flatMap((item) => Object.values(item) as { tags?: string[]; security?: Record<string, string[]>[] }[]);
  const usedTags = new Set(operations.flatMap((op) => op.tags ?? []));
  const usedSchemes = new Set(operations.flatMap((op) => (op.security ?? []).flatMap((s) => Object.keys(s))));
  const usedSchemas = referencedSchemas(paths, schemas);
  const pick = <T>(all: Record<string, T>, used: Set<string>) =>
    Object.fromEntries(Object.keys(all).filter((name) => used.has(name)).sort().map((name) => [name, all[name]!]));
  return {
    openapi: '3.0.3',
    info: parts.info,
    servers: parts.servers,
    tags: [...tags.values()].filter((tag) => usedTags.has(tag.name)),
    paths,
    components: { schemas: pick(schemas, usedSchemas), securitySchemes: pick(securitySchemes, usedSchemes) } as OpenApiDocument['components'],
    'x-sources': docs.map((d) => d.info.title),
  };
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
