// Flat config: typescript-eslint's recommended rules on the project's sources,
// tests, benchmarks and simulation runner.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'src/storage/shims/**', '**/*.generated.ts', '**/*.pb.ts', 'examples/**/build/**', '.dcis/**']
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }]
    }
  },
  {
    // type-aware rules for the peer's own code: a promise nobody awaits and
    // nobody handles is how a rejected waiter ends the process (issue 10)
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      '@typescript-eslint/no-misused-promises': 'error'
    }
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } }
  },
  {
    // the dashboard's browser script (served as is by GET /ui)
    files: ['ui/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', setTimeout: 'readonly', Node: 'readonly' } }
  }
)
