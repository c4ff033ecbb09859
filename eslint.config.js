import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'artifacts/', '.tmp/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The E2EE library never logs: key material and plaintext pass through it.
    files: ['e2ee/**/*.ts'],
    ignores: ['e2ee/**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // Only the MLS session module talks to ts-mls.
    files: ['**/*.ts'],
    ignores: ['e2ee/mls/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'ts-mls', message: 'use e2ee/mls (the MLS session module) instead' }] }] },
  },
);
