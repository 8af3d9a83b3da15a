import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { z, type ZodRawShape } from 'zod';

export class ConfigError extends Error {
  constructor(service: string, problems: string[]) {
    super(`${service}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Settings every service has; each service extends them with its own. */
export const baseConfigShape = {
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Where the app listens: only its sidecar (and the local edge) on this host; in a pod, 0.0.0.0 for the kubelet's probes. */
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DAPR_HOST: z.string().min(1).default('127.0.0.1'),
  DAPR_HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(3500),
  /** Sent to the sidecar with every call (daprd runs with the same DAPR_API_TOKEN and refuses calls without it). */
  DAPR_API_TOKEN: z.string().min(16, 'at least 16 characters'),
  /** What the sidecar sends with every call to this app (daprd's APP_API_TOKEN); Dapr-only routes require it. */
  APP_API_TOKEN: z.string().min(16, 'at least 16 characters'),
  TOPIC_PREFIX: z.string().regex(/^[a-z0-9-]*$/, 'lowercase letters, digits and dashes only').default(''),
  /**
   * This replica's stable name: in Kubernetes the pod's (HOSTNAME), which a container restart keeps. What a process
   * left half-done is finished at once by the next process of the same name (stock counter entries).
   */
  REPLICA_NAME: z.string().min(1).default(hostname()),
  DB_HOST: z.string().min(1).default('127.0.0.1'),
  DB_PORT: z.coerce.number().int().min(1).max(65535).default(3306),
  DB_USER: z.string().min(1).default('root'),
  DB_PASSWORD: z.string().default(''),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * Background jobs sleep until their next due work, woken by this process's own writes; at least this often they
   * look again for work other replicas wrote (or left behind when they died).
   */
  JOBS_RECHECK_SECONDS: z.coerce.number().min(0.1).default(10),
  /**
   * Proxies whose X-Forwarded-For is believed (express's `trust proxy`): comma-separated addresses, CIDR ranges or
   * `loopback`/`linklocal`/`uniquelocal`. Locally the edge on loopback; in the chart the ingress controller's range.
   */
  TRUSTED_PROXIES: z.string().default('loopback').refine(isProxyList, 'comma-separated IP addresses, CIDR ranges, loopback, linklocal or uniquelocal'),
};

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyList(value: string): boolean {
  return value.split(',').map((v) => v.trim()).filter(Boolean).every((entry) => {
    if (PROXY_NAMES.has(entry)) return true;
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    if (!family || rest.length) return false;
    return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  });
}

const SECRET_NAME = /KEY|PASSWORD|SECRET|TOKEN/;

/** The demo admin's password of `npm start`: fine on a laptop, refused in production. */
export const DEMO_ADMIN_PASSWORD = 'Admin123!';

/** Defaults that make a local run easy and a production one unsafe: with NODE_ENV=production, each is refused. */
function productionRefusals(values: Record<string, unknown>): string[] {
  const refusals: string[] = [];
  if ('DB_USER' in values && values.DB_USER === 'root') refusals.push('DB_USER: root in production (give the service its own database user)');
  if ('DB_PASSWORD' in values && values.DB_PASSWORD === '') refusals.push('DB_PASSWORD: empty in production');
  if (values.ADMIN_PASSWORD === DEMO_ADMIN_PASSWORD) refusals.push('ADMIN_PASSWORD: the demo password in production');
  return refusals;
}

/** Validates the environment at start-up: one line per bad value, naming the variable. */
export function loadConfig<S extends ZodRawShape>(service: string, shape: S, env: NodeJS.ProcessEnv = process.env) {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      service,
      result.error.issues.map((i) => {
        const name = String(i.path[0]);
        const got = SECRET_NAME.test(name) ? 'a value, not shown' : JSON.stringify(env[name]);
        return `${i.path.join('.')}: ${i.message} (got ${got})`;
      }),
    );
  }
  const refusals = env.NODE_ENV === 'production' ? productionRefusals(result.data) : [];
  if (refusals.length) throw new ConfigError(service, refusals);
  return result.data;
}
