/**
 * Property-based proof of the path-safety promise: for 100,000 generated
 * hostile names the pure validation either returns a name that stays inside
 * any root, or refuses with SuspiciousFileOperationError; and a few thousand
 * of them sent through every backend's public API never write anything
 * outside the storage, and are refused exactly when the validation refuses.
 */
import { existsSync } from 'node:fs'
import { realpath } from 'node:fs/promises'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { MemoryStorage, safeDir, safeName } from '@stowage/core'
import { LOCAL_BACKENDS, createLocalBackend, type BackendUnderTest } from './helpers/backends.js'
import { anyName } from './helpers/hostile-name-arbitrary.js'
import { attempt, exercise, expectContained, expectSuspicious, hostileSample, settle } from './helpers/hostile-checks.js'

const PURE_RUNS = 100_000
const BACKEND_NAMES = 2_000

describe(`path validation of ${PURE_RUNS.toLocaleString('en')} generated hostile names`, { timeout: 120_000 }, () => {
  it('safeName, safeDir and generateFilename accept only contained names and refuse only with SuspiciousFileOperationError', () => {
    const storage = new MemoryStorage()
    // Most of the 300,000 calls throw on purpose; capturing a stack for each would be most of the run time.
    const stackTraceLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    onTestFinished(() => {
      Error.stackTraceLimit = stackTraceLimit
    })
    let accepted = 0
    let refused = 0
    fc.assert(
      fc.property(anyName, (input) => {
        const file = attempt(() => safeName(input))
        if (file.ok) {
          accepted++
          expectContained(file.name, input, 'file')
        } else {
          refused++
          expectSuspicious(file.error, input)
        }
        const dir = attempt(() => safeDir(input))
        if (dir.ok) expectContained(dir.name, input, 'dir')
        else expectSuspicious(dir.error, input)
        // A file name accepted whole is accepted as a directory too, with the same meaning.
        if (file.ok && !(dir.ok && dir.name === file.name)) throw new Error(`safeDir disagrees with safeName on ${JSON.stringify(input)}`)
        const generated = attempt(() => storage.generateFilename(input))
        if (generated.ok) expectContained(generated.name, input, 'file')
        else expectSuspicious(generated.error, input)
      }),
      { numRuns: PURE_RUNS },
    )
    // Guard against a generator that only ever produces one kind of name.
    expect(accepted).toBeGreaterThan(PURE_RUNS / 20)
    expect(refused).toBeGreaterThan(PURE_RUNS / 2)
  })
})

const sample = hostileSample(BACKEND_NAMES)

describe.each(LOCAL_BACKENDS)(
  `$name: ${BACKEND_NAMES.toLocaleString('en')} generated hostile names through the public API`,
  { timeout: 120_000 },
  (factory) => {
    let backend: BackendUnderTest
    beforeAll(async () => {
      backend = await factory.create()
    })
    afterAll(async () => backend?.destroy())

    it('refuses exactly the unsafe names with SuspiciousFileOperationError and stores the rest inside the storage', async () => {
      const stored = await exercise(backend, sample)
      expect(stored.size).toBeGreaterThan(BACKEND_NAMES / 50)
      // What the backend holds is exactly what save() reported: nothing extra, no temporary files.
      expect(await backend.rawNames()).toEqual([...stored].sort())
      expect(await backend.outside()).toEqual([])
    })
  },
)

describe('FileSystemStorage: refused names touch nothing on disk', () => {
  let backend: Awaited<ReturnType<typeof createLocalBackend>>
  beforeAll(async () => {
    backend = await createLocalBackend()
  })
  afterAll(async () => backend?.destroy())

  it('leaves no file where a naive join of a refused name would have put it', async () => {
    const refused = sample.filter((n) => !attempt(() => safeName(n)).ok)
    const root = backend.storage.location
    // Where a careless backend would write: joined to the root, or taken as absolute, with '\\' as a separator.
    const targets = refused.flatMap((n) => [path.resolve(root, n), path.resolve(root, n.replace(/\\/g, '/')), path.resolve(n)])
    const before = new Set(targets.filter((t) => existsSync(t)))
    for (const name of refused) await settle(backend.storage.save(name, 'must not land'))
    expect(targets.filter((t) => existsSync(t) && !before.has(t))).toEqual([])
    expect(await backend.outside()).toEqual([])
    // Everything under the root really is under it, symlinks resolved.
    for (const file of await backend.rawNames()) {
      expect((await realpath(path.join(root, file))).startsWith(`${await realpath(root)}/`)).toBe(true)
    }
  })
})
