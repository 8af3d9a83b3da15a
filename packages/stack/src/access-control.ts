import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths';

type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Call = { from: string[]; to: string[]; operations: { route: string; verbs: Verb[] }[] };

export const accessControlFile = path.join(repoRoot, 'dapr/access-control.json');

export function accessTable(): { trustDomain: string; apps: string[]; calls: Call[] } {
  return JSON.parse(readFileSync(accessControlFile, 'utf8'));
}

export interface AccessControl {
  defaultAction: 'deny';
  trustDomain: string;
  policies: {
    appId: string;
    defaultAction: 'deny';
    trustDomain: string;
    namespace: string;
    operations: { name: string; httpVerb: Verb[]; action: 'allow' }[];
  }[];
}

/**
 * The `accessControl` of `callee`'s Dapr Configuration (dapr/access-control.json): deny by default; each caller may
 * use exactly the routes listed for it. Dapr enforces it on the identity of the caller's mTLS certificate.
 */
export function accessControlFor(callee: string, namespace = 'default', table = accessTable()): AccessControl {
  const callsTo = (caller: string) => table.calls.filter((c) => c.to.includes(callee) && c.from.includes(caller));
  return {
    defaultAction: 'deny',
    trustDomain: table.trustDomain,
    policies: table.apps.filter((app) => callsTo(app).length > 0).map((caller) => {
      const operations = callsTo(caller).flatMap((call) =>
        call.operations.map(({ route, verbs }) => ({ name: route, httpVerb: verbs, action: 'allow' as const })));
      // Dapr keeps one entry per operation name: a route listed twice for one caller would lose a verb.
      const names = operations.map((o) => o.name);
      if (new Set(names).size !== names.length) throw new Error(`dapr/access-control.json lists a route twice for ${caller} → ${callee}`);
      return { appId: caller, defaultAction: 'deny' as const, trustDomain: table.trustDomain, namespace, operations };
    }),
  };
}
