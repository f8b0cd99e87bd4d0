/** Writes the workflow bundle to a file (image build); workers then start without bundling. */
import { writeWorkflowBundle } from './bundle.js';

const target = process.argv[2] ?? 'dist/workflow-bundle.js';
await writeWorkflowBundle(target);
console.log(`workflow bundle written to ${target}`);
