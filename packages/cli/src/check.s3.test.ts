/**
 * `stowage check` against the S3 test server: a round trip on the bucket, a
 * bucket that does not exist, refused credentials, deploy warnings.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomPrefix } from '@stowage/core/testing'
import { s3TestEnv } from '../../../test/s3.js'
import { project, removeProjects, report } from './test-support/check-project.js'

afterEach(removeProjects)

describe('stowage check on S3', () => {
  function s3Env(alias: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const s3 = s3TestEnv()
    const A = alias.toUpperCase()
    return {
      [`STOWAGE_${A}_BACKEND`]: 's3',
      [`STOWAGE_${A}_BUCKET`]: s3.bucket,
      [`STOWAGE_${A}_ENDPOINT`]: s3.endpoint,
      [`STOWAGE_${A}_REGION`]: s3.region,
      [`STOWAGE_${A}_PROVIDER`]: s3.provider,
      [`STOWAGE_${A}_MAX_ATTEMPTS`]: '1',
      [`STOWAGE_${A}_LOCATION`]: randomPrefix('check'),
      [`STOWAGE_${A}_CREDENTIALS`]: JSON.stringify({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }),
      ...extra,
    }
  }
  const config = { storages: { default: { backend: 'memory' }, staticfiles: { backend: 'memory', manifest: true } } }

  it('a round trip succeeds on the bucket; a private bucket for static files and a public ACL behind presigned URLs are warned about', async () => {
    const cwd = await project(config)
    const env = { ...s3Env('default', { STOWAGE_DEFAULT_DEFAULT_ACL: 'public-read' }), ...s3Env('staticfiles') }
    const { code, report: r } = await report(cwd, ['--write'], env)
    expect(r.storages.find((s) => s.alias === 'default')!.probes.map((p) => `${p.name}:${p.ok}`)).toEqual([
      'reachable:true',
      'sign:true',
      'write:true',
      'read:true',
      'delete:true',
    ])
    expect(
      r.messages.map((m) => m.id),
      JSON.stringify(r.messages),
    ).toEqual(['stowage.W006', 'stowage.W005', 'stowage.W004'])
    expect(code).toBe(0)
  })

  it('names the bucket option and its variable for a bucket that does not exist, and refused credentials as such', async () => {
    const cwd = await project(config)
    const missing = await report(cwd, [], { ...s3Env('default', { STOWAGE_DEFAULT_BUCKET: `stowage-missing-${randomPrefix('b').toLowerCase()}` }) })
    expect(missing.code).toBe(1)
    expect(missing.report.messages[0]).toMatchObject({ id: 'stowage.E003', key: 'storages.default.options.bucket', env: 'STOWAGE_DEFAULT_BUCKET' })
    const refused = await report(
      cwd,
      [],
      s3Env('default', { STOWAGE_DEFAULT_CREDENTIALS: JSON.stringify({ accessKeyId: 'NOSUCHKEY', secretAccessKey: 'not-the-secret-0123456789' }) }),
    )
    expect(refused.code).toBe(1)
    expect(refused.report.messages[0]).toMatchObject({ id: 'stowage.E003', message: expect.stringMatching(/reachable failed: .*refused by S3/) })
    expect(refused.report.storages[0]!.probes[0]!.error!.code).toBe('EACCES')
  })
})
