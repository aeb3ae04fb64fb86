/**
 * collectstatic interrupted half-way (aborted, failing storage, SIGKILL)
 * and run again must end exactly where an uninterrupted run ends: the same
 * files with the same bytes, and a manifest whose every entry exists.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AbortedError, MemoryStorage, StorageError, type Content, type SaveOptions, type Storage } from '@stowage/core'
import { listAll } from '@stowage/core/testing'
import { FileSystemStorage } from '@stowage/local'
import { COLLECT_STATE_NAME, ManifestStaticStorage, RECORD_CHANGES_NAME, collectstatic, createFinders, parseManifest } from '@stowage/static'
import { readRecord, serializeRecord } from '../../packages/static/src/collect-record.js'
import { ASSET_TREE_DIRS, writeAssetTree } from '../../packages/static/src/testing/asset-tree.js'
import { walkFiles } from './helpers/backends.js'

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex').slice(0, 16)
const REPO = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = fileURLToPath(new URL('./helpers/collect-child.ts', import.meta.url))

/** Every visible file and a hash of its bytes. */
async function snapshot(storage: Storage): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of await listAll(storage)) {
    // The run record is compared by what it says: its id is random, and it may be stored whole or as changes.
    if (name !== COLLECT_STATE_NAME && name !== RECORD_CHANGES_NAME) out[name] = sha(await storage.read(name))
  }
  const { id: _id, ...record } = (await readRecord(storage)).record
  out[COLLECT_STATE_NAME] = sha(Buffer.from(serializeRecord(record)))
  return out
}

/**
 * Every manifest entry exists, and every hashed name carries the MD5 of the
 * bytes stored under it (except files in a reference cycle, whose names are
 * fixed before their final rewrite, as in Django).
 */
async function expectConsistentManifest(storage: Storage): Promise<void> {
  const manifest = parseManifest(Buffer.from(await storage.read('staticfiles.json')).toString('utf8'))
  const entries = Object.entries(manifest.paths)
  expect(entries.length).toBeGreaterThan(10)
  for (const [source, hashed] of entries) {
    expect(await storage.exists(source), source).toBe(true)
    const bytes = await storage.read(hashed)
    if (inCycle.has(source)) continue
    const md5 = createHash('md5').update(bytes).digest('hex').slice(0, 12)
    expect(hashed, `${source} → ${hashed}`).toContain(`.${md5}`)
  }
}

type Make = () => Promise<{ storage: Storage; destroy(): Promise<void> }>
/** Each backend, and whether a first run into it is staged (`Storage.stage()`: nothing appears before the run completes). */
const BACKENDS: [string, Make, boolean][] = [
  ['MemoryStorage', async () => ({ storage: new MemoryStorage({ baseUrl: '/static/' }), destroy: async () => {} }), false],
  [
    'FileSystemStorage',
    async () => {
      const location = await mkdtemp(path.join(tmpdir(), 'stowage-static-'))
      return { storage: new FileSystemStorage({ location, baseUrl: '/static/' }), destroy: () => rm(location, { recursive: true, force: true }) }
    },
    true,
  ],
]

/** Hidden stage directories (`FileSystemStorage.stage()`) left beside `location`. */
async function stagesBeside(location: string): Promise<string[]> {
  const names = await readdir(path.dirname(location))
  return names.filter((n) => n.startsWith(`.${path.basename(location)}.stowage-stage-`))
}

const manifestOver = (storage: Storage) => new ManifestStaticStorage({ storage, staticUrl: '/static/' })

/** Fails every save after the first `healthy` ones, as a disk or network going away would. */
class FailingAfter {
  saves = 0
  constructor(
    readonly inner: Storage,
    readonly healthy: number,
  ) {
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        if (prop === 'stage') {
          // A staged run writes to the stage's storage: it fails the same way.
          const stage = Reflect.get(target, prop, receiver) as Storage['stage']
          return (
            stage &&
            (async () => {
              const staged = await stage.call(target)
              return staged && { storage: new FailingAfter(staged.storage, this.healthy), publish: () => staged.publish(), discard: () => staged.discard() }
            })
          )
        }
        if (prop !== 'save') return Reflect.get(target, prop, receiver) as unknown
        return (name: string, content: Content, options?: SaveOptions) => {
          if (++this.saves > this.healthy) return Promise.reject(new StorageError(`injected failure saving '${name}'`, { code: 'EIO' }))
          return target.save(name, content, options)
        }
      },
    }) as unknown as FailingAfter
  }
}

