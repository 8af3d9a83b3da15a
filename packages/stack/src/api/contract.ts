import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import publicDocument from './openapi.json';

/** The part of an OpenAPI 3.0 document the contract check reads. */
export interface ContractDocument {
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown> };
}

interface ResponseObject {
  content?: Record<string, { schema?: object }>;
}

/** An answer of the running API that its public document does not allow. */
export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

export interface Answer {
  method: string;
  url: string;
  status: number;
  contentType: string | null;
  /** The body as received (text), empty when there is none. */
  text: string;
}

const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json$/;
const PUBLIC_PREFIX = '/api/';

/**
 * Checks answers against an OpenAPI document: the route must be in it (or the API must not have it either),
 * the status must be declared, and a JSON body must match the declared schema.
 */
export class ContractChecker {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, formats: { int32: true, int64: true } });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: { path: string; pattern: RegExp; params: number }[];

  constructor(private readonly document: ContractDocument) {
    addFormats(this.ajv);
    this.templates = Object.keys(document.paths)
      .map((path) => ({
        path,
        pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
        params: (path.match(/\{/g) ?? []).length,
      }))
      // A literal segment wins over a parameter (/api/users/me before a /api/users/{id}).
      .sort((a, b) => a.params - b.params);
  }

  /** The documented path template a concrete path falls under. */
  templateOf(pathname: string): string | undefined {
    return this.templates.find((t) => t.pattern.test(pathname))?.path;
  }

  /** Throws ContractViolation when the answer disagrees with the document; paths outside /api/ are not public. */
  check(answer: Answer): void {
    const pathname = new URL(answer.url).pathname;
    if (!pathname.startsWith(PUBLIC_PREFIX)) return;
    const method = answer.method.toLowerCase();
    const template = this.templateOf(pathname);
    const operation = template ? (this.document.paths[template]![method] as { responses: Record<string, ResponseObject> } | undefined) : undefined;
    const where = `${answer.method.toUpperCase()} ${pathname} → ${answer.status}`;
    const body = answer.text ? this.parse(answer, where) : undefined;
    if (!operation) {
      // Both agree there is no such route.
      if (answer.status === 404 && (body as { code?: string } | undefined)?.code === 'ROUTE_NOT_FOUND') return;
      throw new ContractViolation(`${where}: the API serves this, but the document has no ${answer.method.toUpperCase()} ${template ?? pathname}`);
    }
    const key = [String(answer.status), `${String(answer.status)[0]}XX`, 'default'].find((k) => k in operation.responses);
    if (!key) throw new ContractViolation(`${where}: status ${answer.status} is not declared for ${answer.method.toUpperCase()} ${template}`);
    const declared = operation.responses[key]!.content;
    const media = answer.contentType?.split(';')[0]!.trim().toLowerCase();
    if (!declared) {
      if (answer.text) throw new ContractViolation(`${where}: the document declares no body, the API sent ${media}: ${answer.text.slice(0, 200)}`);
      return;
    }
    if (!media || !(media in declared)) {
      throw new ContractViolation(`${where}: the document declares ${Object.keys(declared).join(', ')}, the API sent ${media ?? 'no body'}`);
    }
    const schema = declared[media]!.schema;
    if (!schema || !JSON_MEDIA.test(media)) return;
    const validate = this.validator(`${template} ${method} ${key} ${media}`, schema);
    if (!validate(body)) {
      const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message}`).join('; ');
      throw new ContractViolation(`${where}: the body does not match the documented schema: ${errors}; body: ${answer.text.slice(0, 300)}`);
    }
  }

  private parse(answer: Answer, where: string): unknown {
    if (!JSON_MEDIA.test(answer.contentType?.split(';')[0]!.trim() ?? '')) return answer.text;
    try {
      return JSON.parse(answer.text);
    } catch {
      throw new ContractViolation(`${where}: the body is not JSON: ${answer.text.slice(0, 200)}`);
    }
  }

  private validator(key: string, schema: object): ValidateFunction {
    if (!this.validators.has(key)) {
      // References point at #/components/schemas/...: the schema is compiled next to the document's components.
      this.validators.set(key, this.ajv.compile({ components: this.document.components ?? {}, allOf: [schema] }));
    }
    return this.validators.get(key)!;
  }
}

/** The committed public document (packages/stack/src/api/openapi.json) that the typed client is generated from. */
export const PUBLIC_API_DOCUMENT = publicDocument as unknown as ContractDocument;

/** Checks answers against the committed public document. */
export const publicContract = new ContractChecker(PUBLIC_API_DOCUMENT);
