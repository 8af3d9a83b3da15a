import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildServices, compiledMain, repoRoot, STACK_SERVICES } from '@flash/stack';

const run = promisify(execFile);

/**
 * What a service image holds, built the way the Dockerfile's production stage builds it, without a container engine:
 * the compiled service and `npm ci --omit=dev` of that service's workspace alone. A runtime dependency the service
 * does not declare (it worked here only because another workspace brought it) fails here instead of in production.
 */
describe('the production layout of each service', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flash-layout-'));
  const compiled = path.join(dir, 'compiled');

  beforeAll(async () => {
    await buildServices(undefined, compiled);
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(STACK_SERVICES.map((s) => `${s}-service`))('when %s is installed with its own production dependencies only, then it loads and stops only at its configuration', async (service) => {
    const image = path.join(dir, service);
    // The workspace manifests and the lockfile, as the Dockerfile copies them; no sources.
    cpSync(path.join(repoRoot, 'package.json'), path.join(image, 'package.json'));
    cpSync(path.join(repoRoot, 'package-lock.json'), path.join(image, 'package-lock.json'));
    for (const group of ['packages', 'services']) {
      for (const name of readdirSync(path.join(repoRoot, group))) {
        mkdirSync(path.join(image, group, name), { recursive: true });
        cpSync(path.join(repoRoot, group, name, 'package.json'), path.join(image, group, name, 'package.json'));
      }
    }
    await run('npm', ['ci', '--omit=dev', '--workspace', `services/${service}`, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: image });
    cpSync(path.dirname(compiledMain(service, compiled)), path.join(image, 'dist', service), { recursive: true });

    // No database, sidecar or secrets: a complete image gets as far as checking its configuration and refuses it.
    const started = await run(process.execPath, [path.join('dist', service, 'main.js')], {
      cwd: image,
      env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    }).then(() => ({ code: 0, stderr: '' }), (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }));
    expect(started.stderr).not.toContain('Cannot find module');
    expect(started.code).toBe(1);
    expect(started.stderr).toMatch(new RegExp(`${service}: invalid configuration`));
  }, 180_000);
});
