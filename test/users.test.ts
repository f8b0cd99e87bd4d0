// Users, teams and API keys: administration through the API, keys resolved from the database, bootstrap of configured keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { bootstrapUsers } from '../src/api/bootstrap.js';
import { hashKey } from '../src/auth/keys.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('users');
});
afterAll(async () => {
  await h?.close();
});

const email = () => `${uniqueId('user')}@example.com`;
const newUser = (overrides: Record<string, unknown> = {}) => ({ name: 'Carla Closer', email: email(), roles: ['agent'], ...overrides });

async function audited(userId: string) {
  const { rows } = await h.pool.query<{ field: string; old_value: unknown; new_value: unknown; actor: string; process: string }>(
    `SELECT field, old_value, new_value, actor, process FROM audit_log WHERE field LIKE $1 ORDER BY id`,
    [`user:${userId}:%`],
  );
  return rows;
}

describe('users', () => {
  it('an admin creates, lists, reads and changes users; every change is audited with the admin as actor', async () => {
    const created = await h.json('POST', '/v1/users', { as: 'admin', body: newUser({ teamId: h.teamId, timeZone: 'Europe/Vienna', locale: 'de-AT' }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/users/${created.body.id}`);
    expect(created.body).toMatchObject({ roles: ['agent'], teamId: h.teamId, active: true, timeZone: 'Europe/Vienna', locale: 'de-AT', version: 1 });
    const id = created.body.id as string;

    expect((await h.json('GET', `/v1/users/${id}`)).body).toEqual(created.body);
    const agents = await h.json('GET', `/v1/users?teamId=${h.teamId}&role=agent&active=true`);
    expect(agents.body.items.map((u: { id: string }) => u.id)).toEqual([h.users.agent.id, h.users.agent2.id, id]);
    const page = await h.json('GET', `/v1/users?teamId=${h.teamId}&pageSize=2`);
    expect(page.body.items).toHaveLength(2);
    const next = await h.json('GET', `/v1/users?teamId=${h.teamId}&pageSize=2&pageToken=${page.body.nextPageToken}`);
    expect(next.body.items[0].id).not.toBe(page.body.items[1].id);
    expect((await h.json('GET', `/v1/users?teamId=${h.teamId}&pageSize=2&role=admin&pageToken=${page.body.nextPageToken}`)).status).toBe(400);

    const changed = await h.json('PATCH', `/v1/users/${id}`, { as: 'admin', body: { version: 1, roles: ['agent', 'backoffice'], name: 'Carla Closer-Neu' } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ roles: ['agent', 'backoffice'], name: 'Carla Closer-Neu', version: 2 });
    // A change based on a version read before is refused with the current one; If-Match works as the body's version.
    const stale = await h.json('PATCH', `/v1/users/${id}`, { as: 'admin', body: { version: 1, locale: 'en' } });
    expect(stale.status).toBe(409);
    expect(stale.body.version).toBe(2);
    const viaHeader = await h.json('PATCH', `/v1/users/${id}`, { as: 'admin', headers: { 'if-match': '"2"' }, body: { locale: 'en' } });
    expect(viaHeader.body).toMatchObject({ locale: 'en', version: 3 });

    const audit = await audited(id);
    expect(audit.every((r) => r.actor === h.users.admin.id && r.process === 'users')).toBe(true);
    expect(audit.map((r) => [r.field.split(':')[2], r.old_value, r.new_value])).toEqual(
      expect.arrayContaining([
        ['email', null, created.body.email],
        ['roles', ['agent'], ['agent', 'backoffice']],
        ['name', 'Carla Closer', 'Carla Closer-Neu'],
        ['locale', 'de-AT', 'en'],
      ]),
    );
  });

  it('lets only admins manage users and teams', async () => {
    for (const as of ['agent', 'backoffice', 'analyst'] as const) {
      expect((await h.json('POST', '/v1/users', { as, body: newUser() })).status, as).toBe(403);
      expect((await h.json('PATCH', `/v1/users/${h.users.agent2.id}`, { as, body: { version: 1, name: 'X' } })).status, as).toBe(403);
      expect((await h.json('POST', `/v1/users/${h.users.agent2.id}/deactivation`, { as })).status, as).toBe(403);
      expect((await h.json('POST', '/v1/teams', { as, body: { name: uniqueId('team') } })).status, as).toBe(403);
    }
    expect((await h.json('GET', '/v1/users', { as: 'analyst' })).status).toBe(403);
    expect((await h.json('GET', '/v1/users', { as: 'agent' })).status).toBe(200);
  });

  it('answers 400 naming the field for bad input, 409 for a taken e-mail, 404 for an unknown user, 405 for DELETE', async () => {
    const bad = await h.json('POST', '/v1/users', { as: 'admin', body: { name: '', email: 'nope', roles: ['boss'], timeZone: 'Mars/Base', locale: '??' } });
    expect(bad.status).toBe(400);
    expect([...new Set(bad.body.errors.map((e: { path: string }) => e.path))].sort()).toEqual([
      'body.email',
      'body.locale',
      'body.name',
      'body.roles.0',
      'body.timeZone',
    ]);
    expect((await h.json('POST', '/v1/users', { as: 'admin', body: newUser({ roles: [] }) })).body.errors[0].path).toBe('body.roles');
    const noTeam = await h.json('POST', '/v1/users', { as: 'admin', body: newUser({ teamId: '00000000-0000-4000-8000-000000000000' }) });
    expect(noTeam.status).toBe(400);
    expect(noTeam.body.errors[0].path).toBe('body.teamId');
    const taken = await h.json('POST', '/v1/users', { as: 'admin', body: newUser({ email: h.users.agent.email.toUpperCase() }) });
    expect(taken.status).toBe(409);
    expect(taken.body.detail).toMatch(/e-mail/);
    const noVersion = await h.json('PATCH', `/v1/users/${h.users.agent2.id}`, { as: 'admin', body: { name: 'Ben' } });
    expect(noVersion.status).toBe(400);
    expect(noVersion.body.errors[0].path).toBe('body.version');
    expect((await h.json('PATCH', `/v1/users/${h.users.agent2.id}`, { as: 'admin', body: { version: 1, unknown: 1 } })).status).toBe(400);
    expect((await h.json('GET', '/v1/users/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await h.json('GET', '/v1/users/not-a-uuid')).status).toBe(400);
    const remove = await h.json('DELETE', `/v1/users/${h.users.agent2.id}`, { as: 'admin' });
    expect(remove.status).toBe(405);
  });

  it('a deactivated user keeps their id but none of their keys works; activated again, they do', async () => {
    const { user, key } = await h.createUser();
    expect((await h.json('GET', '/v1/customers?q=x', { as: { key } })).status).toBe(200);
    const off = await h.json('POST', `/v1/users/${user.id}/deactivation`, { as: 'admin' });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id: user.id, active: false, version: user.version + 1 });
    const refused = await h.json('GET', '/v1/customers?q=x', { as: { key } });
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(/deactivated/);
    expect((await h.json('GET', `/v1/users?active=false`)).body.items.map((u: { id: string }) => u.id)).toContain(user.id);
    // A second deactivation changes nothing.
    expect((await h.json('POST', `/v1/users/${user.id}/deactivation`, { as: 'admin' })).body.version).toBe(user.version + 1);
    const on = await h.json('PATCH', `/v1/users/${user.id}`, { as: 'admin', body: { version: user.version + 1, active: true } });
    expect(on.body.active).toBe(true);
    expect((await h.json('GET', '/v1/customers?q=x', { as: { key } })).status).toBe(200);
  });

  it('the last active admin can neither be deactivated nor lose the admin role', async () => {
    // Admins made by this test: the seeded admin and a second; the second goes, then the first may not.
    const second = await h.createUser({ roles: ['admin'] });
    const secondOff = await h.json('POST', `/v1/users/${second.user.id}/deactivation`, { as: 'admin' });
    expect(secondOff.status).toBe(200);
    const admin = (await h.json('GET', `/v1/users/${h.users.admin.id}`)).body;
    const deactivate = await h.json('POST', `/v1/users/${admin.id}/deactivation`, { as: 'admin' });
    expect(deactivate.status).toBe(409);
    expect(deactivate.body.detail).toMatch(/last active admin/);
    const demote = await h.json('PATCH', `/v1/users/${admin.id}`, { as: 'admin', body: { version: admin.version, roles: ['backoffice'] } });
    expect(demote.status).toBe(409);
    expect((await h.json('GET', `/v1/users/${admin.id}`)).body).toMatchObject({ active: true, roles: ['admin'], version: admin.version });
    // With another active admin, the change is allowed (and undone here for the other tests).
    const other = await h.json('PATCH', `/v1/users/${second.user.id}`, { as: 'admin', body: { version: secondOff.body.version, active: true } });
    expect(other.status).toBe(200);
    const demoted = await h.json('PATCH', `/v1/users/${admin.id}`, { as: 'admin', body: { version: admin.version, roles: ['admin', 'backoffice'] } });
    expect(demoted.status).toBe(200);
    expect(
      (await h.json('PATCH', `/v1/users/${second.user.id}`, { as: { key: second.key }, body: { version: other.body.version, active: false } })).status,
    ).toBe(200);
  });
});

describe('teams', () => {
  it('an admin creates a team and sets its lead, who must be an active user', async () => {
    const name = uniqueId('Team');
    const created = await h.json('POST', '/v1/teams', { as: 'admin', body: { name } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name, leadUserId: null, version: 1 });
    const id = created.body.id as string;
    expect((await h.json('POST', '/v1/teams', { as: 'admin', body: { name: name.toUpperCase() } })).status).toBe(409);

    const member = await h.createUser({ teamId: id });
    const read = await h.json('GET', `/v1/teams/${id}`);
    expect(read.body.activeAgents.map((u: { id: string }) => u.id)).toEqual([member.user.id]);
    expect((await h.json('GET', '/v1/teams')).body.items.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining([id, h.teamId]));

    const unknown = await h.json('PATCH', `/v1/teams/${id}`, { as: 'admin', body: { version: 1, leadUserId: '00000000-0000-4000-8000-000000000000' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].path).toBe('body.leadUserId');
    const inactive = await h.createUser({ teamId: id });
    await h.json('POST', `/v1/users/${inactive.user.id}/deactivation`, { as: 'admin' });
    const refused = await h.json('PATCH', `/v1/teams/${id}`, { as: 'admin', body: { version: 1, leadUserId: inactive.user.id } });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/deactivated/);
    // A deactivated member is no longer in the team's rotation.
    expect((await h.json('GET', `/v1/teams/${id}`)).body.activeAgents.map((u: { id: string }) => u.id)).toEqual([member.user.id]);

    const led = await h.json('PATCH', `/v1/teams/${id}`, { as: 'admin', body: { version: 1, leadUserId: member.user.id } });
    expect(led.body).toMatchObject({ leadUserId: member.user.id, version: 2 });
    const { rows } = await h.pool.query('SELECT field, new_value, actor FROM audit_log WHERE field LIKE $1 ORDER BY id', [`team:${id}:%`]);
    expect(rows.at(-1)).toEqual({ field: `team:${id}:leadUserId`, new_value: member.user.id, actor: h.users.admin.id });
    expect((await h.json('GET', '/v1/teams/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});

describe('API keys', () => {
  it('a user issues their own key, shown once and stored only as its hash and prefix; it works until revoked', async () => {
    const { user, key: first } = await h.createUser();
    const issued = await h.json('POST', `/v1/users/${user.id}/keys`, {
      as: { key: first },
      body: { name: 'laptop' },
      headers: { 'idempotency-key': uniqueId('k') },
    });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    const key = issued.body.key as string;
    expect(key).toMatch(/^crm_[A-Za-z0-9_-]{43}$/);
    expect(issued.body).toMatchObject({ userId: user.id, name: 'laptop', prefix: key.slice(0, 12), expiresAt: null, revokedAt: null, lastUsedAt: null });

    // Nothing but the hash and the prefix is kept: not in api_keys, not as an Idempotency-Key answer.
    const stored = await h.pool.query('SELECT count(*)::int AS n FROM api_keys WHERE sha256 = $1 AND prefix = $2', [hashKey(key), key.slice(0, 12)]);
    expect(stored.rows[0].n).toBe(1);
    const leaked = await h.pool.query(
      `SELECT 'api_keys' FROM api_keys WHERE row_to_json(api_keys)::text LIKE '%' || $1 || '%'
       UNION ALL SELECT 'idempotency_keys' FROM idempotency_keys WHERE row_to_json(idempotency_keys)::text LIKE '%' || $1 || '%'
       UNION ALL SELECT 'audit_log' FROM audit_log WHERE row_to_json(audit_log)::text LIKE '%' || $1 || '%'`,
      [key.slice(12)],
    );
    expect(leaked.rows).toEqual([]);

    expect((await h.json('GET', '/v1/customers?q=x', { as: { key } })).status).toBe(200);
    const listed = await h.json('GET', `/v1/users/${user.id}/keys`, { as: { key } });
    expect(listed.body.items.map((k: { name: string }) => k.name)).toEqual(['laptop', 'test']);
    expect(listed.body.items[0].lastUsedAt).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(key.slice(12));

    const revoked = await h.json('DELETE', `/v1/api-keys/${issued.body.id}`, { as: { key: first } });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    const refused = await h.json('GET', '/v1/customers?q=x', { as: { key } });
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(/revoked/);
    expect((await h.json('GET', '/v1/customers?q=x', { as: { key: first } })).status).toBe(200);
  });

  it('an expired key is answered 401; an expiry in the past is a 400', async () => {
    const { user, key } = await h.createUser();
    const past = await h.json('POST', `/v1/users/${user.id}/keys`, { as: { key }, body: { name: 'old', expiresAt: '2020-01-01T00:00:00Z' } });
    expect(past.status).toBe(400);
    expect(past.body.errors[0].path).toBe('body.expiresAt');
    const soon = await h.json('POST', `/v1/users/${user.id}/keys`, {
      as: { key },
      body: { name: 'soon', expiresAt: new Date(Date.now() + 60_000).toISOString() },
    });
    expect(soon.status).toBe(201);
    expect((await h.json('GET', '/v1/customers?q=x', { as: { key: soon.body.key } })).status).toBe(200);
    await h.pool.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [soon.body.id]);
    const expired = await h.json('GET', '/v1/customers?q=x', { as: { key: soon.body.key } });
    expect(expired.status).toBe(401);
    expect(expired.body.detail).toMatch(/expired/);
  });

  it("a user manages only their own keys; an admin anyone's", async () => {
    const a = await h.createUser();
    const b = await h.createUser();
    expect((await h.json('POST', `/v1/users/${b.user.id}/keys`, { as: { key: a.key }, body: { name: 'x' } })).status).toBe(403);
    expect((await h.json('GET', `/v1/users/${b.user.id}/keys`, { as: { key: a.key } })).status).toBe(403);
    const bKey = (await h.json('GET', `/v1/users/${b.user.id}/keys`, { as: 'admin' })).body.items[0];
    expect((await h.json('DELETE', `/v1/api-keys/${bKey.id}`, { as: { key: a.key } })).status).toBe(403);
    const byAdmin = await h.json('POST', `/v1/users/${b.user.id}/keys`, { as: 'admin', body: { name: 'from admin' } });
    expect(byAdmin.status).toBe(201);
    expect((await h.json('DELETE', `/v1/api-keys/${bKey.id}`, { as: 'admin' })).status).toBe(200);
    expect((await h.json('GET', '/v1/customers?q=x', { as: { key: b.key } })).status).toBe(401);
    expect((await h.json('DELETE', '/v1/api-keys/00000000-0000-4000-8000-000000000000', { as: 'admin' })).status).toBe(404);
    await h.json('POST', `/v1/users/${b.user.id}/deactivation`, { as: 'admin' });
    expect((await h.json('POST', `/v1/users/${b.user.id}/keys`, { as: 'admin', body: { name: 'y' } })).status).toBe(409);
  });

  it("writes a key's last use at most once a minute", async () => {
    const { user, key } = await h.createUser();
    await h.json('GET', '/v1/customers?q=x', { as: { key } });
    const first = (await h.pool.query('SELECT last_used_at FROM api_keys WHERE user_id = $1', [user.id])).rows[0].last_used_at as Date;
    expect(first).not.toBeNull();
    await h.json('GET', '/v1/customers?q=x', { as: { key } });
    const second = (await h.pool.query('SELECT last_used_at FROM api_keys WHERE user_id = $1', [user.id])).rows[0].last_used_at as Date;
    expect(second.getTime()).toBe(first.getTime());
  });
});

describe('configured keys (API_KEYS)', () => {
  it('become users holding their hash, idempotently; a revoked key stays revoked and a deactivated user stays deactivated', async () => {
    const key = `configured_${uniqueId('k')}`;
    const entry = { role: 'backoffice' as const, actor: `ops-${uniqueId('a')}`, sha256: hashKey(key) };
    const [user] = await bootstrapUsers(h.pool, [entry]);
    expect(user).toMatchObject({ name: entry.actor, email: `${entry.actor}@localhost`, roles: ['backoffice'], active: true });
    const again = await bootstrapUsers(h.pool, [entry, { ...entry, role: 'admin' }]);
    expect(again.map((u) => u.id)).toEqual([user!.id, user!.id]);
    expect(again[1]!.roles).toEqual(['backoffice', 'admin']);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1', [user!.id])).rows[0].n).toBe(1);

    const changes = await h.json('GET', '/v1/users?role=backoffice', { as: { key } });
    expect(changes.status).toBe(200);
    const keyId = (await h.json('GET', `/v1/users/${user!.id}/keys`, { as: { key } })).body.items[0].id;
    expect((await h.json('DELETE', `/v1/api-keys/${keyId}`, { as: 'admin' })).status).toBe(200);
    await bootstrapUsers(h.pool, [entry]);
    expect((await h.json('GET', '/v1/users', { as: { key } })).status).toBe(401);
  });
});
