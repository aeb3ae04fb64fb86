// ESLint: typescript-eslint's recommended rules on every package, test and
// script; formatting is Prettier's job (`.prettierrc.json`), not ESLint's.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'test-artifacts/**', 'bench/**', 'examples/profiles/static/**', 'packages/browser/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      // Deliberate in this code base: `catch {}` for best-effort cleanup, and unused `_`-prefixed parameters.
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Tests and SDK edges hand `any` around on purpose; the type checker (strict) guards the rest.
      '@typescript-eslint/no-explicit-any': 'off',
      // Path and SVG checks match control characters on purpose: refusing them is the point.
      'no-control-regex': 'off',
      // Interfaces that only extend (registries users augment, option types kept open for backends).
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'always', allowObjectTypes: 'always' }],
    },
  },
  {
    // Code that runs in the browser.
    files: ['examples/profiles/src/client/**/*.js', 'packages/browser/src/**/*.ts'],
    languageOptions: {
      globals: {
        document: 'readonly',
        window: 'readonly',
        localStorage: 'readonly',
        AbortController: 'readonly',
        XMLHttpRequest: 'readonly',
        FormData: 'readonly',
        Blob: 'readonly',
      },
    },
  },
)
