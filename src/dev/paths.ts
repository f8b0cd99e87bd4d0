import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
export const TOOLS_BIN = path.join(TOOLS_DIR, 'bin');
