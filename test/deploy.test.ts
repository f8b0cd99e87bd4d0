/**
 * docker-compose cannot run here (no Docker engine), so what can be checked without it is:
 * every setting it passes is one the config module knows and accepts, the search attributes it
 * registers are the ones the processes set, analytics gets no operational credentials, and the
 * files it mounts and the commands it runs exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { keyringFromConfig } from '../src/codec/index.js';
import { CONFIG_VARIABLES, loadConfig, pageTokenSecretOf } from '../src/config.js';
import { CLI_SEARCH_ATTRIBUTE_TYPE, CRM_SEARCH_ATTRIBUTES } from '../src/domain/search-attributes.js';

const root = path.resolve(import.meta.dirname, '..');
const composeText = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as {
  networks?: Record<string, { internal?: boolean } | null>;
  services: Record<
    string,
    {
      image?: string;
      build?: string;
      environment?: Record<string, unknown>;
      command?: string[] | string;
      volumes?: string[];
      ports?: string[];
      networks?: string[];
    }
  >;
};
const engineServices = Object.entries(compose.services).filter(([, s]) => s.image === 'crm-engine:latest');

/** `${VAR:-default}` → default, `${VAR:?msg}` → a plausible value for VAR. */
function substitute(value: unknown, name: string): string {
  const samples: Record<string, string> = {
    API_KEYS: JSON.stringify([{ role: 'agent', actor: 'a', sha256: 'a'.repeat(64) }]),
    ANALYTICS_API_KEYS: JSON.stringify([{ actor: 'a', sha256: 'b'.repeat(64) }]),
    PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    PAYLOAD_KEY_ID: 'k1',
    PAGE_TOKEN_SECRET: 'p'.repeat(40),
    CODEC_TOKENS: JSON.stringify([{ name: 'temporal-ui', sha256: 'c'.repeat(64) }]),
    TEMPORAL_UI_URL: 'https://temporal.example.com',
    TEMPORAL_UI_OIDC_ISSUER: 'https://login.example.com/realms/crm',
    API_URL: 'https://crm.example.com',
    CODEC_OIDC_AUDIENCE: 'temporal-ui',
  };
  return String(value).replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, v: string, op: string, arg: string) =>
    op === '-' ? arg : (samples[v] ?? process.env[`COMPOSE_SAMPLE_${v}`] ?? `sample-${name}`),
  );
}

describe('docker-compose.yml', () => {
  it('runs the engine as api, worker, migrate and analytics from the one image', () => {
    expect(engineServices.map(([n]) => n).sort()).toEqual(['analytics', 'api', 'migrate', 'worker']);
    for (const [, service] of engineServices) {
      const script = (service.command as string[]).at(-1)!;
      expect(existsSync(path.join(root, script)), script).toBe(true);
    }
  });

  it('passes only settings the config module knows, with values it accepts', () => {
    for (const [name, service] of engineServices) {
      const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, substitute(v, name)]));
      for (const key of Object.keys(env)) expect(CONFIG_VARIABLES, `${name}: ${key}`).toContain(key);
      expect(() => loadConfig({ ...env }), name).not.toThrow();
      // The API and the workers refuse to start without a usable payload keyring.
      if (name !== 'analytics' && name !== 'migrate') expect(() => keyringFromConfig(loadConfig({ ...env }).codec), name).not.toThrow();
    }
  });

  it('gives analytics its own database and no operational credentials', () => {
    const env = compose.services.analytics!.environment!;
    expect(Object.keys(env)).not.toContain('DATABASE_URL');
    expect(Object.keys(env).some((k) => k.startsWith('PAYLOAD_'))).toBe(false);
    expect(String(env.ANALYTICS_DATABASE_URL)).toContain('@analytics-postgres:');
  });

  it('registers exactly the search attributes the processes set', () => {
    const command = (compose.services['temporal-setup']!.command as string[]).join(' ');
    const registered = /for sa in ([\w: ]+); do/.exec(command)![1]!.trim().split(/\s+/);
    expect(registered.sort()).toEqual(CRM_SEARCH_ATTRIBUTES.map((k) => `${k.name}:${CLI_SEARCH_ATTRIBUTE_TYPE[k.type]}`).sort());
  });

  it('sets the namespace retention from TEMPORAL_RETENTION, with the config default, and tells analytics the same', () => {
    const setup = compose.services['temporal-setup']!;
    expect((setup.command as string[]).join(' ')).toMatch(/temporal operator namespace update --namespace default --retention "\$\$TEMPORAL_RETENTION"/);
    const configured = (service: string) =>
      loadConfig({ TEMPORAL_RETENTION: substitute(compose.services[service]!.environment!.TEMPORAL_RETENTION, service) }).temporal.retentionMs;
    expect(configured('temporal-setup')).toBe(loadConfig({}).temporal.retentionMs);
    expect(configured('analytics')).toBe(loadConfig({}).temporal.retentionMs);
  });

  it('mounts files that exist', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(path.join(root, source)), source).toBe(true);
      }
    }
  });
});

