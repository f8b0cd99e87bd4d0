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
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { CLI_SEARCH_ATTRIBUTE_TYPE, CRM_SEARCH_ATTRIBUTES } from '../src/domain/search-attributes.js';

const root = path.resolve(import.meta.dirname, '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: string; environment?: Record<string, unknown>; command?: string[] | string; volumes?: string[] }>;
};
const engineServices = Object.entries(compose.services).filter(([, s]) => s.image === 'crm-engine:latest');

/** `${VAR:-default}` → default, `${VAR:?msg}` → a plausible value for VAR. */
function substitute(value: unknown, name: string): string {
  const samples: Record<string, string> = {
    API_KEYS: JSON.stringify([{ role: 'agent', actor: 'a', sha256: 'a'.repeat(64) }]),
    ANALYTICS_API_KEYS: JSON.stringify([{ actor: 'a', sha256: 'b'.repeat(64) }]),
    PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    PAYLOAD_KEY_ID: 'k1',
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
