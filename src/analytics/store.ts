/**
 * The analytics store (`crm_analytics`): its own pool and its own migrations. It never connects
 * to the operational database.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';

export type StorePool = pg.Pool;

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function createStorePool(connectionString: string, schema?: string): StorePool {
  const pool = new pg.Pool({
    connectionString,
    max: 5,
    application_name: 'crm-analytics',
    connectionTimeoutMillis: 5_000,
    options: schema ? `-c search_path=${quoteIdent(schema)},public` : undefined,
  });
  pool.on('error', () => undefined);
  return pool;
}

export async function migrateStore(connectionString: string, schema = 'public'): Promise<string[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET search_path TO ${quoteIdent(schema)}, public`);
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'analytics_migrations',
      schema,
      migrationsSchema: schema,
      checkOrder: true,
      singleTransaction: true,
      log: () => undefined,
    });
    return applied.map((m) => m.name);
  } finally {
    await client.end();
  }
}
