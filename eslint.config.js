// npm run lint: ESLint's and typescript-eslint's recommended rules, type-aware, over every TypeScript file we write.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['**/node_modules/', '**/dist/', '**/coverage/', 'data/', 'bench/.tmp/', '**/migrations/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Fastify's async handlers and hooks, and functions that implement a Promise-returning interface, are async
      // without an await by design; floating and misused promises are caught by their own rules.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a parameter kept for its position; a rest sibling is a field deliberately dropped.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests read response bodies through light-my-request's and fetch's `json()`, typed `any` by design; the
    // assertions on them are the check, so the no-unsafe-* family (and a ban on writing that any) only adds casts there.
    files: ['**/test/**/*.ts', 'tests/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
);
