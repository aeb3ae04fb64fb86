import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { getMaxListeners } from 'node:events'
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { gunzipSync } from 'node:zlib'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { collectstatic, CollectStaticError, COLLECT_STATE_NAME, RECORD_CHANGES_NAME } from './collectstatic.js'
import { createFinders } from './finders.js'
import { ManifestStaticStorage } from './manifest-static-storage.js'
import { runCollectstaticSuite } from './testing/collectstatic-suite.js'
import { runStaticExtrasSuite } from './testing/static-extras-suite.js'
import { writeAssetTree } from './testing/asset-tree.js'

const memory = { name: 'MemoryStorage', create: () => new MemoryStorage({ baseUrl: '/static/' }) }
// Every storage root the suites asked for, removed when they are done.
const roots: string[] = []
afterAll(() => Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true }))))
const local = {
  name: 'FileSystemStorage',
  create: async () => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-static-root-'))
    roots.push(location)
    return new FileSystemStorage({ location, baseUrl: '/static/' })
  },
}
runCollectstaticSuite(memory)
runCollectstaticSuite(local)
runStaticExtrasSuite(memory)
runStaticExtrasSuite(local)

it("on local disk, a hashed copy with the original's bytes is a hard link to the stored original; a rewritten one is a file of its own; a changed original later leaves the old hashed copy intact", async () => {
  const src = await mkdtemp(path.join(tmpdir(), 'stowage-link-src-'))
  roots.push(src)
  await mkdir(path.join(src, 'css'))
  await writeFile(path.join(src, 'logo.png'), 'png bytes')
  await writeFile(path.join(src, 'css/app.css'), 'body { background: url(../logo.png) }')
  const inner = (await local.create()) as FileSystemStorage
  const storage = new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
  const first = await collectstatic({ storage, finders: createFinders({ root: src, dirs: [src], packages: false }) })
  expect(first.errors).toEqual([])
  const logo = await storage.storedName('logo.png')
  const css = await storage.storedName('css/app.css')
  expect([logo, css].every((n, i) => n !== ['logo.png', 'css/app.css'][i])).toBe(true)
  const ino = async (n: string) => (await stat(inner.path(n))).ino
  expect(await ino(logo)).toBe(await ino('logo.png'))
  expect(await ino(css)).not.toBe(await ino('css/app.css'))
  // The original changes: its new hashed copy links to the new original, the old one keeps its bytes.
  await writeFile(path.join(src, 'logo.png'), 'new png bytes')
  await collectstatic({
    storage: new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' }),
    finders: createFinders({ root: src, dirs: [src], packages: false }),
  })
  expect(Buffer.from(await inner.read(logo)).toString()).toBe('png bytes')
  expect(Buffer.from(await inner.read('logo.png')).toString()).toBe('new png bytes')
})

