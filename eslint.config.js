// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', '.tools/', 'dist/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Tests read loosely typed JSON bodies.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflows are replayed deterministically: no I/O modules, no Node built-ins.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['pg', 'hono', '@hono/*', 'node:*', 'fs', 'crypto', 'http', 'https', 'net', 'child_process'],
              message: 'workflows must stay deterministic: no I/O imports',
            },
            {
              group: ['../activities/*', '../src/*', '!../src/domain', '!../src/domain/*'],
              message: 'workflows import only @temporalio/workflow and src/domain (activity types via import type)',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
