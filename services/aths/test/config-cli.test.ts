import { describe, expect, it } from 'vitest';
import { ConfigError } from '@shop/service-kit';
import { runCli } from '../src/cli.ts';
import { loadAthsConfig } from '../src/config.ts';

describe('ATHS configuration', () => {
  it('has the documented defaults', () => {
    const config = loadAthsConfig({});
    expect(config).toMatchObject({
      PORT: 5001,
      HOST: '127.0.0.1',
      JWT_ISSUER: 'aths',
      JWT_AUDIENCE: 'shop',
      ACCESS_TOKEN_TTL: 1800,
      REFRESH_TOKEN_TTL: 7 * 86_400,
      PASSWORD_RESET_TTL: 3600,
      EMAIL_VERIFICATION_TTL: 86_400,
      RATE_LIMIT_ENABLED: true,
      TRUST_PROXY: false,
    });
    expect(config.SERVICE_API_KEYS).toHaveLength(1);
    expect(config.warnings.join()).toContain('SERVICE_API_KEYS');
  });

  it('parses durations, lists and flags', () => {
    const config = loadAthsConfig({ ACCESS_TOKEN_TTL: '15m', REFRESH_TOKEN_TTL: '3600', SERVICE_API_KEYS: ' a , b ,', RATE_LIMIT_ENABLED: 'false' });
    expect(config.ACCESS_TOKEN_TTL).toBe(900);
    expect(config.REFRESH_TOKEN_TTL).toBe(3600);
    expect(config.SERVICE_API_KEYS).toEqual(['a', 'b']);
    expect(config.RATE_LIMIT_ENABLED).toBe(false);
    expect(() => loadAthsConfig({ ACCESS_TOKEN_TTL: 'soon' })).toThrow(ConfigError);
  });

  it('production refuses missing or weak secrets with one message naming them all', () => {
    let message = '';
    try {
      loadAthsConfig({ NODE_ENV: 'production', SERVICE_API_KEYS: 'short', CRMS_SERVICE_API_KEY: 'x' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain('SERVICE_API_KEYS');
    expect(message).toContain('CRMS_SERVICE_API_KEY');
    expect(message).toContain('CRMS_BASE_URL');
    const strong = 'k'.repeat(40);
    expect(
      loadAthsConfig({ NODE_ENV: 'production', SERVICE_API_KEYS: strong, CRMS_SERVICE_API_KEY: strong, CRMS_BASE_URL: 'http://crms:5002' }).SERVICE_API_KEYS,
    ).toEqual([strong]);
    const production = { NODE_ENV: 'production', SERVICE_API_KEYS: strong, CRMS_SERVICE_API_KEY: strong, CRMS_BASE_URL: 'http://crms:5002' };
    expect(loadAthsConfig(production).HOST).toBe('0.0.0.0');
    expect(loadAthsConfig({ ...production, HOST: '10.0.0.5' }).HOST).toBe('10.0.0.5');
  });

  it('checks the bootstrap administrator settings', () => {
    expect(() => loadAthsConfig({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'weak' })).toThrow(/ADMIN_PASSWORD/);
    expect(() => loadAthsConfig({ ADMIN_EMAIL: 'root@example.com' })).toThrow(/ADMIN_PASSWORD/);
    expect(() => loadAthsConfig({ ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'Strong123' })).toThrow(/ADMIN_EMAIL/);
    // The name rule of every other way in (docs/aths.md, "Names").
    expect(() => loadAthsConfig({ ADMIN_FULL_NAME: 'Site \u202eAdmin' })).toThrow(/ADMIN_FULL_NAME/);
    expect(loadAthsConfig({ ADMIN_FULL_NAME: ' Zoë Admin ' }).ADMIN_FULL_NAME).toBe('Zoë Admin');
  });
});

describe('ATHS admin CLI', () => {
  it('prints help, refuses unknown commands, creates an administrator and rotates the key', async () => {
    const lines: string[] = [];
    const out = (line: string) => lines.push(line);
    const env = { DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', SERVICE_API_KEYS: 'k' };
    expect(await runCli(['help'], env, out)).toBe(0);
    expect(lines.join('\n')).toContain('rotate-signing-key');
    expect(await runCli(['nope'], env, out)).toBe(2);
    expect(await runCli(['create-admin'], env, out)).toBe(2);
    lines.length = 0;
    expect(await runCli(['create-admin', '--email', 'ops2@example.com', '--name', 'Ops\nVisit evil.example'], env, out)).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/^--name must not contain control or invisible formatting characters/)]);
    lines.length = 0;
    expect(await runCli(['create-admin', '--email', 'Ops@Example.com'], env, out)).toBe(0);
    expect(lines[0]).toMatch(/^Created Administrator ops@example.com \([0-9a-f]{24}\)$/);
    expect(lines[1]).toMatch(/^Password: /);
    lines.length = 0;
    expect(await runCli(['rotate-signing-key'], env, out)).toBe(0);
    expect(lines[0]).toMatch(/^New signing key: /);
  }, 60_000);
});
