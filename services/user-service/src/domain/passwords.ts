import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { AppError } from '@flash/http';

interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** OWASP's minimum for scrypt (N=2^17, r=8, p=1): ~128 MiB and a few hundred ms per hash, on purpose. */
export const SCRYPT_COST: ScryptCost = { N: 2 ** 17, r: 8, p: 1 };
const KEY_LENGTH = 32;
/** Hashes stored before the cost was written down (`scrypt$<N>$salt$hash`) used these r and p. */
const LEGACY_R = 8;
const LEGACY_P = 1;

export interface HashingLimits {
  /** Hashes computed at once: each holds a libuv thread and 128·N·r bytes of memory. */
  concurrency: number;
  /** Hashes waiting for a turn; beyond that 503 with Retry-After. */
  queue: number;
}

function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const maxmem = 128 * cost.N * cost.r * (cost.p + 1);
  return new Promise((resolve, reject) => scrypt(password, salt, KEY_LENGTH, { ...cost, maxmem }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N=…,r=…,p=…$salt$hash`, or the older `scrypt$N$salt$hash`: the cost travels with the hash. */
function parse(stored: string): { cost: ScryptCost; salt: Buffer; hash: Buffer } | undefined {
  const [scheme, params, salt, hash, ...rest] = stored.split('$');
  if (scheme !== 'scrypt' || !params || !salt || !hash || rest.length) return undefined;
  const named = Object.fromEntries(params.split(',').map((kv) => kv.split('=')));
  const cost = /^\d+$/.test(params) ? { N: Number(params), r: LEGACY_R, p: LEGACY_P } : { N: Number(named.N), r: Number(named.r), p: Number(named.p) };
  if (![cost.N, cost.r, cost.p].every((v) => Number.isInteger(v) && v > 0)) return undefined;
  return { cost, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

/**
 * The slow password hash, behind a bounded line: signups and logins cannot occupy every libuv thread (which DNS, files
 * and other crypto share) or queue without end; past the line the caller is told to come back.
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limits: HashingLimits,
    private readonly cost: ScryptCost = SCRYPT_COST,
  ) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.inTurn(() => derive(password, salt, this.cost));
    const { N, r, p } = this.cost;
    return `scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (!parsed) return false;
    const actual = await this.inTurn(() => derive(password, parsed.salt, parsed.cost));
    return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
  }

  /** Whether a stored hash is cheaper than today's cost (it is replaced at the next successful login). */
  isOutdated(stored: string): boolean {
    const cost = parse(stored)?.cost;
    return !cost || cost.N < this.cost.N || cost.r < this.cost.r || cost.p < this.cost.p;
  }

  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queue) throw AppError.unavailable('Too many password checks at once; try again in a moment.');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // The turn passes straight to the next in line, so `running` never drops below the work actually running.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
