import {
  CommunicationProtocolEnum,
  DaprClient,
  HttpMethod,
  LogLevel,
  StateConcurrencyEnum,
  StateConsistencyEnum,
} from '@dapr/dapr';
import type { KeyValuePairType } from '@dapr/dapr/types/KeyValuePair.type';
import { AppError } from '@flash/http';
import { ConcurrencyConflictError, SidecarError } from './errors';
import { problemOf, sidecarFailure, withDeadline } from './sdk';

export type DaprProtocol = 'http' | 'grpc';

export interface DaprOptions {
  host?: string;
  httpPort: number;
  /** The sidecar's gRPC port, needed when `protocol` is grpc. */
  grpcPort?: number;
  /** What carries state, publish and health: `http` by default (chosen by measurement, see the README's Dapr section). */
  protocol?: DaprProtocol;
  /** Namespaces topics, so test runs and local stacks sharing one Redis never see each other's events. */
  topicPrefix?: string;
  timeoutMs?: number;
  /** Sent as `dapr-api-token` when the sidecar requires one. */
  apiToken?: string;
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

// Enum values, not strings: the SDK silently drops a plain 'first-write' (pinned in test/sdk-quirks.test.ts).
const FIRST_WRITE = {
  concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE,
  consistency: StateConsistencyEnum.CONSISTENCY_STRONG,
};

// The SDK logs every refusal it also hands back to us (a lost ETag race at error level): we type and log those ourselves.
const quiet = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };

const sdkClient = (options: DaprOptions, protocol: DaprProtocol) =>
  new DaprClient({
    daprHost: options.host ?? '127.0.0.1',
    daprPort: String(protocol === 'grpc' ? options.grpcPort : options.httpPort),
    communicationProtocol: protocol === 'grpc' ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
    daprApiToken: options.apiToken,
    logger: { level: LogLevel.Error, service: quiet },
  });

/** The only way our services reach their sidecar: state with ETags, publish, invoke, health — through @dapr/dapr. */
export class Dapr {
  /** State, publish, health and metadata. */
  readonly sdk: DaprClient;
  /** Service invocation, always over HTTP: the SDK's gRPC invoker drops request headers (the caller's token). */
  private readonly invoker: DaprClient;
  readonly timeoutMs: number;
  readonly topicPrefix: string;
  private static openHttpClients = 0;
  private closed = false;

  constructor(options: DaprOptions) {
    const protocol = options.protocol ?? 'http';
    if (protocol === 'grpc' && !options.grpcPort) throw new Error('Dapr over gRPC needs the sidecar gRPC port (grpcPort)');
    this.sdk = sdkClient(options, protocol);
    this.invoker = protocol === 'http' ? this.sdk : sdkClient(options, 'http');
    // The SDK starts a client on its first call and then waits up to ~30 s for the sidecar: a call fails fast
    // instead, and start() is the one place that waits.
    for (const client of new Set([this.sdk, this.invoker])) client.daprClient.setIsInitialized(true);
    Dapr.openHttpClients += 1;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.topicPrefix = options.topicPrefix ?? '';
  }

  topic(name: string): string {
    return this.topicPrefix ? `${this.topicPrefix}-${name}` : name;
  }

  state<T>(store: string): StateStore<T> {
    return new StateStore<T>(this, store);
  }

  async publish(pubsub: string, topic: string, data: unknown): Promise<void> {
    const result = await this.call('publish', () => this.sdk.pubsub.publish(pubsub, this.topic(topic), data as object));
    // Over HTTP the SDK returns a failed publish instead of throwing it.
    if (result.error) throw sidecarErrorOf('publish', result.error);
  }

  /**
   * Publishes several events of one topic in one call to the sidecar (Dapr's bulk publish API). Dapr publishes them side
   * by side, so they may reach the topic in another order (consumers see no order anyway: Dapr's Redis pub/sub hands
   * events to several workers at once). Resolves the indexes of the events that were not published (none: all were).
   */
  async publishMany(pubsub: string, topic: string, events: object[]): Promise<number[]> {
    const entries = events.map((event, i) => ({ entryID: String(i), event, contentType: 'application/json' }));
    const { failedMessages } = await this.call('publish', () => this.sdk.pubsub.publishBulk(pubsub, this.topic(topic), entries));
    return failedMessages.map((f) => Number(f.message.entryID));
  }

