/**
 * Shared helpers for tests that talk to the S3 server started by
 * `test/global-setup.ts` (or named by `S3_ENDPOINT`). Any package's tests can
 * use them to run against the same server:
 *
 * ```ts
 * import { s3Storages } from '../../../test/s3.js'
 * const storageWith = s3Storages('mine') // clients destroyed after the file's tests
 * const storage = storageWith({ querystringAuth: false })
 * ```
 *
 * A file that uses them must be declared in `test/s3-test-files.ts`. When no
 * server is available they throw, so the tests fail instead of skipping.
 */
import { afterAll, expect, inject } from 'vitest'
import { randomPrefix } from '@stowage/core/testing'
import { S3Storage, type S3Provider, type S3StorageOptions } from '@stowage/s3'
import { usesS3 } from './s3-test-files.js'

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
 * @throws Error with the reason when no S3 server could be started or reached,
 *   or when the calling test file is not declared in `test/s3-test-files.ts`.
 */
export function s3TestEnv(): S3TestEnv {
  const file = expect.getState().testPath
  if (file && !usesS3(file)) {
    throw new Error(`${file} uses the S3 test server but is not declared: name it *.s3.test.ts or list it in test/s3-test-files.ts`)
  }
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
  throw new Error('No S3 test server: test/global-setup.ts did not start one')
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

/**
 * A maker of `S3Storage`s on the test server for one test file (or
 * `describe` block), each under its own random key prefix `label-…` unless
 * `extra` names a `location`; every client it made is destroyed after the
 * tests of the scope it was called in (it registers an `afterAll`).
 * @returns `storageWith(extra)`, building a storage with `defaults` and `extra` merged.
 * @throws Error (from `storageWith`) when no S3 server is available.
 */
export function s3Storages(label: string, defaults: Partial<S3StorageOptions> = {}): (extra?: Partial<S3StorageOptions>) => S3Storage {
  const made: S3Storage[] = []
  afterAll(() => {
    for (const s of made.splice(0)) s.client.destroy()
  })
  return (extra = {}) => {
    const storage = new S3Storage(s3TestOptions({ location: randomPrefix(label), ...defaults, ...extra }))
    made.push(storage)
    return storage
  }
}
