/**
 * Shared helpers for tests that talk to the S3 server started by
 * `test/global-setup.ts` (or named by `S3_ENDPOINT`). Any package's tests can
 * use them to run against the same server:
 *
 * ```ts
 * import { S3Storage } from '@stowage/s3'
 * import { s3TestOptions } from '../../../test/s3.js'
 * const storage = new S3Storage(s3TestOptions({ location: randomPrefix('mine') }))
 * ```
 *
 * When no server is available they throw, so the tests fail instead of skipping.
 */
import { inject } from 'vitest'
import type { S3Provider, S3StorageOptions } from '@stowage/s3'

/** Where the test server is and how to sign in. */
export interface S3TestEnv {
  endpoint: string
  region: string
  bucket: string
  accessKeyId: string
  secretAccessKey: string
  /** The server kind (`S3_PROVIDER`): `ceph` for the gateway the test command starts. */
  provider: S3Provider
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3TestEnv
    s3Error: string
  }
}

/**
 * @returns the test server's coordinates.
 * @throws Error with the reason when no S3 server could be started or reached.
 */
export function s3TestEnv(): S3TestEnv {
  const error = inject('s3Error')
  if (error) throw new Error(`The S3 test server is unavailable: ${error}`)
  const env = inject('s3')
  if (env) return env
  const e = process.env
  if (e.S3_ENDPOINT) {
    return {
      endpoint: e.S3_ENDPOINT,
      region: e.S3_REGION || 'us-east-1',
      bucket: e.S3_BUCKET || 'stowage-test',
      accessKeyId: e.S3_ACCESS_KEY_ID || '',
      secretAccessKey: e.S3_SECRET_ACCESS_KEY || '',
      provider: (e.S3_PROVIDER as S3Provider | undefined) || 'generic',
    }
  }
  throw new Error('No S3 test server: test/global-setup.ts did not start one (does this test file mention @stowage/s3 or test/s3?)')
}

/**
 * Options for an `S3Storage` on the test server, merged with `extra`
 * (pass a random `location` so tests never see each other's objects).
 * @throws Error when no S3 server is available.
 */
export function s3TestOptions(extra: Partial<S3StorageOptions> = {}): S3StorageOptions {
  const env = s3TestEnv()
  return {
    bucket: env.bucket,
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    provider: env.provider,
    ...extra,
  }
}
