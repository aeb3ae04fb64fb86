/**
 * `stowage check` against the S3 test server: a round trip on the bucket, a
 * bucket that does not exist, refused credentials, deploy warnings.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { randomPrefix } from '@stowage/core/testing'
import { s3TestEnv } from '../../../test/s3.js'
import type { CheckReport } from './check.js'
import type { Io } from './io.js'
import { main } from './main.js'

const dirs: string[] = []
afterEach(() => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))))

async function project(config: object): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stowage-check-'))
  dirs.push(dir)
  await writeFile(path.join(dir, 'stowage.config.json'), JSON.stringify(config))
  return dir
}

async function run(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  let clock = 0
  const io: Io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, cwd, env, now: () => (clock += 2) }
  const code = await main(['check', ...args], io)
  return { code, out, err }
}

async function report(cwd: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; report: CheckReport }> {
  const { code, out } = await run(cwd, ['--json', ...args], env)
  return { code, report: JSON.parse(out) as CheckReport }
}

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
    expect(r.storages.find((s) => s.alias === 'default')!.probes.map((p) => `${p.name}:${p.ok}`)).toEqual(['reachable:true', 'sign:true', 'write:true', 'read:true', 'delete:true'])
    expect(r.messages.map((m) => m.id), JSON.stringify(r.messages)).toEqual(['stowage.W006', 'stowage.W005', 'stowage.W004'])
    expect(code).toBe(0)
  })

  it('names the bucket option and its variable for a bucket that does not exist, and refused credentials as such', async () => {
    const cwd = await project(config)
    const missing = await report(cwd, [], { ...s3Env('default', { STOWAGE_DEFAULT_BUCKET: `stowage-missing-${randomPrefix('b').toLowerCase()}` }) })
    expect(missing.code).toBe(1)
    expect(missing.report.messages[0]).toMatchObject({ id: 'stowage.E003', key: 'storages.default.options.bucket', env: 'STOWAGE_DEFAULT_BUCKET' })
    const refused = await report(cwd, [], s3Env('default', { STOWAGE_DEFAULT_CREDENTIALS: JSON.stringify({ accessKeyId: 'NOSUCHKEY', secretAccessKey: 'not-the-secret-0123456789' }) }))
    expect(refused.code).toBe(1)
    expect(refused.report.messages[0]).toMatchObject({ id: 'stowage.E003', message: expect.stringMatching(/reachable failed: .*refused by S3/) })
    expect(refused.report.storages[0]!.probes[0]!.error!.code).toBe('EACCES')
  })
})