let project: string
let cleanSnapshot: Record<string, string>
let writesPerRun: number
let inCycle: Set<string>
beforeAll(async () => {
  project = await mkdtemp(path.join(tmpdir(), 'stowage-static-src-'))
  await writeAssetTree(project)
  const clean = new MemoryStorage({ baseUrl: '/static/' })
  let total = 0
  const summary = await collectstatic({
    storage: manifestOver(clean),
    finders: createFinders({ root: project, dirs: ASSET_TREE_DIRS }),
    onProgress: (e) => {
      if (e.phase === 'write') total = e.total
    },
  })
  expect(summary.errors).toEqual([])
  writesPerRun = total
  inCycle = new Set(summary.cycles.flat())
  cleanSnapshot = await snapshot(clean)
  expect(writesPerRun).toBeGreaterThan(20)
})
afterAll(() => rm(project, { recursive: true, force: true }))

describe.each(BACKENDS)('collectstatic interrupted on %s, then re-run', (_, make, staged) => {
  it('aborted half-way: rejects with AbortedError, writes no manifest (a staged first run: nothing); the re-run completes identical to a clean run', async () => {
    const { storage, destroy } = await make()
    try {
      const controller = new AbortController()
      const err = await collectstatic({
        storage: manifestOver(storage),
        finders: createFinders({ root: project, dirs: ASSET_TREE_DIRS }),
        concurrency: 4,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.phase === 'write' && e.done >= writesPerRun / 2) controller.abort()
        },
      }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(AbortedError)
      expect(await storage.exists('staticfiles.json')).toBe(false)
      const written = (await listAll(storage)).length
      if (staged) {
        expect(written).toBe(0)
        expect(await stagesBeside((storage as FileSystemStorage).location)).toEqual([])
      } else {
        expect(written).toBeGreaterThan(0)
        expect(written).toBeLessThan(Object.keys(cleanSnapshot).length)
      }

      const summary = await collectstatic({ storage: manifestOver(storage), finders: createFinders({ root: project, dirs: ASSET_TREE_DIRS }) })
      expect(summary.errors).toEqual([])
      expect(summary.manifestWritten).toBe(true)
      expect(await snapshot(storage)).toEqual(cleanSnapshot)
      await expectConsistentManifest(storage)
    } finally {
      await destroy()
    }
  })

  it('storage failing half-way: errors reported, no manifest naming missing files; the re-run completes identical to a clean run', async () => {
    const { storage, destroy } = await make()
    try {
      const failing = new FailingAfter(storage, Math.floor(writesPerRun / 2)) as unknown as Storage
      const first = await collectstatic({ storage: manifestOver(failing), finders: createFinders({ root: project, dirs: ASSET_TREE_DIRS }), concurrency: 4 })
      expect(first.errors.length).toBeGreaterThan(0)
      expect(first.errors.every((e) => e.code === 'EIO')).toBe(true)
      expect(first.manifestWritten).toBe(false)
      expect(await storage.exists('staticfiles.json')).toBe(false)

      const summary = await collectstatic({ storage: manifestOver(storage), finders: createFinders({ root: project, dirs: ASSET_TREE_DIRS }) })
      expect(summary.errors).toEqual([])
      expect(await snapshot(storage)).toEqual(cleanSnapshot)
      await expectConsistentManifest(storage)
    } finally {
      await destroy()
    }
  })
})

