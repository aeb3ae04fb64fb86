/**
 * Tests of what Stowage adds to Django's static pipeline, run against each
 * backend (memory, local disk, S3) through the public API: Subresource
 * Integrity in the manifest, precompressed variants, lenient source maps,
 * names the storage refuses, sorted manifests, the deploy history and
 * `cleanStatic`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Storage } from '@stowage/core'
import { cleanStatic } from '../clean-static.js'
import { COLLECT_STATE_NAME } from '../collect-record.js'
import { collectstatic, CollectStaticError } from '../collectstatic.js'
import { createFinders } from '../finders.js'
import { listDeploys } from '../deploy-history.js'
import { integrityOf } from '../hashing.js'
import { createManifest, parseManifest } from '../manifest.js'
import { ManifestStaticStorage, type ManifestStaticStorageOptions } from '../manifest-static-storage.js'
import { IMMUTABLE_CACHE_CONTROL, SHORT_CACHE_CONTROL } from '../save-hints.js'
import { loadStaticUrls } from '../static-urls.js'
import { fakeBytes, writeAssetTree } from './asset-tree.js'
import { CountingStorage } from './counting-storage.js'

/** Headers a backend stored with an object (S3), for the cases that check them. */
export interface StoredHeaders {
  cacheControl?: string
  contentEncoding?: string
  contentType?: string
}

/** How the suite gets a fresh storage, and (for backends that keep headers) reads them back. */
export interface StaticExtrasSuiteOptions {
  name: string
  create: () => Promise<Storage> | Storage
  /** Reads the headers stored with `name` in `storage` (the storage `create` returned); absent for backends that keep none. */
  headers?: (storage: Storage, name: string) => Promise<StoredHeaders>
  /** Fetches `storage.url(name)` the way a browser would and returns the body; absent for backends whose URLs no server answers here. */
  fetchText?: (storage: Storage, name: string) => Promise<string>
}

const text = async (s: Storage, name: string) => Buffer.from(await s.read(name)).toString('utf8')

const CSS = [
  '@import "base.css";',
  '.logo { background: url(../img/logo.png) }',
  `.pad { content: "${'stowage '.repeat(200)}" }`,
  '/*# sourceMappingURL=app.css.map */',
  '',
].join('\n')

/** A small project: CSS with a map, a vendored script whose map was not shipped, an image, tiny text. */
const TREE: Record<string, string | Buffer> = {
  'static/css/app.css': CSS,
  'static/css/app.css.map': JSON.stringify({ version: 3, sources: ['app.scss'], mappings: 'AAAA'.repeat(200) }),
  'static/css/base.css': `.base { color: red }\n${'.x { margin: 0 }\n'.repeat(50)}`,
  'static/js/vendor/lib.min.js': `window.lib = ${JSON.stringify('x'.repeat(2000))}\n//# sourceMappingURL=lib.min.js.map\n`,
  'static/js/app.js': `import './vendor/lib.min.js'\nconsole.log(${JSON.stringify('y'.repeat(2000))})\n`,
  'static/img/logo.png': fakeBytes('extras-logo', 4096),
  'static/tiny.txt': 'hi\n',
}

/**
 * Registers the tests (vitest) against the storage `create` returns. Call at
 * the top level of a test file.
 */
