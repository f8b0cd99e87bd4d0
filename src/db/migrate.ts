import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { quoteIdent } from './pool.js';

export const OPERATIONAL_MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

export interface MigrateOptions {
  connectionString: string;
  /** Target schema (created if missing); tests migrate one schema each. Default: public. */
  schema?: string;
  dir?: string;
  log?: (msg: string) => void;
}

/** Applies every pending migration; safe to call on every start (an advisory lock serialises callers). */
export async function migrate(opts: MigrateOptions): Promise<string[]> {
  const client = new pg.Client({ connectionString: opts.connectionString });
  await client.connect();
  try {
    const schema = opts.schema ?? 'public';
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET search_path TO ${quoteIdent(schema)}, public`);
    // node-pg-migrate announces each migration before running it; a failure names the last one.
    let current: string | undefined;
    const log = opts.log ?? (() => undefined);
    const applied = await runner({
      dbClient: client,
      dir: opts.dir ?? OPERATIONAL_MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      schema,
      migrationsSchema: schema,
      checkOrder: true,
      singleTransaction: true,
      // Wait for a concurrent caller (parallel test files, several workers starting) instead of failing.
      advisoryLockMode: 'wait',
      log: (msg: string) => {
        current = /### MIGRATION (\S+) \(UP\) ###/.exec(msg)?.[1] ?? current;
        log(msg);
      },
    }).catch((err: unknown) => {
      throw new Error(`${current ? `migration ${current} failed` : 'migrating failed'}: ${(err as Error).message} (the whole run was rolled back)`, {
        cause: err,
      });
    });
    return applied.map((m) => m.name);
  } finally {
    await client.end();
  }
}