describe('collectstatic killed (SIGKILL) half-way on FileSystemStorage, then re-run', { timeout: 60_000 }, () => {
  // A first run into an empty directory is staged; one into a directory
  // holding anything (here one unrelated file) writes in place.
  it.each([
    ['a first run (staged): the directory stays empty', false],
    ['a run into a directory holding files (in place)', true],
  ])('%s; the re-run completes identical to a clean run, with a consistent manifest', async (_, seeded) => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-static-kill-'))
    const seed = { 'seed.txt': sha(Buffer.from('seed')) }
    if (seeded) await writeFile(path.join(location, 'seed.txt'), 'seed')
    try {
      const args = [
        '--conditions=stowage-source',
        '--import',
        'tsx',
        CHILD,
        JSON.stringify({ root: project, location, killAfter: Math.floor(writesPerRun / 2) }),
      ]
      const killed = await promisify(execFile)(process.execPath, args, { cwd: REPO, timeout: 60_000 }).then(
        () => null,
        (e: { signal?: string }) => e,
      )
      expect(killed?.signal).toBe('SIGKILL')
      const storage = new FileSystemStorage({ location, baseUrl: '/static/' })
      expect(await storage.exists('staticfiles.json')).toBe(false)
      if (seeded) expect((await listAll(storage)).length).toBeGreaterThan(1)
      else {
        expect(await listAll(storage)).toEqual([])
        // The killed run's stage is left beside the directory, never inside it, until the next run.
        expect(await stagesBeside(location)).toHaveLength(1)
      }

      const summary = await collectstatic({ storage: manifestOver(storage), finders: createFinders({ root: project, dirs: ASSET_TREE_DIRS }) })
      expect(summary.errors).toEqual([])
      expect(await snapshot(storage)).toEqual(seeded ? { ...cleanSnapshot, ...seed } : cleanSnapshot)
      await expectConsistentManifest(storage)
      // The re-run's own stage() deleted the killed run's (its process is gone).
      expect(await stagesBeside(location)).toEqual([])
      // Files being written at the moment of the kill leave hidden temporary files,
      // which listdir() never shows; count them so a change in that is noticed.
      const temps = (await walkFiles(location)).filter((n) => path.basename(n).startsWith('.~stowage-'))
      expect(temps.length).toBeLessThanOrEqual(4) // at most one per concurrent write
    } finally {
      for (const stage of await stagesBeside(location)) await rm(path.join(path.dirname(location), stage), { recursive: true, force: true })
      await rm(location, { recursive: true, force: true })
    }
  })
})

describe('collectstatic interrupted after changing a file, then run on the reverted source', () => {
  it.each(BACKENDS)('%s: the stored file matches the source again (the record of stored hashes is not trusted blindly)', async (_, make) => {
    const { storage, destroy } = await make()
    const src = await mkdtemp(path.join(tmpdir(), 'stowage-static-revert-'))
    try {
      const file = path.join(src, 'static', 'app.js')
      await writeAssetTree(src, { 'static/app.js': 'v1', 'static/other.js': 'other' })
      const run = (signal?: AbortSignal, onSaved?: () => void) =>
        collectstatic({
          storage: new Proxy(storage, {
            get: (t, p, r) =>
              p === 'save'
                ? async (n: string, c: Content, o?: SaveOptions) => {
                    const stored = await t.save(n, c, o)
                    if (n === 'app.js') onSaved?.()
                    return stored
                  }
                : (Reflect.get(t, p, r) as unknown),
          }),
          finders: createFinders({ root: src, dirs: ['static'] }),
          concurrency: 1,
          signal,
        })
      expect((await run()).errors).toEqual([])
      // Deploy v2, interrupted right after app.js was replaced (before the run could record it).
      await writeFile(file, 'v2')
      const controller = new AbortController()
      await expect(run(controller.signal, () => controller.abort())).rejects.toBeInstanceOf(AbortedError)
      expect(Buffer.from(await storage.read('app.js')).toString()).toBe('v2')
      // Roll back to v1 and collect again.
      await writeFile(file, 'v1')
      expect((await run()).errors).toEqual([])
      expect(Buffer.from(await storage.read('app.js')).toString()).toBe('v1')
      expect(await storage.exists(COLLECT_STATE_NAME)).toBe(true)
    } finally {
      await rm(src, { recursive: true, force: true })
      await destroy()
    }
  })
})
