/**
 * Which test files use the S3 test server, declared here rather than guessed
 * from their text. `test/global-setup.ts` starts the server only when a
 * selected file is declared, and `s3TestEnv()` refuses to serve a file that
 * is not, so a missing declaration fails on every run (not only when the
 * file runs alone, after another file happened to start the server).
 *
 * A new test file that needs S3: name it `*.s3.test.ts`, or add it to the
 * list below.
 */
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '..')

/** Test files not named `*.s3.test.ts` that use S3, relative to the repository root. */
export const S3_TEST_FILES: readonly string[] = [
  // Every backend of packages/http/src/test-support/backends.ts, S3 included.
  'packages/http/src/field-backends.test.ts',
  'packages/http/src/receive-upload.test.ts',
  'packages/http/src/serve-media.test.ts',
  'packages/http/src/serve-variants.test.ts',
  'packages/images/src/images.test.ts',
  'packages/s3/src/bucket-urls.test.ts',
  'packages/s3/src/direct-upload.test.ts',
  'packages/s3/src/ensure-bucket.test.ts',
  'packages/s3/src/multipart.test.ts',
  'packages/s3/src/presign.test.ts',
  'packages/s3/src/s3-storage.test.ts',
  'test/e2e/direct-uploads.e2e.test.ts',
  'test/e2e/hostile-svg.e2e.test.ts',
  'test/e2e/profiles.e2e.test.ts',
  'test/reliability/s3-faults.test.ts',
  'test/reliability/s3-reliability.test.ts',
]

/** @returns whether the test file at `file` (absolute, or relative to the repository root) is declared to use the S3 server. */
export function usesS3(file: string): boolean {
  const relative = path.relative(ROOT, path.resolve(ROOT, file)).split(path.sep).join('/')
  return relative.endsWith('.s3.test.ts') || S3_TEST_FILES.includes(relative)
}
