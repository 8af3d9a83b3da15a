import { baseConfigShape, ConfigError, DEMO_ADMIN_PASSWORD, loadConfig, z } from '../src';
import { readConfig as userConfig } from '../../../services/user-service/src/config';

describe('configuration validated at start-up', () => {
  const tokens = { DAPR_API_TOKEN: 'api-token-0123456789', APP_API_TOKEN: 'app-token-0123456789' };

  it('when only the Dapr tokens are set, then the local defaults apply', () => {
    expect(loadConfig('svc', baseConfigShape, tokens)).toMatchObject({ PORT: 3000, DAPR_HTTP_PORT: 3500, DB_HOST: '127.0.0.1' });
  });

  it('when the Dapr tokens are missing or short, then start-up fails naming them (no sidecar call or app route works without)', () => {
    expect(() => loadConfig('svc', baseConfigShape, {})).toThrow(/DAPR_API_TOKEN: Required[\s\S]*APP_API_TOKEN: Required/);
    expect(() => loadConfig('svc', baseConfigShape, { ...tokens, APP_API_TOKEN: 'short' })).toThrow(/APP_API_TOKEN: at least 16 characters/);
  });

  it('when production runs with the local defaults (root, no database password, the demo admin password), then start-up refuses each with the reason', () => {
    const production = { ...tokens, NODE_ENV: 'production' };
    const attempt = () => loadConfig('svc', { ...baseConfigShape, ADMIN_PASSWORD: z.string().optional() }, { ...production, ADMIN_PASSWORD: DEMO_ADMIN_PASSWORD });
    expect(attempt).toThrow(/DB_USER: root in production/);
    expect(attempt).toThrow(/DB_PASSWORD: empty in production/);
    expect(attempt).toThrow(/ADMIN_PASSWORD: the demo password in production/);
    expect(loadConfig('svc', baseConfigShape, { ...production, DB_USER: 'flash_products', DB_PASSWORD: 'a-real-password' })).toMatchObject({ DB_USER: 'flash_products' });
    expect(loadConfig('svc', baseConfigShape, tokens)).toMatchObject({ DB_USER: 'root', DB_PASSWORD: '' });
  });

  it('when trusted proxies are declared, then only addresses, CIDR ranges and the three names are accepted; the default is loopback alone', () => {
    expect(loadConfig('svc', baseConfigShape, tokens).TRUSTED_PROXIES).toBe('loopback');
    for (const ok of ['10.0.0.0/8', '127.0.0.1, 10.244.0.0/16', 'fd00::/8,loopback', 'uniquelocal']) {
      expect(loadConfig('svc', baseConfigShape, { ...tokens, TRUSTED_PROXIES: ok }).TRUSTED_PROXIES).toBe(ok);
    }
    for (const bad of ['everything', '10.0.0.0/33', '10.0.0/8', 'true']) {
      expect(() => loadConfig('svc', baseConfigShape, { ...tokens, TRUSTED_PROXIES: bad })).toThrow(/TRUSTED_PROXIES: comma-separated IP addresses/);
    }
  });

  it('when a value is bad, then start-up fails with a message naming the variable and the value', () => {
    const attempt = () => loadConfig('product-service', baseConfigShape, { ...tokens, PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/product-service: invalid configuration/);
    expect(attempt).toThrow(/PORT: .*\(got "eighty"\)/);
    expect(attempt).toThrow(/LOG_LEVEL: .*\(got "loud"\)/);
  });

  it('when user-service has no encryption keys, then it refuses to start and says how to make one', () => {
    expect(() => userConfig({})).toThrow(/PII_ENCRYPTION_KEY: required: 32 random bytes, base64/);
    expect(() => userConfig({ PII_ENCRYPTION_KEY: 'c2hvcnQ=', BLIND_INDEX_KEY: Buffer.alloc(32).toString('base64') }))
      .toThrow(/PII_ENCRYPTION_KEY: must decode from base64 to exactly 32 bytes/);
  });
});
