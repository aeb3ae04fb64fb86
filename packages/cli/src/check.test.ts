/**
 * `stowage check` on a real project on local disk, in a temporary directory
 * (`check.s3.test.ts` runs it against the S3 test server).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { project, removeProjects, report, run } from './test-support/check-project.js'

afterEach(removeProjects)

const SECRET = 'a-secret-from-the-environment-0123456789'
const healthy = {
  storages: {
    default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } },
    private: { backend: 'local', options: { location: './private', expiresIn: 300 } },
    staticfiles: { backend: 'local', options: { location: './staticfiles', baseUrl: '/static/' }, manifest: true },
  },
}

describe('stowage check on local disk', () => {
  it('probes every storage with a write/read/delete round trip and leaves nothing behind', async () => {
    const cwd = await project(healthy)
    await mkdir(path.join(cwd, 'staticfiles'))
    await writeFile(path.join(cwd, 'staticfiles', 'staticfiles.json'), '{"paths": {}, "version": "1.1", "hash": ""}')
    const { code, report: r } = await report(cwd, ['--write'], { STOWAGE_PRIVATE_SIGNING_SECRET: SECRET })
    expect(r.messages).toEqual([])
    expect(code).toBe(0)
    expect(r.storages.map((s) => [s.alias, s.description?.backend, s.probes.map((p) => `${p.name}:${p.ok}`).join(' ')])).toEqual([
      ['default', 'FileSystemStorage', 'reachable:true write:true read:true delete:true'],
      ['private', 'FileSystemStorage', 'reachable:true sign:true write:true read:true delete:true'],
      ['staticfiles', 'ManifestStaticStorage(FileSystemStorage)', 'reachable:true write:true read:true delete:true'],
    ])
    for (const dir of ['media', 'private', 'staticfiles']) expect((await readdir(path.join(cwd, dir))).filter((n) => n.startsWith('.stowage'))).toEqual([])
  })

  it('reports a configuration mistake with the key and variable to fix, and exits 1', async () => {
    const cwd = await project(healthy)
    const { code, report: r } = await report(cwd, [], { STOWAGE_DEFAULT_LOCATON: '/srv/media' })
    expect(code).toBe(1)
    expect(r.messages).toEqual([
      expect.objectContaining({
        level: 'error',
        id: 'stowage.E001',
        env: 'STOWAGE_DEFAULT_LOCATON',
        message: expect.stringMatching(/did you mean STOWAGE_DEFAULT_LOCATION/),
      }),
    ])
    const text = await run(cwd, [], { STOWAGE_PRIVATE_SIGNING_SECRET: 'short' })
    expect(text.code).toBe(1)
    expect(text.err).toMatch(/stowage\.E002: storages\.private\.options\.signingSecret \(STOWAGE_PRIVATE_SIGNING_SECRET\): must be at least 16 characters/)
    expect(text.err).toMatch(/System check identified \d+ issues \(1 error, \d+ warnings?\)\./)
  })

  it('warns about what breaks after a deploy; --fail-level warning makes warnings fail', async () => {
    const cwd = await project({
      storages: {
        private: { backend: 'local', options: { location: './private', signingSecret: 'written-in-the-file-0123456789' } },
        media: { backend: 'local', options: { location: './media', expiresIn: 300 } },
        staticfiles: { backend: 'local', options: { location: './staticfiles' } },
      },
    })
    const { code, report: r } = await report(cwd)
    expect(code).toBe(0)
    expect(r.messages.map((m) => `${m.id} ${m.key ?? ''}`)).toEqual([
      'stowage.W001 storages.default',
      'stowage.W008 storages.private.options.signingSecret',
      'stowage.W007 storages.media.options.signingSecret',
      'stowage.W003 storages.staticfiles.manifest',
    ])
    expect((await run(cwd, ['--fail-level', 'warning'])).code).toBe(1)
    const withManifest = await project({ ...healthy, storages: { ...healthy.storages, private: { backend: 'local', options: { location: './p' } } } })
    expect((await report(withManifest)).report.messages.map((m) => m.id)).toEqual(['stowage.W007', 'stowage.W004'])
  })

  it('answers usage errors with 2 and prints its help', async () => {
    const cwd = await project(healthy)
    expect((await run(cwd, ['--bogus'])).code).toBe(2)
    expect((await run(cwd, ['--fail-level', 'info'])).code).toBe(2)
    const help = await run(cwd, ['--help'])
    expect(help.code).toBe(0)
    expect(help.out).toMatch(/^Usage: stowage check/)
  })
})
