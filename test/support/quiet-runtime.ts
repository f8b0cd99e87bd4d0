// Each test process: the SDK logs warnings and errors only, so test output stays readable; every
// line from INFO up is kept for the key scan (test/support/key-scan.ts).
import { inspect } from 'node:util';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { workerLogLines } from './key-scan.js';

const printed = new DefaultLogger('WARN');
try {
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry: LogEntry) => {
      workerLogLines.push(`${entry.level} ${entry.message} ${inspect(entry.meta ?? {}, { depth: 6, breakLength: Infinity })}`);
      if (entry.level === 'WARN' || entry.level === 'ERROR') printed.log(entry.level, entry.message, entry.meta);
    }),
  });
} catch {
  // already installed in this process
}
