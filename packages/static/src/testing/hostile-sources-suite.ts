/**
 * collectstatic against source trees that fight back, run on each backend:
 * sources named like Stowage's own files or the manifest, sources that
 * disappear or change while a run reads them.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { writeAssetTree } from './asset-tree.js'
import { unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Storage } from '@stowage/core'
import { collectstatic, COLLECT_STATE_NAME, STREAM_THRESHOLD } from '../collectstatic.js'
import { DEPLOYS_DIR, listDeploys } from '../deploy-history.js'
import { createFinders, type StaticDir } from '../finders.js'
import { md5Hex } from '../hashing.js'
import { parseManifest } from '../manifest.js'
import { ManifestStaticStorage } from '../manifest-static-storage.js'

/** How the suite gets a fresh, empty storage for one test (e.g. under a random prefix). */
export interface HostileSourcesSuiteOptions {
  name: string
  create: () => Promise<Storage> | Storage
}

/** Every name in `storage`, sorted. */
async function names(storage: Storage, dir = ''): Promise<string[]> {
  const { dirs, files } = await storage.listdir(dir)
  const out = files.map((f) => (dir ? `${dir}/${f}` : f))
  for (const d of dirs) out.push(...(await names(storage, dir ? `${dir}/${d}` : d)))
  return out.sort()
}

/** Registers the tests (vitest) against the storage `create` returns. Call at the top level of a test file. */
export function runHostileSourcesSuite({ name, create }: HostileSourcesSuiteOptions): void {
  describe(`collectstatic and hostile sources on ${name}`, () => {
    const dirs: string[] = []
    afterAll(() => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))))
    const project = async (files: Record<string, string | Buffer>): Promise<string> => {
      const src = await mkdtemp(path.join(tmpdir(), 'stowage-hostile-'))
      dirs.push(src)
      await writeAssetTree(src, files)
      return src
    }
    const text = async (s: Storage, n: string) => Buffer.from(await s.read(n)).toString('utf8')

    it("refuses sources named as the run record, the deploy history or the manifest, reported, and collects the rest under Stowage's own", async () => {
      const forged = '{"paths": {"app.css": "evil.css"}, "version": "1.1", "hash": "000000000000"}'
      const record = '{"version": 1, "files": {}}'
      const src = await project({
        'app.css': 'body {}',
        [COLLECT_STATE_NAME]: record,
        [`${DEPLOYS_DIR}/99999999-x.json`]: forged,
        'staticfiles.json': forged,
        'deploys/99999999-y.json': forged,
      })
      const inner = await create()
      const storage = new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
      // Without Django's default ignores (`.*`), and with a prefix that puts a directory under `.stowage-deploys/`.
      const dirs: StaticDir[] = [src, [DEPLOYS_DIR, path.join(src, 'deploys')]]
      const summary = await collectstatic({ storage, finders: createFinders({ root: src, dirs, packages: false }), useDefaultIgnorePatterns: false })
      const refused = [COLLECT_STATE_NAME, `${DEPLOYS_DIR}/99999999-x.json`, `${DEPLOYS_DIR}/99999999-y.json`, 'staticfiles.json']
      expect(summary.errors.map((e) => [e.path, e.code])).toEqual(refused.map((p) => [p, 'ESUSPICIOUS']))
      expect(summary.manifestWritten).toBe(true)
      const manifest = parseManifest(await text(inner, 'staticfiles.json'))
      expect(Object.keys(manifest.paths)).toEqual(['app.css', `deploys/99999999-y.json`])
      // The history holds this run's deploy only, numbered from 1: a forged 99999999 made the next
      // 100000000, which listDeploys never lists, and cleanStatic kept the forged one's files instead.
      expect((await inner.listdir(DEPLOYS_DIR)).files).toEqual([`00000001-${manifest.hash}.json`])
      expect(await listDeploys(inner)).toEqual([`${DEPLOYS_DIR}/00000001-${manifest.hash}.json`])
      // The record is this run's, not the project's file of that name.
      expect(await text(inner, COLLECT_STATE_NAME)).not.toBe(record)
    })

    it('stops with FileNotFoundError, writing nothing, when a source disappears before it is read', async () => {
      const src = await project({ 'a.png': 'A', 'b.png': 'B' })
      const inner = await create()
      const storage = new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
      const run = collectstatic({
        storage,
        finders: createFinders({ root: src, dirs: [src], packages: false }),
        concurrency: 1,
        onProgress: (e) => {
          if (e.phase === 'read' && e.done === 1) unlinkSync(path.join(src, 'b.png'))
        },
      })
      await expect(run).rejects.toMatchObject({ name: 'FileNotFoundError', code: 'ENOENT', context: expect.objectContaining({ name: 'b.png' }) })
      expect(await names(inner)).toEqual([])
    })

    it.each([
      ['small', 'A'],
      ['streamed', Buffer.alloc(STREAM_THRESHOLD + 1, 'A')],
    ])(
      'never stores a %s source changed after it was hashed under the hashed name of its old bytes (ECHANGED, no manifest); a re-run collects it',
      async (_, body) => {
        const src = await project({ 'a.png': body, 'b.png': 'B' })
        const inner = await create()
        const finders = createFinders({ root: src, dirs: [src], packages: false })
        const changed = Buffer.concat([Buffer.from('changed '), Buffer.from(body)])
        const first = await collectstatic({
          storage: new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' }),
          finders,
          concurrency: 1,
          // Both are hashed; a.png changes before anything is written.
          onProgress: (e) => {
            if (e.phase === 'read' && e.done === 2) writeFileSync(path.join(src, 'a.png'), changed)
          },
        })
        expect(first.errors.map((e) => [e.path, e.code])).toEqual([
          [`a.${md5Hex(body).slice(0, 12)}.png`, 'ECHANGED'],
          ['a.png', 'ECHANGED'],
        ])
        expect(first.manifestWritten).toBe(false)
        expect(await inner.exists(`a.${md5Hex(body).slice(0, 12)}.png`)).toBe(false)
        expect(await inner.exists('staticfiles.json')).toBe(false)

        const again = await collectstatic({ storage: new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' }), finders })
        expect(again.errors).toEqual([])
        const hashed = parseManifest(await text(inner, 'staticfiles.json')).paths['a.png']!
        expect(hashed).toBe(`a.${md5Hex(changed).slice(0, 12)}.png`)
        expect(md5Hex(await inner.read(hashed))).toBe(md5Hex(changed))
      },
    )
  })
}
