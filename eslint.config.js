// ESLint flat config: the recommended JavaScript and typescript-eslint rules (not the
// type-checked presets, which are too slow here), then eslint-config-prettier last so
// formatting is left to Prettier. Scope: src, test, bench, examples, scripts.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const code = ['src', 'test', 'bench', 'examples', 'scripts'].map((dir) => `${dir}/**/*.{ts,mjs,js}`);

export default defineConfig(
  {
    ignores: ['dist/', 'docs/', 'node_modules/', 'coverage/', 'examples/data/', '.scratch/', '.bench-tmp/'],
  },
  {
    files: [...code, '*.js'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      // Subscriptions are declared before the closures that tear them down and assigned later; const would be a TDZ error.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Plain JavaScript (scripts/*.mjs, this file) is not type-checked, so no-undef stays on
    // there; these are the Node globals it may use. TypeScript files get theirs from @types/node.
    files: ['**/*.{mjs,js}'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'Buffer',
          'URL',
          'URLSearchParams',
          'AbortController',
          'AbortSignal',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'setImmediate',
          'clearImmediate',
          'queueMicrotask',
          'structuredClone',
          'fetch',
          'TextEncoder',
          'TextDecoder',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  prettier,
);