export function runStaticExtrasSuite({ name, create, headers, fetchText }: StaticExtrasSuiteOptions): void {
  describe(`static extras on ${name}`, () => {
    let root: string
    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'stowage-extras-'))
      await writeAssetTree(root, TREE)
    })
    afterAll(() => rm(root, { recursive: true, force: true }))

    const fresh = async (options: Partial<ManifestStaticStorageOptions> = {}) => {
      const inner = await create()
      const counting = new CountingStorage(inner)
      const storage = new ManifestStaticStorage({ storage: counting, staticUrl: '/static/', ...options })
      return { inner, counting, storage }
    }
    const collect = (storage: Storage, extra: Partial<Parameters<typeof collectstatic>[0]> = {}, dir = root) =>
      collectstatic({ storage, finders: createFinders({ root: dir, dirs: ['static'], packages: false }), ...extra })

    it('records a sha384 integrity for every file (the hashed copy as stored), in a manifest it reads back', async () => {
      const { counting, storage } = await fresh()
      const summary = await collect(storage)
      expect(summary.errors).toEqual([])
      const manifest = parseManifest(await text(counting, 'staticfiles.json'))
      expect(Object.keys(manifest.integrity!).sort()).toEqual(Object.keys(manifest.paths).sort())
      for (const [source, hashed] of Object.entries(manifest.paths)) {
        expect(manifest.integrity![source], source).toBe(integrityOf(await counting.read(hashed)))
      }
      // The rewritten stylesheet's integrity is that of its rewritten bytes, not of the original.
      expect(manifest.integrity!['css/app.css']).not.toBe(integrityOf(CSS))
      expect(await storage.integrity('css/app.css')).toBe(manifest.integrity!['css/app.css'])
      await expect(storage.integrity('css/nope.css')).rejects.toMatchObject({ code: 'ENOENT' })
      // A no-op re-run (plan and hashes reused from the record) writes the same manifest.
      counting.reset()
      const again = await collect(new ManifestStaticStorage({ storage: counting, staticUrl: '/static/' }))
      expect(again.manifestWritten).toBe(false)
      expect(counting.saves).toEqual([])
    })

    it('drops a sourceMappingURL to a missing map from the hashed copy, with a warning; strictSourcemaps makes it an error', async () => {
      const { counting, storage } = await fresh()
      const summary = await collect(storage)
      expect(summary.errors).toEqual([])
      expect(summary.warnings.map((w) => [w.file, w.line, w.kind])).toEqual([['js/vendor/lib.min.js', 2, 'sourcemap']])
      expect(summary.warnings[0]!.message).toMatch(/lib\.min\.js\.map.*dropped/)
      const manifest = parseManifest(await text(counting, 'staticfiles.json'))
      const hashedLib = await text(counting, manifest.paths['js/vendor/lib.min.js']!)
      expect(hashedLib).not.toContain('sourceMappingURL')
      expect(hashedLib).toBe(`window.lib = ${JSON.stringify('x'.repeat(2000))}\n\n`)
      // The original is kept as shipped; a map that exists is still rewritten.
      expect(await text(counting, 'js/vendor/lib.min.js')).toContain('//# sourceMappingURL=lib.min.js.map')
      expect(await text(counting, manifest.paths['css/app.css']!)).toMatch(/\/\*# sourceMappingURL=app\.css\.[0-9a-f]{12}\.map \*\//)

      const strict = await fresh()
      const err = await collect(strict.storage, { strictSourcemaps: true }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CollectStaticError)
      expect((err as CollectStaticError).problems.map((p) => [p.file, p.kind])).toEqual([['js/vendor/lib.min.js', 'sourcemap']])
      expect(strict.counting.saves).toEqual([])
      // The option can also come from the storage (config: manifest: { strictSourcemaps: true }).
      const fromStorage = await fresh({ strictSourcemaps: true })
      await expect(collect(fromStorage.storage)).rejects.toBeInstanceOf(CollectStaticError)
    })

    it('keeps every other broken reference an error, all listed in one run, source maps as warnings beside them when lenient', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'stowage-extras-broken-'))
      try {
        await writeAssetTree(dir, { ...TREE, 'static/css/broken.css': '.a { background: url(gone.png) }\n', 'static/js/broken.js': "import './gone.js'\n" })
        const { counting, storage } = await fresh()
        const err = await collect(storage, {}, dir).catch((e: unknown) => e)
        expect((err as CollectStaticError).problems.map((p) => `${p.file}:${p.line}`)).toEqual(['css/broken.css:1', 'js/broken.js:1'])
        expect(counting.saves).toEqual([])
        const lenient = await collect(storage, { strict: false }, dir)
        expect(lenient.warnings.map((w) => `${w.file}:${w.kind}`).sort()).toEqual([
          'css/broken.css:url',
          'js/broken.js:module',
          'js/vendor/lib.min.js:sourcemap',
        ])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('collects Django’s test/%2F.txt literally (plain and hashed), maps it, and encodes its % in every URL; a name no storage accepts is reported and the rest collected', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'stowage-extras-percent-'))
      try {
        await writeAssetTree(dir, {
          'static/test/%2F.txt': '%2F content',
          'static/test/100%.txt': 'percent',
          // The author's spelling of the reference is kept: `%25` for the `%` of the name.
          'static/test/style.css': '.a { background: url(%252F.txt) }\n',
          'static/ok.txt': 'ok',
          // A backslash is an ordinary character on Linux but no storage accepts it: reported, not collected.
          'static/back\\slash.txt': 'refused',
        })
        const { inner, counting, storage } = await fresh()
        const summary = await collect(storage, {}, dir)
        expect(summary.errors.map((e) => [e.path, e.code, e.message])).toEqual([['back\\slash.txt', 'ESUSPICIOUS', expect.stringMatching(/not collected/)]])
        expect(summary.manifestWritten).toBe(true)
        const manifest = parseManifest(await text(counting, 'staticfiles.json'))
        expect(Object.keys(manifest.paths).sort()).toEqual(['ok.txt', 'test/%2F.txt', 'test/100%.txt', 'test/style.css'])
        const hashed = manifest.paths['test/%2F.txt']!
        expect(hashed).toMatch(/^test\/%2F\.[0-9a-f]{12}\.txt$/)
        // Stored under the literal name, original and hashed copy.
        expect(await text(counting, 'test/%2F.txt')).toBe('%2F content')
        expect(await text(counting, hashed)).toBe('%2F content')
        expect(await counting.exists('test/.txt')).toBe(false)
        expect(await text(counting, manifest.paths['test/100%.txt']!)).toBe('percent')
        // The stylesheet's reference now names the hashed copy, still with the escape encoded.
        expect(await text(counting, manifest.paths['test/style.css']!)).toBe(`.a { background: url(%252F.${hashed.split('.')[1]}.txt) }\n`)
        // static() and url(): `%` is `%25`, hashed in production and plain in development, as Django gives `/static/test/%252F.txt`.
        const encoded = `/static/test/%252F.${hashed.split('.')[1]}.txt`
        expect((await loadStaticUrls(storage, { baseUrl: '/static/' })).url('test/%2F.txt')).toBe(encoded)
        expect((await loadStaticUrls(storage, { baseUrl: '/static/', debug: true })).url('test/%2F.txt')).toBe('/static/test/%252F.txt')
        // The storage's own URL (`/static/…` here, a bucket URL on S3) has the same encoded path.
        expect(new URL(await storage.url('test/%2F.txt'), 'http://x').pathname.endsWith(encoded.slice('/static'.length))).toBe(true)
        const url = await storage.url('test/100%.txt')
        expect(url).toContain('/test/100%25.')
        expect(decodeURIComponent(new URL(url, 'http://x').pathname)).toMatch(/\/test\/100%\.[0-9a-f]{12}\.txt$/)
        // The backend's own URL decodes once to the literal name; where it can be fetched, it serves that file.
        const direct = await inner.url(hashed)
        expect(decodeURIComponent(new URL(direct, 'http://x').pathname).endsWith(`/${hashed}`)).toBe(true)
        if (fetchText) expect(await fetchText(inner, hashed)).toBe('%2F content')
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('collects test/%2F.txt into a plain storage too, under its literal name, with its % encoded in the URL', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'stowage-extras-percent-plain-'))
      try {
        await writeAssetTree(dir, { 'static/test/%2F.txt': '%2F content', 'static/ok.txt': 'ok' })
        const inner = await create()
        const summary = await collect(inner, {}, dir)
        expect(summary.errors).toEqual([])
        expect(await text(inner, 'test/%2F.txt')).toBe('%2F content')
        expect((await inner.listdir('test')).files).toEqual(['%2F.txt'])
        const url = await inner.url('test/%2F.txt')
        expect(new URL(url, 'http://x').pathname.endsWith('/test/%252F.txt')).toBe(true)
        if (fetchText) expect(await fetchText(inner, 'test/%2F.txt')).toBe('%2F content')
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('writes .br and .gz beside compressible hashed files when smaller, never beside images; a re-run compresses nothing', async () => {
      const { inner, counting, storage } = await fresh({ compress: true })
      const summary = await collect(storage)
      expect(summary.errors).toEqual([])
      const manifest = parseManifest(await text(counting, 'staticfiles.json'))
      const css = manifest.paths['css/app.css']!
      const original = Buffer.from(await counting.read(css))
      const br = Buffer.from(await counting.read(`${css}.br`))
      const gz = Buffer.from(await counting.read(`${css}.gz`))
      expect(br.length).toBeLessThan(original.length)
      expect(brotliDecompressSync(br).equals(original)).toBe(true)
      expect(gunzipSync(gz).equals(original)).toBe(true)
      expect(await counting.exists(`${manifest.paths['img/logo.png']!}.br`)).toBe(false)
      expect(await counting.exists(`${manifest.paths['tiny.txt']!}.gz`)).toBe(false) // 3 bytes: gzip is bigger
      expect(await counting.exists('css/app.css.br')).toBe(false) // originals are not compressed
      expect(summary.files.compressed).toContain(`${css}.br`)
      expect(summary.compressed).toBe(summary.files.compressed.length)
      if (headers) {
        // Plain compressed files by default (no Content-Encoding): a server negotiating by itself expects them so.
        expect(await headers(inner, `${css}.gz`)).toMatchObject({ contentType: 'application/gzip', cacheControl: IMMUTABLE_CACHE_CONTROL })
        expect((await headers(inner, `${css}.gz`)).contentEncoding).toBeUndefined()
      }

      counting.reset()
      const again = await collect(new ManifestStaticStorage({ storage: counting, staticUrl: '/static/', compress: true }))
      expect(again.compressed).toBe(0)
      expect(counting.saves).toEqual([])
      expect(counting.reads).toBe(4) // the record, its changes (none), the list of names being replaced (none) and the manifest
    })

    it('compresses a changed file on a re-run that reuses nothing else, and a hashed file stored by an earlier run', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'stowage-extras-recompress-'))
      try {
        await writeAssetTree(dir, TREE)
        const { counting, storage } = await fresh()
        await collect(storage, {}, dir) // without compression
        counting.reset()
        const withCompress = new ManifestStaticStorage({ storage: counting, staticUrl: '/static/', compress: { encodings: ['gzip'] } })
        const summary = await collect(withCompress, {}, dir)
        // Nothing but the variants (and the record) is written: the hashed files were there.
        expect(summary.postProcessed).toBe(0)
        expect(summary.files.compressed.every((n) => n.endsWith('.gz'))).toBe(true)
        expect(counting.saves.filter((n) => !n.endsWith('.gz'))).toEqual([COLLECT_STATE_NAME])
        const manifest = parseManifest(await text(counting, 'staticfiles.json'))
        // The rewritten stylesheet's variant is made from the stored (rewritten) bytes.
        expect(gunzipSync(Buffer.from(await counting.read(`${manifest.paths['css/app.css']}.gz`))).toString()).toBe(
          await text(counting, manifest.paths['css/app.css']!),
        )
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it("gives directories their URL under the static prefix, unhashed, as Django’s {% static 'path/' %} does", async () => {
      const { storage } = await fresh()
      await collect(storage)
      expect(await storage.url('path/')).toBe('/static/path/')
      expect(await storage.url('path/?query')).toBe('/static/path/?query')
      expect(await storage.url('css/?v=1#top')).toBe('/static/css/?v=1#top')
      await expect(storage.url('../up/')).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    })

    it('writes the same manifest bytes whatever the order of the paths', async () => {
      const { counting, storage } = await fresh()
      const entries: [string, string][] = [
        ['z.css', 'z.1.css'],
        ['a.css', 'a.2.css'],
        ['m/10', 'm/10.3'],
      ]
      await storage.saveManifest(createManifest(Object.fromEntries(entries)))
      const first = await text(counting, 'staticfiles.json')
      await storage.saveManifest(createManifest(Object.fromEntries(entries.reverse())))
      expect(await text(counting, 'staticfiles.json')).toBe(first)
    })

    if (headers) {
      it('stores cache lifetimes with what it uploads: hashed forever, originals a minute, the record never', async () => {
        const { inner, counting, storage } = await fresh({ compress: { contentEncoding: true } })
        await collect(storage)
        const manifest = parseManifest(await text(counting, 'staticfiles.json'))
        const css = manifest.paths['css/app.css']!
        expect(await headers(inner, css)).toMatchObject({ cacheControl: IMMUTABLE_CACHE_CONTROL, contentType: 'text/css; charset=utf-8' })
        expect(await headers(inner, 'css/app.css')).toMatchObject({ cacheControl: SHORT_CACHE_CONTROL })
        expect(await headers(inner, 'staticfiles.json')).toMatchObject({ cacheControl: 'no-cache' })
        expect(await headers(inner, COLLECT_STATE_NAME)).toMatchObject({ cacheControl: 'no-store' })
        // contentEncoding: the variant carries the original's type and its coding, for a CDN to pass through.
        expect(await headers(inner, `${css}.br`)).toEqual(
          expect.objectContaining({ contentType: 'text/css; charset=utf-8', contentEncoding: 'br', cacheControl: IMMUTABLE_CACHE_CONTROL }),
        )

        // Overridable per storage: the manifest storage's option, or false for none.
        const custom = await fresh({ cacheControl: { hashed: 'public, max-age=600', unhashed: false } })
        await collect(custom.storage)
        const m2 = parseManifest(await text(custom.counting, 'staticfiles.json'))
        expect(await headers(custom.inner, m2.paths['css/app.css']!)).toMatchObject({ cacheControl: 'public, max-age=600' })
        expect((await headers(custom.inner, 'css/app.css')).cacheControl).toBeUndefined()
      })
    }

    it('keeps a deploy history; cleanStatic deletes hashed files no kept deploy names, with their variants, and nothing else', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'stowage-extras-clean-'))
      try {
        await writeAssetTree(dir, TREE)
        const { counting, storage } = await fresh({ compress: { encodings: ['gzip'] } })
        const deploy = async (css: string) => {
          await writeFile(path.join(dir, 'static/css/base.css'), css)
          const summary = await collect(storage, {}, dir)
          expect(summary.errors).toEqual([])
          return parseManifest(await text(counting, 'staticfiles.json'))
        }
        const v1 = await deploy(`.v1 {}\n${'.x { margin: 0 }\n'.repeat(50)}`)
        // Not enough history yet for keep: 2: nothing is deleted, and it says why.
        const early = await cleanStatic({ storage, keep: 2 })
        expect(early.incomplete).toMatch(/only 1 deploy/)
        expect(early.deleted).toEqual([])
        const v2 = await deploy(`.v2 {}\n${'.x { margin: 0 }\n'.repeat(50)}`)
        await collect(storage, {}, dir) // a no-op run adds no deploy
        const v3 = await deploy(`.v3 {}\n${'.x { margin: 0 }\n'.repeat(50)}`)
        expect((await listDeploys(storage.manifestStorage)).map((n) => n.replace(/-[^/]*$/, ''))).toEqual([
          '.stowage-deploys/00000003',
          '.stowage-deploys/00000002',
          '.stowage-deploys/00000001',
        ])

        const only1 = [v1.paths['css/base.css']!, v1.paths['css/app.css']!]
        // Every file is minutes old: with the default minAge (an hour) they are kept, as the
        // new hashed files of a collectstatic running meanwhile would be (no manifest names them yet).
        const young = await cleanStatic({ storage, keep: 2, dryRun: true })
        expect(young).toMatchObject({ deleted: [], recent: [...only1, ...only1.map((n) => `${n}.gz`)].sort(), errors: [] })
        expect(await counting.exists(only1[0]!)).toBe(true)
        const later = () => new Date(Date.now() + 2 * 3600 * 1000)
        const dry = await cleanStatic({ storage, keep: 2, dryRun: true, now: later })
        expect(dry.deleted).toEqual([...only1, ...only1.map((n) => `${n}.gz`)].sort())
        expect(await counting.exists(only1[0]!)).toBe(true)

        const summary = await cleanStatic({ storage, keep: 2, now: later })
        expect(summary.errors).toEqual([])
        expect(summary.deleted).toEqual(dry.deleted)
        expect(summary.pruned).toEqual([expect.stringMatching(/^\.stowage-deploys\/00000001-/)])
        for (const n of summary.deleted) expect(await counting.exists(n), n).toBe(false)
        for (const m of [v2, v3]) for (const hashed of Object.values(m.paths)) expect(await counting.exists(hashed), hashed).toBe(true)
        expect(await counting.exists('css/base.css')).toBe(true)
        expect(await counting.exists(COLLECT_STATE_NAME)).toBe(true)

        // The record forgot what was deleted: going back to v1's content restores its files.
        const back = await deploy(`.v1 {}\n${'.x { margin: 0 }\n'.repeat(50)}`)
        expect(back.paths['css/base.css']).toBe(v1.paths['css/base.css'])
        for (const n of summary.deleted) expect(await counting.exists(n), n).toBe(true)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  })
}