describe('a re-run plans again only what a change reaches', () => {
  const project = async (files: Record<string, string>) => {
    const src = await mkdtemp(path.join(tmpdir(), 'stowage-incremental-'))
    roots.push(src)
    await writeAssetTree(src, files)
    const inner = new MemoryStorage({ baseUrl: '/static/' })
    const run = ({ compress, ...o }: { strict?: boolean; compress?: boolean } = {}) =>
      collectstatic({
        storage: new ManifestStaticStorage({ storage: inner, staticUrl: '/static/', compress }),
        finders: createFinders({ root: src, dirs: [src], packages: false }),
        ...o,
      })
    const hashed = (name: string) => new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' }).storedName(name)
    return { src, inner, run, hashed }
  }

  it('leaves a stylesheet the change does not reach unread: its bytes may even differ behind an unchanged size and mtime', async () => {
    const { src, run, hashed, inner } = await project({
      'img/logo.png': 'logo v1',
      'css/app.css': '.a { background: url(../img/logo.png) }',
      'css/other.css': '.b { color: red }',
      'css/importer.css': '@import "app.css";',
    })
    // A whole-second mtime, so setting it again later gives the very same value.
    const other = path.join(src, 'css/other.css')
    await utimes(other, 1_700_000_000, 1_700_000_000)
    expect((await run()).errors).toEqual([])
    const before = { other: await hashed('css/other.css'), importer: await hashed('css/importer.css') }
    // other.css changes behind the record's back (same size, same mtime): a full re-plan would read it and fail (ECHANGED).
    await writeFile(other, '.b { color: RED }')
    await utimes(other, 1_700_000_000, 1_700_000_000)
    await writeFile(path.join(src, 'img/logo.png'), 'logo v2')
    const summary = await run()
    expect(summary.errors).toEqual([])
    expect(summary.files.postProcessed.sort()).toEqual([await hashed('css/app.css'), await hashed('css/importer.css'), await hashed('img/logo.png')].sort())
    expect(await hashed('css/other.css')).toBe(before.other)
    expect(await hashed('css/importer.css')).not.toBe(before.importer) // reached through app.css
    expect(Buffer.from(await inner.read(await hashed('css/app.css'))).toString()).toContain(await hashed('img/logo.png').then((n) => n.slice(4)))
  })

  it('adding the file a broken reference waited for re-plans its referrer; removing a referenced file is reported as broken', async () => {
    const { src, run, hashed, inner } = await project({ 'css/app.css': '.a { background: url(../img/late.png) }', 'css/other.css': '.b {}' })
    const lenient = await run({ strict: false })
    expect(lenient.warnings.map((w) => w.target)).toEqual(['img/late.png'])
    await mkdir(path.join(src, 'img'))
    await writeFile(path.join(src, 'img/late.png'), 'late')
    const fixed = await run()
    expect(fixed.warnings).toEqual([])
    expect(Buffer.from(await inner.read(await hashed('css/app.css'))).toString()).toContain((await hashed('img/late.png')).slice(4))
    await rm(path.join(src, 'img/late.png'))
    const err = await run().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CollectStaticError)
    expect((err as CollectStaticError).problems.map((p) => [p.file, p.target])).toEqual([['css/app.css', 'img/late.png']])
  })

  it('compression turned on for a re-run compresses the rewritten copies the change does not reach too, from what is stored', async () => {
    const { src, run, hashed, inner } = await project({
      'img/logo.png': 'logo',
      'css/app.css': '.a { background: url(../img/logo.png) }\n'.repeat(40),
      'css/other.css': '.b { color: red }\n'.repeat(40),
    })
    expect((await run()).errors).toEqual([])
    await writeFile(path.join(src, 'css/other.css'), '.b { color: blue }\n'.repeat(40))
    // app.css is not reached by the change: its plan is the recorded one, and its rewritten copy is only in the storage.
    const summary = await run({ compress: true })
    expect(summary.errors).toEqual([])
    const app = await hashed('css/app.css')
    expect(summary.files.compressed).toContain(`${app}.gz`)
    expect(gunzipSync(await inner.read(`${app}.gz`)).equals(Buffer.from(await inner.read(app)))).toBe(true)
    expect(Buffer.from(await inner.read(app)).toString()).toContain((await hashed('img/logo.png')).slice(4))
  })
})

it("ManifestStaticStorage.copy() is its storage's copy(), and UnsupportedOperationError when that storage has none", async () => {
  const inner = new MemoryStorage({ baseUrl: '/static/' })
  await inner.save('a.css', 'body{}')
  const storage = new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
  expect(await storage.copy('a.css', 'b.css')).toBe('b.css')
  expect(Buffer.from(await inner.read('b.css')).toString()).toBe('body{}')
  // A storage written before copy() was in the contract.
  const bare = Object.create(inner, { copy: { value: undefined } }) as MemoryStorage
  await expect(new ManifestStaticStorage({ storage: bare, staticUrl: '/static/' }).copy('a.css', 'c.css')).rejects.toMatchObject({ code: 'EUNSUPPORTED' })
  expect(await inner.exists('c.css')).toBe(false)
})

