/**
 * The shared names: analytics takes its contract from src/domain/processes.ts, which must stay
 * constants and types with no import, and the domain's own types are built on the same values.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAMPAIGNS, CHANGES, FUNNEL, OFFERS } from '../../src/analytics/contract.js';
import { CHANGE_STATUS, CLOSED_CHANGE_STATUSES, CRM_PROCESSES, LEAD_STAGES, OFFER_STATUS, SEARCH_ATTRIBUTE } from '../../src/domain/processes.js';
import { CRM_SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const importsOf = async (file: string) => [...(await readFile(path.join(root, file), 'utf8')).matchAll(/^import[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);

describe('the process contract', () => {
  it('has no import, so analytics depends on nothing operational through it', async () => {
    expect(await importsOf('src/domain/processes.ts')).toEqual([]);
  });

  it('is all the analytics contract takes from src/domain', async () => {
    expect((await importsOf('src/analytics/contract.ts')).filter((i) => i.includes('domain/'))).toEqual(['../domain/processes.js']);
  });

  it('names every process once, GDPR among them', () => {
    expect(new Set(CRM_PROCESSES).size).toBe(CRM_PROCESSES.length);
    expect(CRM_PROCESSES).toEqual(expect.arrayContaining(['acquisition', 'master-data', 'gdpr', 'retention', 'offers']));
  });

  it('names the search attributes the server registers', () => {
    expect(CRM_SEARCH_ATTRIBUTES.map((a) => a.name).sort()).toEqual(Object.values(SEARCH_ATTRIBUTE).sort());
  });

  it('gives analytics stages and statuses the operational side uses', () => {
    for (const stage of FUNNEL.stages) expect(LEAD_STAGES).toContain(stage);
    expect(Object.values(OFFER_STATUS)).toEqual(expect.arrayContaining([OFFERS.accepted, OFFERS.declined, OFFERS.expired, OFFERS.ineligible]));
    expect(CHANGES.outcomes).toEqual(CLOSED_CHANGE_STATUSES);
    for (const s of [...CHANGES.verificationFailed, CHANGES.applying, CHANGES.escalated]) expect(Object.values(CHANGE_STATUS)).toContain(s);
    expect(CAMPAIGNS.goalStatuses).toEqual(['goal-met']);
  });
});