  /** Calls another service through Dapr. Its problem answers come back as AppErrors with the same status and code. */
  async invoke<T>(appId: string, path: string, options: InvokeOptions = {}): Promise<T> {
    const method = HttpMethod[options.method ?? 'GET'];
    const operation = `invoke ${appId}/${path}`;
    try {
      const answer = await withDeadline(operation, this.timeoutMs, () =>
        this.invoker.invoker.invoke(appId, path.replace(/^\//, ''), method, options.body as object, { headers: { ...options.headers } }),
      );
      // An empty body comes back as '' (the SDK answers the text it could not parse as JSON).
      return ((answer as unknown) === '' ? undefined : answer) as T;
    } catch (err) {
      if (err instanceof SidecarError) throw err;
      const failure = sidecarFailure(err);
      const problem = problemOf(failure);
      if (problem) throw problem;
      // The SDK reports a bare 404 with an empty message; it still means the callee has no such resource.
      if (failure.status === 404) throw new AppError(404, 'NOT_FOUND', 'Not found', `${appId} has nothing at ${path}.`);
      throw new SidecarError(operation, failure.status, failure.body);
    }
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

  /** Ready when the sidecar answers its metadata, i.e. its components are loaded (independent of this app). */
  async checkHealth(): Promise<void> {
    if (!(await this.call('health check', () => this.sdk.health.isHealthy()))) throw new Error('sidecar not ready');
  }

  /** What the sidecar has loaded: its app id, components, subscriptions, resiliency policies. */
  async metadata(): Promise<{ id: string; components: { name: string; type: string }[] }> {
    return this.call('metadata', () => this.sdk.metadata.get());
  }

  /**
   * Waits for the sidecar the SDK's way (it polls the sidecar's metadata every 0.5 s, up to ~30 s), so the first call after
   * start-up does not meet a port that is not listening yet.
   */
  async start(): Promise<void> {
    await this.sdk.start();
    if (this.invoker !== this.sdk) await this.invoker.start();
  }

  /**
   * Closes the SDK's connections. The SDK's HTTP clients share one keep-alive agent per process and `stop()`
   * destroys it, cutting the calls in flight of every other client: only the last open one stops it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (--Dapr.openHttpClients === 0) await this.invoker.stop();
    if (this.sdk !== this.invoker) await this.sdk.stop();
  }

  /** @internal runs one SDK call with the deadline; failures become SidecarErrors */
  async call<R>(operation: string, run: () => Promise<R>): Promise<R> {
    try {
      return await withDeadline(operation, this.timeoutMs, run);
    } catch (err) {
      throw err instanceof SidecarError ? err : sidecarErrorOf(operation, err);
    }
  }
}

const sidecarErrorOf = (operation: string, err: unknown) => {
  const failure = sidecarFailure(err);
  return new SidecarError(operation, failure.status, failure.body);
};

export class StateStore<T> {
  constructor(
    private readonly dapr: Dapr,
    readonly name: string,
  ) {}

  /** One key with its ETag. (The SDK's `state.get` returns the value without its ETag; the bulk read has it.) */
  async get(key: string): Promise<StateEntry<T> | undefined> {
    return (await this.getMany([key])).get(key);
  }

  /** Reads several keys in one call; a missing key maps to undefined. */
  async getMany(keys: string[]): Promise<Map<string, StateEntry<T> | undefined>> {
    const items = (await this.dapr.call('state bulk get', () =>
      this.dapr.sdk.state.getBulk(this.name, keys, { parallelism: Math.min(keys.length, 16) }),
    )) as { key: string; data?: T; etag?: string; error?: string }[];
    const found = new Map<string, StateEntry<T> | undefined>(keys.map((k) => [k, undefined]));
    for (const item of items) {
      if (item.error) throw new SidecarError('state bulk get', 500, item.error);
      // A missing key comes back without an ETag (and, over gRPC, with an empty string as its data).
      if (item.etag) found.set(item.key, { value: item.data as T, etag: item.etag });
    }
    return found;
  }

  /** Replaces a value read with `etag`; a stale ETag raises ConcurrencyConflictError. */
  async save(key: string, value: T, etag: string, ttlSeconds?: number): Promise<void> {
    await this.write({ key, value, etag, options: FIRST_WRITE, ...ttl(ttlSeconds) });
  }

  /**
   * Writes a key that must not exist yet; a key already written by this package raises ConcurrencyConflictError.
   * (Redis accepts any ETag on a missing key, so creation is explicit: first-write without an ETag.)
   */
  async create(key: string, value: T, ttlSeconds?: number): Promise<void> {
    await this.write({ key, value, options: FIRST_WRITE, ...ttl(ttlSeconds) });
  }

  /** Writes several keys at once, last write wins (for values nobody updates concurrently, e.g. revocation marks). */
  async putMany(entries: { key: string; value: T }[], ttlSeconds?: number): Promise<void> {
    if (entries.length === 0) return;
    const items = entries.map(({ key, value }) => ({ key, value, ...ttl(ttlSeconds) }));
    const result = await this.dapr.call('state save', () => this.dapr.sdk.state.save(this.name, items));
    if (result.error) throw sidecarErrorOf('state save', result.error);
  }

  async delete(key: string, etag?: string): Promise<void> {
    await this.refusable('state delete', key, false, () => this.dapr.sdk.state.delete(this.name, key, { ...FIRST_WRITE, etag, metadata: {} }));
  }

  private async write(item: KeyValuePairType): Promise<void> {
    await this.refusable('state save', item.key, item.etag === undefined, () => this.dapr.sdk.state.save(this.name, [item]));
  }

  /** A write the store may refuse as a conflict. Over HTTP the SDK returns the refusal as `{ error }`; over gRPC it throws. */
  private async refusable(operation: string, key: string, creating: boolean, run: () => Promise<{ error?: unknown }>): Promise<void> {
    let error: unknown;
    try {
      ({ error } = await withDeadline(operation, this.dapr.timeoutMs, run));
    } catch (err) {
      error = err;
    }
    if (!error) return;
    if (error instanceof SidecarError) throw error;
    const failure = sidecarFailure(error);
    // A stale ETag answers 409 (gRPC: Aborted); a first-write without ETag on an existing key answers "failed to set key".
    if (failure.status === 409 || (creating && failure.body.includes('failed to set key'))) throw new ConcurrencyConflictError(key);
    throw new SidecarError(operation, failure.status, failure.body);
  }
}

const ttl = (seconds?: number) => (seconds ? { metadata: { ttlInSeconds: String(seconds) } } : {});
