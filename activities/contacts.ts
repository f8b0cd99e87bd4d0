/**
 * Side effects of contact management: one contact_events row per recorded interaction, keyed by
 * the recording workflow's id, so a retry or a repeated request finds the row it wrote.
 */
import type { Pool } from '../src/db/pool.js';
import { insertInteraction } from '../src/db/repositories/contact-events.js';
import type { Interaction, RecordInteractionInput } from '../src/domain/contacts.js';

export interface ContactActivityDeps {
  pool: Pool;
}

export function createContactActivities({ pool }: ContactActivityDeps) {
  return {
    async recordContactEvent(input: RecordInteractionInput & { workflowId: string }): Promise<Interaction> {
      return insertInteraction(pool, input);
    },
  };
}
