import { defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

// Resolve workspace packages to their TypeScript sources (see each package's
// "exports"), so tests never run against a stale build.
// Without 'module': Vitest passes these to Node in the test workers as
// --conditions, and 'module' makes Node load the AWS SDK's bundler-only dist-es
// builds (extensionless imports), which fail; 'node' picks its dist-cjs.
const conditions = ['stowage-source', ...defaultServerConditions.filter((c) => c !== 'module')]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['stowage-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    // A test that asserts nothing proves nothing: fail it.
    expect: { requireAssertions: true },
    testTimeout: 30_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // The AWS SDK warns in every process on Node 20 that its releases after
    // January 2027 need Node 22: known (CI also runs the suite on Node 24),
    // and noise that buries real output. Child processes inherit it too.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
})
