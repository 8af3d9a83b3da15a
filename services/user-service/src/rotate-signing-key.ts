import { DataSource } from 'typeorm';
import { readConfig } from './config';
import { SigningKeyEntity } from './data/account.entities';
import { personalDataVault, signingKeyring } from './service';

/** Operator command: start signing access tokens with a new key. Tokens signed with the old one stay valid. */
async function main(): Promise<void> {
  const config = readConfig();
  const dataSource = await new DataSource({
    type: 'mysql', host: config.DB_HOST, port: config.DB_PORT, username: config.DB_USER, password: config.DB_PASSWORD,
    database: config.DB_NAME, entities: [SigningKeyEntity], timezone: 'Z',
  }).initialize();
  try {
    const kid = await signingKeyring(config, dataSource, personalDataVault(config)).rotate();
    process.stdout.write(`new signing key ${kid}; replicas use it within ${config.SIGNING_KEY_RELOAD_SECONDS} s\n`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
