// @ts-check
import { builtinModules } from 'node:module';
import { defineConfig, globalIgnores } from 'eslint/config';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Folders whose code has side effects: workflows may see their types, never their values. */
const SIDE_EFFECT_FOLDERS = ['activities', 'providers', 'storage', 'render', 'workers', 'infra'];

/** Packages that talk to the world (network, processes, files, terminals): never in the workflow sandbox. */
const CLIENT_PACKAGES = [
  'openai',
  '@google/genai',
  'execa',
  'pngjs',
  'p-limit',
  'commander',
  'cli-progress',
  'tsx',
  'playwright-core',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/testing',
  '@temporalio/worker',
];
const CLIENT_PACKAGE_PATTERNS = ['@aws-sdk/*', '@opentelemetry/*'];

export default defineConfig([
  globalIgnores(['node_modules/', '.venv/', '.tools/', '.scigen/', 'test-results/', '.scratch/']),
  {
    files: ['**/*.{js,mjs,ts}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver()],
      // Which imported files import-x reads to follow a cycle, and with which parser.
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      // Type-only imports are erased at compile time and do not count as a cycle.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox and is replayed: no I/O, no clients,
    // no activity implementations (STYLE.md 2 and 9).
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...builtinModules.map((name) => ({ name, message: 'Node builtins are not available in workflow code.' })),
            ...CLIENT_PACKAGES.map((name) => ({
              name,
              message: 'Workflow code must not import SDK clients or worker-side packages; call an activity.',
            })),
          ],
          patterns: [
            { group: ['node:*'], message: 'Node builtins are not available in workflow code.' },
            {
              group: CLIENT_PACKAGE_PATTERNS,
              message: 'Workflow code must not import SDK clients or worker-side packages; call an activity.',
            },
            {
              regex: `^(\\.\\./)+(${SIDE_EFFECT_FOLDERS.join('|')})/`,
              allowTypeImports: true,
              message: 'Workflow code may import side-effecting modules as types only (`import type`).',
            },
          ],
        },
      ],
    },
  },
]);