describe('a re-run saves what changed in the run record, not the whole record', () => {
  it('leaves the whole record as it was, and a later run that undoes the change restores the first bytes', async () => {
    const src = await mkdtemp(path.join(tmpdir(), 'stowage-record-changes-'))
    roots.push(src)
    await mkdir(path.join(src, 'css'))
    await mkdir(path.join(src, 'img'))
    for (let i = 0; i < 40; i++) await writeFile(path.join(src, `img/i${i}.png`), `png ${i}`)
    const v1 = '.a { background: url(../img/i1.png) }'
    await writeFile(path.join(src, 'css/app.css'), v1)
    const inner = (await local.create()) as FileSystemStorage
    const storage = new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
    const run = () => collectstatic({ storage, finders: createFinders({ root: src, dirs: [src], packages: false }) })
    const stored = async (name: string) => Buffer.from(await inner.read(name)).toString()
    expect((await run()).errors).toEqual([])
    const whole = await stored(COLLECT_STATE_NAME)
    const first = await storage.storedName('css/app.css')
    expect(await inner.exists(RECORD_CHANGES_NAME)).toBe(false)

    await writeFile(path.join(src, 'css/app.css'), '.a { background: url(../img/i2.png) }')
    expect((await run()).copied).toBe(1)
    expect(await stored(COLLECT_STATE_NAME)).toBe(whole)
    expect(await inner.exists(RECORD_CHANGES_NAME)).toBe(true)
    expect(await stored('css/app.css')).toContain('i2.png')

    // Back to the first bytes (a new mtime): the record must not vouch for what run 1 stored.
    await writeFile(path.join(src, 'css/app.css'), v1)
    await utimes(path.join(src, 'css/app.css'), new Date(), new Date(Date.now() + 5000))
    const third = await run()
    expect(third.errors).toEqual([])
    expect(await stored('css/app.css')).toBe(v1)
    expect(await storage.storedName('css/app.css')).toBe(first)
    expect(await stored(first)).toContain((await storage.storedName('img/i1.png')).slice(4))
    expect(await stored(COLLECT_STATE_NAME)).toBe(whole)
    // A re-run with nothing changed writes neither.
    const changes = await stored(RECORD_CHANGES_NAME)
    expect((await run()).copied).toBe(0)
    expect([await stored(COLLECT_STATE_NAME), await stored(RECORD_CHANGES_NAME)]).toEqual([whole, changes])
  })
})

describe('a first collect into an empty local directory is staged (FileSystemStorage.stage())', () => {
  async function tree(files: Record<string, string>): Promise<string> {
    const src = await mkdtemp(path.join(tmpdir(), 'stowage-stage-src-'))
    roots.push(src)
    await writeAssetTree(src, files)
    return src
  }
  const parentOf = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'stowage-stage-parent-'))
    roots.push(dir)
    return dir
  }

  it('the directory gets everything (files, hashed copies, manifest, record) in one step: during the run it stays empty', async () => {
    const src = await tree({ 'css/app.css': 'body { background: url(../logo.png) }', 'logo.png': 'png' })
    const location = path.join(await parentOf(), 'static')
    const storage = new ManifestStaticStorage({ storage: new FileSystemStorage({ location, baseUrl: '/static/' }), staticUrl: '/static/' })
    const seen: string[][] = []
    const summary = await collectstatic({
      storage,
      finders: createFinders({ root: src, dirs: [src], packages: false }),
      onProgress: (e) => {
        if (e.phase === 'write') seen.push(readdirIfAny(location))
      },
    })
    expect(summary.errors).toEqual([])
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((names) => names.length === 0)).toBe(true)
    const names = readdirIfAny(location)
    expect(names).toEqual(expect.arrayContaining(['.stowage-collectstatic.json', 'css', 'logo.png', 'staticfiles.json']))
    expect(await storage.url('css/app.css')).toMatch(/^\/static\/css\/app\.[0-9a-f]{12}\.css$/)
    expect(readdirIfAny(path.dirname(location))).toEqual(['static'])
  })

  it('broken references (strict) or someone filling the directory meanwhile: the run fails, their files stay, nothing of the run appears or is left', async () => {
    const location = path.join(await parentOf(), 'static')
    const storage = () => new ManifestStaticStorage({ storage: new FileSystemStorage({ location, baseUrl: '/static/' }), staticUrl: '/static/' })
    const broken = await tree({ 'app.css': 'body { background: url(missing.png) }' })
    await expect(collectstatic({ storage: storage(), finders: createFinders({ root: broken, dirs: [broken], packages: false }) })).rejects.toBeInstanceOf(
      CollectStaticError,
    )
    expect(readdirIfAny(path.dirname(location))).toEqual([])

    const src = await tree({ 'a.txt': 'a', 'b.txt': 'b' })
    let filled = false
    const err = await collectstatic({
      storage: storage(),
      finders: createFinders({ root: src, dirs: [src], packages: false }),
      onProgress: (e) => {
        if (e.phase !== 'write' || filled) return
        filled = true
        mkdirSync(location)
        writeFileSync(path.join(location, 'theirs.txt'), 'theirs')
      },
    }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ code: 'ECHANGED' })
    expect(readdirIfAny(location)).toEqual(['theirs.txt'])
    expect(readdirIfAny(path.dirname(location))).toEqual(['static'])
  })
})

