/**
 * `loadStorages({ probe: true })` on the S3 test server: a bucket that does
 * not exist stops start-up, naming the option and its variable.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigurationError, loadStorages, storages } from '@stowage/core'
import { randomPrefix, rejection } from '@stowage/core/testing'
import { s3TestEnv } from '../../../test/s3.js'
import type { S3Storage } from './s3-storage.js'

let dir: string | undefined
afterEach(async () => {
  for (const alias of storages.aliases()) (storages.get(alias) as S3Storage).client.destroy()
  storages.reset()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function project(bucket: string): Promise<string> {
  const s3 = s3TestEnv()
  dir = await mkdtemp(path.join(tmpdir(), 'stowage-probe-'))
  const options = { bucket, endpoint: s3.endpoint, region: s3.region, provider: s3.provider, maxAttempts: 1, location: randomPrefix('probe') }
  await writeFile(path.join(dir, 'stowage.config.json'), JSON.stringify({ storages: { default: { backend: 's3', options } } }))
  return dir
}

describe('loadStorages({ probe: true })', () => {
  it('stops start-up for a bucket that does not exist, naming the option and its variable; without probe it starts', async () => {
    const s3 = s3TestEnv()
    const env = { STOWAGE_DEFAULT_CREDENTIALS: JSON.stringify({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }) }
    const cwd = await project(`stowage-missing-${randomPrefix('b').toLowerCase()}`)
    await loadStorages({ cwd, env })
    const err = await rejection(loadStorages({ cwd, env, probe: true }), ConfigurationError)
    expect(err).toMatchObject({ key: 'storages.default.options.bucket', env: 'STOWAGE_DEFAULT_BUCKET' })
    expect(err.message).toMatch(/^storages\.default\.options\.bucket \(STOWAGE_DEFAULT_BUCKET\): 'stowage-missing-.*' does not exist$/)
  })

  it('starts when every storage answers', async () => {
    const s3 = s3TestEnv()
    const cwd = await project(s3.bucket)
    const env = { STOWAGE_DEFAULT_CREDENTIALS: JSON.stringify({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }) }
    expect((await loadStorages({ cwd, env, probe: true })).storages.default!.backend).toBe('s3')
  })
})
