import { homedir } from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
export const daprResourcesDir = path.join(repoRoot, 'dapr/components');
export const daprConfigFile = path.join(repoRoot, 'dapr/config.yaml');

/** Where scripts/bootstrap.sh caches daprd, k6 and helm (same rule as the script). */
export function toolsBin(): string {
  if (process.env.FLASH_TOOLS_DIR) return path.join(process.env.FLASH_TOOLS_DIR, 'bin');
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'flash-sale/tools/bin');
}

/** The mail catcher's command-line entry (MailDev 2: web UI and a JSON API at /email). */
export const maildevCli = require.resolve('maildev/bin/maildev');
