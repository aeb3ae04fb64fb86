import { defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

// Resolve workspace packages to their TypeScript sources (see each package's
// "exports"), so tests never run against a stale build.
const conditions = ['stowage-source', ...defaultServerConditions]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['stowage-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
})
