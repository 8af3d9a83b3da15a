import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // load/*.js and load/lib/*.js are k6 scripts (k6's own JavaScript runtime, not Node).
  { ignores: ['**/node_modules/**', '.run/**', 'coverage/**', 'dist/**', 'load/*.js', 'load/lib/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', __dirname: 'readonly', module: 'readonly', require: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read JSON answers field by field, as a client would.
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
