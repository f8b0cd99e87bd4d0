/** The environment docker-compose.yml gives a service, with `${VAR:-default}` resolved, for the config parser. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(import.meta.dirname, '..', '..');

/** `${VAR:-default}` → default, `${VAR:?msg}` → a plausible value for VAR. */
export function substitute(value: unknown, name: string): string {
  const samples: Record<string, string> = {
    API_KEYS: JSON.stringify([{ role: 'agent', actor: 'a', sha256: 'a'.repeat(64) }]),
    ANALYTICS_API_KEYS: JSON.stringify([{ actor: 'a', sha256: 'b'.repeat(64) }]),
    PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    PAYLOAD_KEY_ID: 'k1',
    SMS_GATEWAY_TOKEN: 'sample-sms-token',
  };
  return String(value).replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, v: string, op: string, arg: string) =>
    op === '-' ? arg : (samples[v] ?? `sample-${name}`),
  );
}

export function composeEnv(service: string): Record<string, string> {
  const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown> }>;
  };
  const env = compose.services[service]?.environment;
  if (!env) throw new Error(`docker-compose.yml has no environment for ${service}`);
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, substitute(v, service)]));
}
