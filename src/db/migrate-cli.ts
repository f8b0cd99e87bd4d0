/** `npm run migrate`: applies pending migrations to DATABASE_URL (docker-compose runs it before the API). */
import { loadConfig } from '../config.js';
import { migrate } from './migrate.js';

const config = loadConfig();
if (!config.database.url) {
  console.error('DATABASE_URL is required (npm start migrates the embedded database itself)');
  process.exit(2);
}
const applied = await migrate({ connectionString: config.database.url, log: (m) => console.log(m) });
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
