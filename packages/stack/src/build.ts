import { rmSync } from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { STACK_SERVICES } from './local-stack';
import { repoRoot } from './paths';

/**
 * Bundles @flash/* and relative imports; npm packages installed at the root stay external (node_modules at run time),
 * while one npm left inside a workspace (packages/auth/node_modules/jose) is bundled in, so nothing is left unresolvable.
 */
const npmPackagesExternal: Plugin = {
  name: 'npm-packages-external',
  setup(b) {
    const rootModules = path.join(repoRoot, 'node_modules') + path.sep;
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('@flash/') || args.pluginData === 'resolving') return undefined;
      const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
      if (found.errors.length || found.path.startsWith(rootModules) || !path.isAbsolute(found.path)) return { path: args.path, external: true };
      return undefined;
    });
  },
};

/** Where a service's compiled entry point is: `node <this>` runs it as its image does. */
export const compiledMain = (service: string, outDir = path.join(repoRoot, 'dist')) => path.join(outDir, service, 'main.js');

/**
 * Each service compiled to one JavaScript file, dist/<service>/main.js (with a source map). Our workspace packages
 * (@flash/*) are bundled in; npm packages stay external and come from node_modules, so a service image needs only its
 * own production dependencies.
 */
export async function buildServices(log: (line: string) => void = () => undefined, outDir = path.join(repoRoot, 'dist')): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  for (const service of STACK_SERVICES.map((s) => `${s}-service`)) {
    const started = Date.now();
    await build({
      entryPoints: [path.join(repoRoot, 'services', service, 'src/main.ts')],
      outfile: compiledMain(service, outDir),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      // Class and function names stay as written: TypeORM names migrations after their classes.
      keepNames: true,
      plugins: [npmPackagesExternal],
      logLevel: 'warning',
    });
    log(`${path.relative(repoRoot, compiledMain(service, outDir))} (${Date.now() - started} ms)`);
  }
}
