/**
 * The collectstatic tests, run against each backend (memory, local disk,
 * S3): one suite through the public API, so backends cannot drift.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Storage } from '@stowage/core'
import { collectstatic, COLLECT_STATE_NAME, CollectStaticError, RECORD_CHANGES_NAME, REPLACING_NAME } from '../collectstatic.js'
import { createFinders } from '../finders.js'
import { md5Hex } from '../hashing.js'
import { parseManifest } from '../manifest.js'
import { ManifestStaticStorage } from '../manifest-static-storage.js'
import { ASSET_TREE_DIRS, assetTree, fakeBytes, writeAssetTree } from './asset-tree.js'
import { CountingStorage } from './counting-storage.js'

/** How the suite gets a fresh, empty storage for one test (e.g. under a random prefix). */
export interface CollectSuiteOptions {
  name: string
  create: () => Promise<Storage> | Storage
}

const text = async (s: Storage, name: string) => Buffer.from(await s.read(name)).toString('utf8')

/**
 * Registers the collectstatic tests (vitest) against the storage `create`
 * returns: a generated asset tree collected plain and hashed, incremental
 * re-runs, broken references, clearing. Call at the top level of a test file.
 */
export function runCollectstaticSuite({ name, create }: CollectSuiteOptions): void {
  describe(`collectstatic on ${name}`, () => {
    let root: string
    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'stowage-collect-'))
      await writeAssetTree(root)
    })
    afterAll(() => rm(root, { recursive: true, force: true }))

    const fresh = async () => {
      const counting = new CountingStorage(await create())
      const storage = new ManifestStaticStorage({ storage: counting, staticUrl: '/static/' })
      return { counting, storage }
    }

    it('copies originals and hashed copies, rewrites every reference form, writes a Django manifest', async () => {
      const { counting, storage } = await fresh()
      const summary = await collectstatic({ storage, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }) })
      expect(summary.errors).toEqual([])
      expect(summary.duplicates.map((d) => d.path)).toEqual(['css/base.css'])
      expect(summary.cycles).toEqual([
        ['css/cycle-a.css', 'css/cycle-b.css'],
        ['js/chunks/lazy.js', 'js/lib/util.js'], // util imports lazy dynamically, lazy imports util
      ])
      const manifest = parseManifest(await text(counting, 'staticfiles.json'))
      expect(manifest.version).toBe('1.1')
      const sources = Object.keys(manifest.paths).sort()
      expect(sources).toContain('vendor/jquery/jquery.min.js')
      expect(sources).toContain('ui/widget.css')
      expect(sources).not.toContain('.DS_Store')
      expect(sources).not.toContain('css/app.css~')
      expect(summary.copied).toBe(sources.length)
      expect(summary.postProcessed).toBe(sources.length)
      const h = (p: string) => manifest.paths[p]!
      const base = (p: string) => h(p).slice(h(p).lastIndexOf('/') + 1)
      // The logo is named by its content hash.
      expect(h('img/logo.png')).toBe(`img/logo.${md5Hex(fakeBytes('logo', 2048)).slice(0, 12)}.png`)
      expect(Buffer.from(await counting.read(h('img/logo.png'))).equals(fakeBytes('logo', 2048))).toBe(true)
      // The original is kept, unchanged, as Django does.
      expect(await text(counting, 'css/app.css')).toBe(assetTree()['static/css/app.css'])

      const css = await text(counting, h('css/app.css'))
      expect(h('css/app.css')).toBe(`css/app.${md5Hex(css).slice(0, 12)}.css`)
      expect(css).toContain(`@import "${base('css/base.css')}";`)
      expect(css).toContain(`@import '${h('css/components/buttons.css').slice(4)}';`)
      expect(css).toContain(`@import url("${h('css/vendor/normalize.css').slice(4)}");`)
      expect(css).toContain(`url('../${h('fonts/inter.woff2')}')`)
      expect(css).toContain(`url(../${h('fonts/inter.eot')}?#iefix)`)
      expect(css).toContain(`url("../${h('fonts/inter.svg')}#inter")`)
      expect(css).toContain(`url(../${h('img/logo.png')})`)
      expect(css).toContain(`url( "../${h('img/hero bg.jpg').replace(' ', '%20')}" )`)
      expect(css).toContain(`url('../${h('img/sprite.png')}?v=3')`)
      expect(css).toContain(`url(/static/${h('img/abs.png')})`)
      expect(css).toContain('url(data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)')
      expect(css).toContain('url(https://cdn.example.com/x.png)')
      expect(css).toContain('url(//cdn.example.com/y.png)')
      expect(css).toContain('url(#svg-filter)')
      expect(css).toContain('url(../img/removed.png)') // inside a comment: untouched
      expect(css).toContain(`/*# sourceMappingURL=${base('css/app.css.map')} */`)

      const js = await text(counting, h('js/app.js'))
      expect(js).toContain(`from './${h('js/lib/util.js').slice(3)}'`)
      expect(js).toContain(`} from './${h('js/lib/helpers.js').slice(3)}';`)
      expect(js).toContain(`export * from './${h('js/lib/re-export.js').slice(3)}'`)
      expect(js).toContain(`import './${h('js/polyfill.js').slice(3)}'`)
      expect(js).toContain(`import('./${h('js/chunks/lazy.js').slice(3)}')`)
      expect(js).toContain(`new URL('../${h('img/logo.png')}', import.meta.url)`)
      expect(js).toContain("import React from 'react'")
      expect(js).toContain("// import gone from './gone.js'")
      expect(js).toContain(`//# sourceMappingURL=${base('js/app.js.map')}`)
      // A package's stylesheet resolves against the merged tree.
      expect(await text(counting, h('ui/widget.css'))).toContain(`url(../${h('img/logo.png')})`)
      // url() gives the hashed URL.
      const url = await storage.url('css/app.css?v=1#top')
      expect(url).toContain(`${h('css/app.css')}?`)
      expect(url).toMatch(/[?&]v=1#top$/)
    })

    it('writes nothing, and asks nothing per file, on a re-run with nothing changed', async () => {
      const { counting, storage } = await fresh()
      const first = await collectstatic({ storage, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }) })
      counting.reset()
      const again = await collectstatic({
        storage: new ManifestStaticStorage({ storage: counting, staticUrl: '/static/' }),
        finders: createFinders({ root, dirs: ASSET_TREE_DIRS }),
      })
      expect(counting.saves).toEqual([])
      expect(counting.deletes).toEqual([])
      expect(counting.stats).toBe(0)
      // Four reads whatever the number of files: the run record, its changes and the list of
      // names a stopped run was replacing (there are none) and the manifest; no listing.
      expect(counting.readNames.sort()).toEqual([COLLECT_STATE_NAME, RECORD_CHANGES_NAME, REPLACING_NAME, 'staticfiles.json'].sort())
      expect(counting.listings).toEqual([])
      expect(again).toMatchObject({ copied: 0, postProcessed: 0, manifestWritten: false, errors: [] })
      expect(again.unmodified).toBe(first.copied)
    })

    it('re-hashes a changed image and every stylesheet that points to it, and only those', async () => {
      const { counting, storage } = await fresh()
      const dir = await mkdtemp(path.join(tmpdir(), 'stowage-collect-change-'))
      try {
        await writeAssetTree(dir)
        await collectstatic({ storage, finders: createFinders({ root: dir, dirs: ASSET_TREE_DIRS }) })
        const before = parseManifest(await text(counting, 'staticfiles.json')).paths
        await writeFile(path.join(dir, 'static/img/logo.png'), fakeBytes('logo v2', 2048))
        counting.reset()
        const summary = await collectstatic({ storage, finders: createFinders({ root: dir, dirs: ASSET_TREE_DIRS }) })
        const after = parseManifest(await text(counting, 'staticfiles.json')).paths
        const changed = Object.keys(after)
          .filter((k) => after[k] !== before[k])
          .sort()
        expect(changed).toEqual(['css/app.css', 'css/base.css', 'img/logo.png', 'js/app.js', 'ui/widget.css'])
        expect(summary.copied).toBe(1)
        expect(summary.postProcessed).toBe(changed.length)
        // Before img/logo.png is replaced, its name is listed beside the record (so an
        // interrupted run cannot vouch for the old bytes: the next run does not take the
        // record's word for it); the record's changes are saved once, at the end (not the whole
        // record), and the list deleted. The new manifest also goes into the deploy history.
        const manifestHash = parseManifest(await text(counting, 'staticfiles.json')).hash
        expect(counting.deletes).toEqual([REPLACING_NAME])
        expect(counting.saves.sort()).toEqual(
          [
            REPLACING_NAME,
            RECORD_CHANGES_NAME,
            `.stowage-deploys/00000002-${manifestHash}.json`,
            'img/logo.png',
            'staticfiles.json',
            ...changed.map((k) => after[k]!),
          ].sort(),
        )
        // The old hashed files stay, so pages cached with the old manifest keep working.
        expect(await counting.exists(before['img/logo.png']!)).toBe(true)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('reports every broken reference with file and line, and writes nothing in strict mode', async () => {
      const { counting, storage } = await fresh()
      const dir = await mkdtemp(path.join(tmpdir(), 'stowage-collect-broken-'))
      try {
        await writeAssetTree(dir, {
          'static/css/a.css': '.a {}\n.b { background: url(missing.png) }\n',
          'static/js/m.js': "import x from './nope.js'\n",
          'static/img/ok.png': 'png',
        })
        const err = await collectstatic({ storage, finders: createFinders({ root: dir, dirs: ['static'], packages: false }) }).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(CollectStaticError)
        expect((err as CollectStaticError).code).toBe('EREFERENCE')
        expect((err as CollectStaticError).problems.map((p) => `${p.file}:${p.line}`)).toEqual(['css/a.css:2', 'js/m.js:1'])
        expect(counting.saves).toEqual([])

        const lenient = await collectstatic({ storage, finders: createFinders({ root: dir, dirs: ['static'], packages: false }), strict: false })
        expect(lenient.warnings.map((p) => `${p.file}:${p.line}`)).toEqual(['css/a.css:2', 'js/m.js:1'])
        const manifest = parseManifest(await text(counting, 'staticfiles.json'))
        expect(await text(counting, manifest.paths['css/a.css']!)).toContain('url(missing.png)')
        // A strict re-run with the same sources fails again (the recorded plan keeps its problems).
        await expect(collectstatic({ storage, finders: createFinders({ root: dir, dirs: ['static'], packages: false }) })).rejects.toBeInstanceOf(
          CollectStaticError,
        )
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('dry run writes nothing; clear deletes what was there', async () => {
      const { counting, storage } = await fresh()
      const dry = await collectstatic({ storage, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }), dryRun: true })
      expect(dry.copied).toBeGreaterThan(0)
      expect(counting.saves).toEqual([])
      expect(await counting.exists('staticfiles.json')).toBe(false)

      await counting.save('stale/old.txt', 'old', { overwrite: true })
      await collectstatic({ storage, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }) })
      counting.reset()
      const cleared = await collectstatic({ storage, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }), clear: true })
      expect(cleared.files.deleted).toContain('stale/old.txt')
      expect(await counting.exists('stale/old.txt')).toBe(false)
      expect(cleared.copied).toBe(cleared.files.copied.length)
      expect(cleared.unmodified).toBe(0)
      expect(await counting.exists('staticfiles.json')).toBe(true)
    })

    it('without post-processing copies originals only', async () => {
      const { counting, storage } = await fresh()
      const summary = await collectstatic({ storage, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }), postProcess: false })
      expect(summary.postProcessed).toBe(0)
      expect(await counting.exists('staticfiles.json')).toBe(false)
      expect(await text(counting, 'css/app.css')).toBe(assetTree()['static/css/app.css'])
    })

    it('collects into a plain storage, incrementally', async () => {
      const counting = new CountingStorage(await create())
      const first = await collectstatic({ storage: counting, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }) })
      expect(first.postProcessed).toBe(0)
      expect(await text(counting, 'vendor/jquery/jquery.min.js')).toContain('jQuery')
      counting.reset()
      const again = await collectstatic({ storage: counting, finders: createFinders({ root, dirs: ASSET_TREE_DIRS }) })
      expect(counting.saves).toEqual([])
      expect(again.unmodified).toBe(first.copied)
    })
  })
}
