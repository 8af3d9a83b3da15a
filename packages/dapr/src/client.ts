import { AppError, PROBLEM_CONTENT_TYPE, type ProblemBody } from '@flash/http';
import { ConcurrencyConflictError, SidecarError } from './errors';

export interface DaprOptions {
  host?: string;
  httpPort: number;
  /** Namespaces topics, so test runs and local stacks sharing one Redis never see each other's events. */
  topicPrefix?: string;
  timeoutMs?: number;
}

export interface StateEntry<T> {
  value: T;
  etag: string;
}

export interface InvokeOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
}

// Dapr's HTTP API: https://docs.dapr.io/reference/api/. Talking to it directly avoids the JS SDK's pitfalls
// (errors returned instead of thrown, no ETag on get, string concurrency options silently dropped).
const FIRST_WRITE = { concurrency: 'first-write', consistency: 'strong' } as const;

const invokePath = (appId: string, path: string) => `/invoke/${appId}/method/${path.replace(/^\//, '')}`;

/** The only way our services reach their sidecar: state with ETags, publish, invoke, health. */
export class Dapr {
  private readonly base: string;
  private readonly timeoutMs: number;
  readonly topicPrefix: string;

  constructor(options: DaprOptions) {
    this.base = `http://${options.host ?? '127.0.0.1'}:${options.httpPort}/v1.0`;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.topicPrefix = options.topicPrefix ?? '';
  }

  topic(name: string): string {
    return this.topicPrefix ? `${this.topicPrefix}-${name}` : name;
  }

  state<T>(store: string): StateStore<T> {
    return new StateStore<T>(this, store);
  }

  async publish(pubsub: string, topic: string, data: unknown, headers: Record<string, string> = {}): Promise<void> {
    const res = await this.call('publish', `/publish/${pubsub}/${encodeURIComponent(this.topic(topic))}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(data),
    });
    if (res.status !== 204) throw new SidecarError('publish', res.status, await res.text());
  }

  /** Calls another service through Dapr. Its problem answers come back as AppErrors with the same status and code. */
  async invoke<T>(appId: string, path: string, options: InvokeOptions = {}): Promise<T> {
    const res = await this.call('invoke', invokePath(appId, path), {
      method: options.method ?? 'GET',
      headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    });
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
    if (res.headers.get('content-type')?.startsWith(PROBLEM_CONTENT_TYPE)) {
      const problem = JSON.parse(text) as ProblemBody;
      throw new AppError(problem.status, problem.code, problem.title, problem.detail, problem.errors);
    }
    throw new SidecarError(`invoke ${appId}/${path}`, res.status, text);
  }

  /** Reads a resource of another service through Dapr; its 404 means there is none (undefined). */
  async find<T>(appId: string, path: string, options: InvokeOptions = {}): Promise<T | undefined> {
    try {
      return await this.invoke<T>(appId, path, options);
    } catch (err) {
      if (err instanceof AppError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The sidecar URL that invokes `path` on `appId`, for clients that fetch by URL themselves (e.g. a JWKS cache). */
  invokeUrl(appId: string, path: string): string {
    return `${this.base}${invokePath(appId, path)}`;
  }

  /** Ready when the sidecar's components are loaded (does not depend on this app being up). */
  async checkHealth(): Promise<void> {
    const res = await this.call('health check', '/healthz/outbound', { method: 'GET' });
    if (res.status !== 204) throw new Error(`sidecar not ready (${res.status})`);
  }

  /** @internal used by StateStore */
  async call(operation: string, path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new SidecarError(operation, 0, err instanceof Error ? err.message : String(err));
    }
  }
}

export class StateStore<T> {
  constructor(
    private readonly dapr: Dapr,
    readonly name: string,
  ) {}

  private path(key: string) {
    return `/state/${this.name}/${encodeURIComponent(key)}`;
  }

  async get(key: string): Promise<StateEntry<T> | undefined> {
    const res = await this.dapr.call('state get', `${this.path(key)}?consistency=strong`, { method: 'GET' });
    if (res.status === 204) return undefined;
    if (res.status !== 200) throw new SidecarError('state get', res.status, await res.text());
    return { value: (await res.json()) as T, etag: res.headers.get('etag') ?? '' };
  }

  /** Reads several keys in one call; a missing key maps to undefined. */
  async getMany(keys: string[]): Promise<Map<string, StateEntry<T> | undefined>> {
    const res = await this.dapr.call('state bulk get', `/state/${this.name}/bulk?consistency=strong`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keys, parallelism: Math.min(keys.length, 16) }),
    });
    if (res.status !== 200) throw new SidecarError('state bulk get', res.status, await res.text());
    const items = (await res.json()) as { key: string; data?: T; etag?: string; error?: string }[];
    const found = new Map<string, StateEntry<T> | undefined>(keys.map((k) => [k, undefined]));
    for (const item of items) {
      if (item.error) throw new SidecarError('state bulk get', 500, item.error);
      if (item.data !== undefined && item.etag) found.set(item.key, { value: item.data, etag: item.etag });
    }
    return found;
  }

  /** Replaces a value read with `etag`; a stale ETag raises ConcurrencyConflictError. */
  async save(key: string, value: T, etag: string, ttlSeconds?: number): Promise<void> {
    await this.write(key, value, etag, ttlSeconds);
  }

  /**
   * Writes a key that must not exist yet; a key already written by this package raises ConcurrencyConflictError.
   * (Redis accepts any ETag on a missing key, so creation is explicit.)
   */
  async create(key: string, value: T, ttlSeconds?: number): Promise<void> {
    await this.write(key, value, undefined, ttlSeconds);
  }

  /** Writes several keys at once, last write wins (for values nobody updates concurrently, e.g. revocation marks). */
  async putMany(entries: { key: string; value: T }[], ttlSeconds?: number): Promise<void> {
    if (entries.length === 0) return;
    const items = entries.map(({ key, value }) => ({
      key,
      value,
      ...(ttlSeconds ? { metadata: { ttlInSeconds: String(ttlSeconds) } } : {}),
    }));
    const res = await this.dapr.call('state save', `/state/${this.name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(items),
    });
    if (res.status !== 204) throw new SidecarError('state save', res.status, await res.text());
  }

  async delete(key: string, etag?: string): Promise<void> {
    const res = await this.dapr.call('state delete', `${this.path(key)}?concurrency=first-write&consistency=strong`, {
      method: 'DELETE',
      headers: etag ? { 'if-match': etag } : {},
    });
    if (res.status === 409) throw new ConcurrencyConflictError(key);
    if (res.status !== 204) throw new SidecarError('state delete', res.status, await res.text());
  }

  private async write(key: string, value: T, etag: string | undefined, ttlSeconds?: number): Promise<void> {
    const item = {
      key,
      value,
      options: FIRST_WRITE,
      ...(etag !== undefined ? { etag } : {}),
      ...(ttlSeconds ? { metadata: { ttlInSeconds: String(ttlSeconds) } } : {}),
    };
    const res = await this.dapr.call('state save', `/state/${this.name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([item]),
    });
    if (res.status === 204) return;
    const body = await res.text();
    // A stale ETag answers 409; a first-write without ETag on an existing key answers 500 "failed to set key".
    if (res.status === 409 || (etag === undefined && body.includes('failed to set key'))) {
      throw new ConcurrencyConflictError(key);
    }
    throw new SidecarError('state save', res.status, body);
  }
}