describe('docker-compose.yml security', () => {
  const services = compose.services;

  it('publishes only the API, the analytics API and the Temporal UI', () => {
    const published = Object.entries(services)
      .filter(([, s]) => (s.ports ?? []).length > 0)
      .map(([n]) => n)
      .sort();
    expect(published).toEqual(['analytics', 'api', 'temporal-ui']);
  });

  it("keeps Temporal's frontend, PostgreSQL and Mailpit on the internal network only", () => {
    expect(compose.networks?.internal?.internal).toBe(true);
    for (const name of ['temporal', 'postgres', 'analytics-postgres', 'mailpit']) {
      expect(services[name]!.networks, name).toEqual(['internal']);
      expect(services[name]!.ports, name).toBeUndefined();
    }
  });

  it('puts the Temporal UI behind OpenID Connect login, with every setting required', () => {
    const env = services['temporal-ui']!.environment!;
    expect(env.TEMPORAL_AUTH_ENABLED).toBe('true');
    for (const key of ['TEMPORAL_AUTH_PROVIDER_URL', 'TEMPORAL_AUTH_CLIENT_ID', 'TEMPORAL_AUTH_CLIENT_SECRET', 'TEMPORAL_AUTH_CALLBACK_URL']) {
      expect(String(env[key]), key).toMatch(/\$\{\w+:\?[^}]+\}/);
    }
    // The UI's own settings no longer hand out a codec URL with a key in it.
    expect(composeText).not.toMatch(/codec\/key/);
  });

  it("lets the Temporal UI decode with the operator's access token, checked by the API against the UI's issuer and a codec role", () => {
    const ui = services['temporal-ui']!.environment!;
    expect(ui.TEMPORAL_CODEC_PASS_ACCESS_TOKEN).toBe('true');
    expect(substitute(ui.TEMPORAL_CODEC_ENDPOINT, 'temporal-ui')).toBe('https://crm.example.com/codec');
    const api = services.api!.environment!;
    // The same issuer the UI logs in with, required like every other UI login setting.
    expect(String(api.CODEC_OIDC_ISSUER).split(':?')[0]).toBe(String(ui.TEMPORAL_AUTH_PROVIDER_URL).split(':?')[0]);
    expect(String(api.CODEC_OIDC_AUDIENCE)).toMatch(/\$\{CODEC_OIDC_AUDIENCE:\?[^}]+\}/);
    const env = Object.fromEntries(Object.entries(api).map(([k, v]) => [k, substitute(v, 'api')]));
    expect(loadConfig(env).codec.oidc).toEqual({
      issuer: 'https://login.example.com/realms/crm',
      audience: 'temporal-ui',
      requiredRole: 'codec-decode',
      roleClaims: ['roles', 'groups'],
    });
  });

  it('requires every secret (`:?`) and defaults none', () => {
    const references = [...composeText.matchAll(/\$\{(\w+)(?::([-?]))?[^}]*\}/g)].map(([, name, op]) => ({ name: name!, op }));
    const secret = /PASSWORD|SECRET|KEYS?$|TOKENS?$|PAYLOAD/;
    const secrets = references.filter((r) => secret.test(r.name));
    expect(new Set(secrets.map((r) => r.name))).toEqual(
      new Set([
        'POSTGRES_PASSWORD',
        'CRM_DB_PASSWORD',
        'TEMPORAL_DB_PASSWORD',
        'ANALYTICS_DB_PASSWORD',
        'PAYLOAD_KEYS',
        'PAYLOAD_KEY_ID',
        'API_KEYS',
        'ANALYTICS_API_KEYS',
        'PAGE_TOKEN_SECRET',
        'CODEC_TOKENS',
        'TEMPORAL_UI_OIDC_CLIENT_SECRET',
        'SMS_GATEWAY_TOKEN',
      ]),
    );
    for (const r of secrets) expect(r.op, r.name).toBe('?');
    // No credential written into a URL either.
    expect(composeText).not.toMatch(/postgres:\/\/\w+:(?!\$\{)[^@]+@/);
  });

  it('hands TRUSTED_PROXIES to both APIs, trusting no proxy unless it is set', () => {
    for (const name of ['api', 'analytics']) {
      const raw = services[name]!.environment!.TRUSTED_PROXIES;
      expect(raw, name).toBe('${TRUSTED_PROXIES:-}');
      const env = Object.fromEntries(Object.entries(services[name]!.environment!).map(([k, v]) => [k, substitute(v, name)]));
      expect(loadConfig(env).api.rateLimits.trustedProxies, name).toBeUndefined();
      expect(loadConfig({ ...env, TRUSTED_PROXIES: '172.16.0.0/12' }).api.rateLimits.trustedProxies, name).toEqual(['172.16.0.0/12']);
    }
  });

  it('runs the engine with NODE_ENV=production, so the API refuses to start without PAGE_TOKEN_SECRET', () => {
    const env = Object.fromEntries(Object.entries(services.api!.environment!).map(([k, v]) => [k, substitute(v, 'api')]));
    expect(env.NODE_ENV).toBe('production');
    const { PAGE_TOKEN_SECRET: _secret, ...without } = env;
    expect(() => pageTokenSecretOf(loadConfig(without))).toThrow(/PAGE_TOKEN_SECRET/);
    expect(loadConfig(env).codec.uiOrigin).toBe('https://temporal.example.com');
  });
});
