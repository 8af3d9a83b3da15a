import createClient, { type Client } from 'openapi-fetch';
import { publicContract } from './api/contract';
import type { components, paths } from './api/types';
import { caughtMail, verificationCodeIn } from './mail';
import { waitUntil } from './processes';

export type { components, paths } from './api/types';
export { ContractChecker, ContractViolation, PUBLIC_API_DOCUMENT, type ContractDocument } from './api/contract';

/** A schema of the public API document, by name: `ApiSchema<'Order'>`. */
export type ApiSchema<Name extends keyof components['schemas']> = components['schemas'][Name];

/**
 * fetch, with every answer of the public API checked against the public document: an undocumented route or status,
 * or a body that does not match its schema, throws ContractViolation.
 */
export async function contractFetch(request: Request): Promise<Response> {
  const response = await fetch(request);
  publicContract.check({
    method: request.method,
    url: request.url,
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.clone().text(),
  });
  return response;
}

/** The typed client of the public API, generated from its document; every answer is checked against it. */
export type ApiClient = Client<paths>;

export function apiClient(base: string, options: { token?: string } = {}): ApiClient {
  return createClient<paths>({
    baseUrl: base,
    fetch: contractFetch,
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  });
}

/** The data of a call that must succeed, or an error naming the call and the problem it got. */
export async function succeeded<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new Error(`${response.url} → ${response.status}: ${JSON.stringify(error)}`);
  return data as T;
}

/** A call to our REST API by a concrete path, for requests the typed client would not let through (bad input). */
export interface ApiRequest {
  /** GET, or POST when there is a body. */
  method?: string;
  body?: unknown;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

// Answers are read field by field, as a client would.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: Json;
}

/** Like the typed client (answers checked against the document), by a concrete path and any body. */
export async function apiCall(base: string, path: string, init: ApiRequest = {}): Promise<ApiAnswer> {
  const res = await contractFetch(new Request(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  }));
  const text = await res.text();
  const json = /[/+]json\b/.test(res.headers.get('content-type') ?? '');
  return { status: res.status, headers: res.headers, body: text && json ? JSON.parse(text) : text || undefined };
}

export interface NewShopper {
  name: string;
  email: string;
  password: string;
  phone: string;
  address: string;
}

export type TokenPair = ApiSchema<'TokenPair'>;

/** Signs a shopper up through the API, verifies them with the code MailDev caught, and logs them in. */
export async function signUpShopper(api: string, mailWeb: string, shopper: NewShopper): Promise<TokenPair> {
  const client = apiClient(api);
  await succeeded(client.POST('/api/users', { body: shopper }));
  let code = '';
  await waitUntil(`verification email to ${shopper.email}`, async () => {
    code = verificationCodeIn((await caughtMail(mailWeb, shopper.email))[0]?.text ?? '') ?? '';
    return code !== '';
  }, 10_000, 100);
  await succeeded(client.POST('/api/users/verification', { body: { email: shopper.email, code } }));
  return succeeded(client.POST('/api/auth/login', { body: { email: shopper.email, password: shopper.password } }));
}
