import { caughtMail, verificationCodeIn } from './mail';
import { waitUntil } from './processes';

/** A call to our REST API, as tests and tools make it. */
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

export async function apiCall(base: string, path: string, init: ApiRequest = {}): Promise<ApiAnswer> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Like apiCall, for steps that must succeed: the body, or an error naming the call and its answer. */
export async function apiJson(base: string, path: string, init: ApiRequest = {}): Promise<Json> {
  const answer = await apiCall(base, path, init);
  if (answer.status >= 400) throw new Error(`${init.method ?? (init.body === undefined ? 'GET' : 'POST')} ${path} → ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export interface NewShopper {
  name: string;
  email: string;
  password: string;
  phone: string;
  address: string;
}

/** Signs a shopper up through the API, verifies them with the code MailDev caught, and logs them in. */
export async function signUpShopper(api: string, mailWeb: string, shopper: NewShopper): Promise<{ accessToken: string; refreshToken: string }> {
  await apiJson(api, '/api/users', { body: shopper });
  let code: string | undefined;
  await waitUntil(`verification email to ${shopper.email}`, async () => {
    code = verificationCodeIn((await caughtMail(mailWeb, shopper.email))[0]?.text ?? '');
    return code !== undefined;
  }, 10_000, 100);
  await apiJson(api, '/api/users/verification', { body: { email: shopper.email, code } });
  return apiJson(api, '/api/auth/login', { body: { email: shopper.email, password: shopper.password } });
}
