// The rules a change to a user must keep: the last active admin stays an active admin.
import { describe, expect, it } from 'vitest';
import { changedFields, refuseUserChange } from '../../src/domain/users.js';

const admin = { id: 'a', active: true, roles: ['admin'] };

describe('refuseUserChange', () => {
  it('refuses deactivating the last active admin or taking their admin role', () => {
    expect(refuseUserChange(admin, { active: false }, ['a'])).toMatch(/last active admin/);
    expect(refuseUserChange(admin, { roles: ['backoffice'] }, ['a'])).toMatch(/last active admin/);
  });

  it('allows it while another admin is active, and any change that keeps them an active admin', () => {
    expect(refuseUserChange(admin, { active: false }, ['a', 'b'])).toBeUndefined();
    expect(refuseUserChange(admin, { roles: ['admin', 'agent'] }, ['a'])).toBeUndefined();
    expect(refuseUserChange(admin, { active: true }, ['a'])).toBeUndefined();
  });

  it('does not concern users who are no active admin', () => {
    expect(refuseUserChange({ id: 'x', active: true, roles: ['agent'] }, { active: false }, ['a'])).toBeUndefined();
    expect(refuseUserChange({ id: 'a', active: false, roles: ['admin'] }, { roles: ['agent'] }, [])).toBeUndefined();
  });
});

describe('changedFields', () => {
  it('lists only the fields whose value the patch changes, with old and new values', () => {
    const before = { name: 'Ann', roles: ['agent'], teamId: null as string | null, active: true };
    expect(changedFields(before, { name: 'Ann', roles: ['agent', 'admin'], teamId: 't1', active: undefined })).toEqual([
      { field: 'roles', oldValue: ['agent'], newValue: ['agent', 'admin'] },
      { field: 'teamId', oldValue: null, newValue: 't1' },
    ]);
    expect(changedFields(before, { name: 'Ann' })).toEqual([]);
  });
});
