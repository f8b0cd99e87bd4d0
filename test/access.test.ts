/**
 * Roles and ownership, generated from the route table (issue 14, point 7): every route of the
 * API × no key × every seeded user (agent, second agent, backoffice, admin, analyst) is answered
 * as the route's declared rule says (src/api/auth.ts: requireRole, publicAccess,
 * ownUserInPath, ownRecord). A route added without a rule fails here; where a record belongs to a user,
 * another user's record is refused and the user's own is not.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessRuleOf, holds, type AccessRule } from '../src/api/auth.js';
import type { DevUser } from '../src/dev/dev-keys.js';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('access');
});
afterAll(async () => {
  await h?.close();
});

/** Outside the API keys' world, each with its own rule and its own test. */
const OWN_CREDENTIAL: Record<string, string> = {
  'GET /openapi.json': 'the public API description',
  'GET /docs': 'the public API reference',
  'GET /docs/init.js': 'the public API reference',
  'GET /docs/assets/:file': 'the public API reference',
  'POST /codec/decode': 'a decode-only codec token (test/master-data.test.ts)',
};

const USERS: DevUser[] = ['agent', 'agent2', 'backoffice', 'admin', 'analyst'];

interface RouteRule {
  method: string;
  path: string;
  rule: AccessRule;
}

/** The route table as the app holds it: each method and path with the rules its middleware declares. */
function routeTable(): { routes: RouteRule[]; withoutRule: string[] } {
  const found = new Map<string, RouteRule>();
  for (const r of h.api.routes) {
    if (r.method === 'ALL') continue;
    const key = `${r.method} ${r.path}`;
    const entry = found.get(key) ?? { method: r.method, path: r.path, rule: {} };
    const rule = accessRuleOf(r.handler);
    if (rule) entry.rule = { ...entry.rule, ...rule };
    found.set(key, entry);
  }
  const routes = [...found.values()];
  const withoutRule = routes.filter((r) => !r.rule.roles && !OWN_CREDENTIAL[`${r.method} ${r.path}`]).map((r) => `${r.method} ${r.path}`);
  return { routes: routes.filter((r) => r.rule.roles), withoutRule };
}

const fill = (path: string, id: string) =>
  path.replace(/:(\w+)(\{[^}]*\})?/g, (_, name: string) => (name === 'token' || name === 'key' || name === 'file' ? 'x' : id));

async function call(method: string, url: string, key?: string): Promise<number> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (['POST', 'PUT', 'PATCH'].includes(method)) {
    headers['content-type'] = 'application/json';
    body = '{}';
  }
  const res = await h.api.request(url, { method, headers, body });
  await res.arrayBuffer();
  return res.status;
}

describe('the route table', () => {
  it('gives every route an access rule', () => {
    const { routes, withoutRule } = routeTable();
    expect(withoutRule, "routes without a rule: declare requireRole(...) or publicAccess (and ownUserInPath or ownRecord where a record is a user's)").toEqual(
      [],
    );
    expect(routes.length).toBeGreaterThan(60);
  });

  it('answers every route × no key × every role as its rule says', { timeout: 300_000 }, async () => {
    const wrong: string[] = [];
    for (const { method, path, rule } of routeTable().routes) {
      const url = fill(path, randomUUID());
      const anonymous = await call(method, url);
      if (rule.roles === 'public') {
        if (anonymous === 401 || anonymous === 403) wrong.push(`${method} ${path} without a key: ${anonymous}, but it is public`);
        continue;
      }
      if (anonymous !== 401) wrong.push(`${method} ${path} without a key: ${anonymous}, not 401`);
      for (const user of USERS) {
        const status = await call(method, url, h.keys[user]);
        const allowed = holds(h.users[user], rule.roles!);
        // A random id is nobody's: a user in the path is refused to all but admins; an unknown record is a 404 to all.
        const passes = allowed && (rule.ownership !== 'user-in-path' || holds(h.users[user], ['admin']));
        if (passes && (status === 401 || status === 403)) wrong.push(`${method} ${path} as ${user}: ${status}, but the rule allows ${String(rule.roles)}`);
        if (!passes && status !== 403)
          wrong.push(`${method} ${path} as ${user}: ${status}, not 403 (rule: ${String(rule.roles)}${rule.ownership ? `, ${rule.ownership}` : ''})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("refuses another user's record where ownership applies, and lets the owner and an admin act on it", { timeout: 120_000 }, async () => {
    const owned = routeTable().routes.filter((r) => r.rule.ownership);
    expect(owned.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['DELETE /v1/api-keys/:id', 'GET /v1/users/:id/keys', 'POST /v1/users/:id/keys']);
    const wrong: string[] = [];
    for (const { method, path } of owned) {
      // A record of agent2: their user (for their keys), or one of their keys.
      const recordOf = async () => {
        if (!path.startsWith('/v1/api-keys/')) return h.users.agent2.id;
        const key = await h.issueKey(h.users.agent2.id, 'access-test');
        const { rows } = await h.pool.query('SELECT id FROM api_keys WHERE prefix = $1', [key.slice(0, 9)]);
        return rows[0].id as string;
      };
      const url = fill(path, await recordOf());
      for (const other of ['agent', 'backoffice', 'analyst'] as const) {
        const status = await call(method, url, h.keys[other]);
        if (status !== 403) wrong.push(`${method} ${path} on agent2's record as ${other}: ${status}, not 403`);
      }
      for (const allowed of ['agent2', 'admin'] as const) {
        const status = await call(method, fill(path, await recordOf()), h.keys[allowed]);
        if (status === 401 || status === 403) wrong.push(`${method} ${path} on agent2's record as ${allowed}: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