function readdirIfAny(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}

it('a run given a signal adds its many listeners to a signal of its own: no leak warning, and the caller’s signal keeps its limit', async () => {
  const src = await mkdtemp(path.join(tmpdir(), 'stowage-signal-src-'))
  roots.push(src)
  for (let i = 0; i < 40; i++) await writeFile(path.join(src, `f${i}.txt`), `file ${i}`)
  const warnings: Error[] = []
  const onWarning = (w: Error) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    const controller = new AbortController()
    const limit = getMaxListeners(controller.signal) // Node's default for an AbortSignal (10 on Node 20, none on 24)
    const summary = await collectstatic({
      storage: await local.create(),
      finders: createFinders({ root: src, dirs: [src], packages: false }),
      concurrency: 32,
      signal: controller.signal,
    })
    expect(summary.copied).toBe(40)
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve))
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
    expect(getMaxListeners(controller.signal)).toBe(limit)
  } finally {
    process.off('warning', onWarning)
  }
})

describe('collectstatic --clear on a local directory is staged too: the old files are served until the new ones replace them all', () => {
  it('during the run every old file is still there; after it only the new run; an aborted run leaves the old directory as it was', async () => {
    const src = await mkdtemp(path.join(tmpdir(), 'stowage-clear-src-'))
    roots.push(src)
    await writeFile(path.join(src, 'app.css'), 'body { color: red }')
    await writeFile(path.join(src, 'b.txt'), 'b')
    const parent = await mkdtemp(path.join(tmpdir(), 'stowage-clear-parent-'))
    roots.push(parent)
    const location = path.join(parent, 'static')
    const storage = () => new ManifestStaticStorage({ storage: new FileSystemStorage({ location, baseUrl: '/static/' }), staticUrl: '/static/' })
    const finders = createFinders({ root: src, dirs: [src], packages: false })
    expect((await collectstatic({ storage: storage(), finders })).errors).toEqual([])
    await writeFile(path.join(location, 'stale.txt'), 'left by an old deploy')
    const before = readdirIfAny(location)

    const controller = new AbortController()
    await expect(
      collectstatic({
        storage: storage(),
        finders,
        clear: true,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.phase === 'write') controller.abort()
        },
      }),
    ).rejects.toMatchObject({ code: 'EABORTED' })
    expect(readdirIfAny(location)).toEqual(before)
    expect(readdirIfAny(parent)).toEqual(['static'])

    const seen: string[][] = []
    const cleared = await collectstatic({
      storage: storage(),
      finders,
      clear: true,
      onProgress: (e) => {
        if (e.phase === 'write') seen.push(readdirIfAny(location))
      },
    })
    expect(cleared.errors).toEqual([])
    expect(cleared.files.deleted).toContain('stale.txt')
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((names) => names.includes('stale.txt') && names.includes('staticfiles.json'))).toBe(true)
    expect(readdirIfAny(location)).not.toContain('stale.txt')
    expect(readdirIfAny(location)).toEqual(expect.arrayContaining(['app.css', 'b.txt', 'staticfiles.json', '.stowage-collectstatic.json']))
    expect(readdirIfAny(parent)).toEqual(['static'])
  })
})
