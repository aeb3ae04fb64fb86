import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Resolve workspace packages to their TypeScript sources (see each package's
    // "exports"), so tests never run against a stale build.
    conditions: ['stowage-source'],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
})
