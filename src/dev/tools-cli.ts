/**
 * `npm run tools`: obtains what the stack and the tests run on (the Temporal CLI and the
 * time-skipping test server) ahead of time, as CI does before `npm test`.
 */
import { resolveTemporalCli } from './temporal-cli.js';
import { resolveTestServer } from './test-server.js';
import { step } from './progress.js';

const wanted = new Set(process.argv.slice(2).length ? process.argv.slice(2) : ['temporal', 'test-server']);
if (wanted.has('temporal')) {
  const cli = await resolveTemporalCli();
  step(cli.kind === 'binary' ? `Temporal CLI: ${cli.path} (from ${cli.source})` : 'Temporal CLI: none found; the SDK will download the dev server');
}
if (wanted.has('test-server')) {
  step(`Time-skipping test server: ${await resolveTestServer()}`);
}
