/** README.md stays true: every route the API serves and every setting the config reads is in it. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { createApi } from '../src/api/app.js';
import { CONFIG_VARIABLES } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';

const readme = readFileSync(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README.md', () => {
  it('documents every API route', async () => {
    const api = createApi({
      pool: {} as Pool,
      temporal: {} as Client,
      taskQueue: 'docs',
      logger: createLogger('silent'),
      keys: [],
      pageTokenSecret: 'docs-page-token-secret-0123456789abcdef',
    });
    const doc = (await (await api.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    const missing = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods)
        .map((m) => `${m.toUpperCase()} ${p}`)
        .filter((route) => !readme.includes(`\`${route}\``)),
    );
    expect(missing).toEqual([]);
  });

  it('documents every configuration variable', () => {
    expect(CONFIG_VARIABLES.filter((v) => !readme.includes(`\`${v}\``))).toEqual([]);
  });
});
