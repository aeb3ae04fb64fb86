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
import {
  MAX_NAME_BYTES,
  MemoryStorage,
  StorageError,
  SuspiciousFileOperationError,
  encodeUrlPath,
  safeDir,
  safeName,
  type Storage,
} from '@stowage/core'
import { LOCAL_BACKENDS, createLocalBackend, type BackendUnderTest } from './helpers/backends.js'
import { anyName } from './helpers/hostile-name-arbitrary.js'

const PURE_RUNS = 100_000
const BACKEND_NAMES = 2_000

type Outcome = { ok: true; name: string } | { ok: false; error: unknown }

function attempt(fn: () => string): Outcome {
  try {
    return { ok: true, name: fn() }
  } catch (error) {
    return { ok: false, error }
  }
}

function expectSuspicious(error: unknown, input: string): void {
  if (!(error instanceof SuspiciousFileOperationError) || error.code !== 'ESUSPICIOUS') {
    throw new Error(`expected SuspiciousFileOperationError for ${JSON.stringify(input)}, got ${String(error)}`, { cause: error })
  }
}

/** Everything an accepted name must be, whatever it was made from. Plain checks: this runs 300,000 times. */
function expectContained(name: string, input: string, kind: 'file' | 'dir'): void {
  const fail = (why: string) => {
    throw new Error(`${why}: ${JSON.stringify(input)} → ${JSON.stringify(name)}`)
  }
  const parts = name === '' ? [] : name.split('/')
  if (kind === 'file' && parts.length === 0) fail('empty file name')
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') fail('empty or dot segment')
    if (Buffer.byteLength(part) > 255) fail('segment too long')
  }
  if (/[\u0000-\u001f\u007f\\]/.test(name)) fail('control character or backslash')
  if (/^[a-zA-Z]:/.test(name)) fail('drive letter')
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) fail('too long')
  // Stays inside a root however it is joined, and normalising changes nothing.
  if (path.posix.normalize(name || '.') !== (name || '.')) fail('not normalised')
  const root = '/srv/storage'
  const joined = path.posix.join(root, name)
  if (joined !== root && !joined.startsWith(`${root}/`)) fail('escapes the root')
  // The same on Windows, where '\\' and 'C:' mean something.
  const winRoot = 'C:\\srv\\storage'
  const winJoined = path.win32.join(winRoot, ...parts)
  if (winJoined !== winRoot && !winJoined.startsWith(`${winRoot}\\`)) fail('escapes a Windows root')
  // Validation is idempotent.
  if ((kind === 'file' ? safeName(name) : safeDir(name)) !== name) fail('validation not idempotent')
  // A URL built from it neither moves (WHATWG URL resolves dot segments) nor decodes to something else.
  const urlPath = `/media/${encodeUrlPath(name)}`
  if (new URL(urlPath, 'http://h').pathname !== urlPath) fail('URL path changes when parsed')
  if (decodeURIComponent(encodeUrlPath(name)) !== name) fail('URL does not decode to the name')
}

describe(`path validation of ${PURE_RUNS.toLocaleString('en')} generated hostile names`, () => {
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

const OPERATIONS: [string, (s: Storage, name: string) => Promise<unknown>][] = [
  ['open', (s, n) => s.open(n)],
  ['read', (s, n) => s.read(n)],
  ['exists', (s, n) => s.exists(n)],
  ['stat', (s, n) => s.stat(n)],
  ['size', (s, n) => s.size(n)],
  ['delete', (s, n) => s.delete(n)],
  ['url', (s, n) => s.url(n)],
  ['getAvailableName', (s, n) => s.getAvailableName(n)],
]

async function settle(promise: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
}

/**
 * Sends `names` through the public API of `backend`; checks each refusal is
 * suspicious exactly when `safeName` refuses, and that each accepted save is
 * stored under a contained name and reads back intact.
 * @returns the names stored.
 */
async function exercise(backend: BackendUnderTest, names: string[]): Promise<Set<string>> {
  const { storage } = backend
  const stored = new Set<string>()
  for (const [i, input] of names.entries()) {
    const expected = attempt(() => safeName(input))
    const body = `body ${i}`
    const saved = await settle(storage.save(input, body))
    if (!expected.ok) {
      expect(saved.ok, `save accepted ${JSON.stringify(input)}`).toBe(false)
      if (!saved.ok) expectSuspicious(saved.error, input)
      for (const [op, run] of OPERATIONS) {
        const r = await settle(run(storage, input))
        expect(r.ok, `${op} accepted ${JSON.stringify(input)}`).toBe(false)
        if (!r.ok) expectSuspicious(r.error, input)
      }
      continue
    }
    if (!saved.ok) {
      // A valid name may still collide with what an earlier name made: a file
      // where a directory must go, or the reverse. That is not a refusal.
      expect(saved.error, JSON.stringify(input)).toBeInstanceOf(StorageError)
      expect(saved.error).not.toBeInstanceOf(SuspiciousFileOperationError)
      const clean = expected.name
      const clash = [...stored].some((s) => clean.startsWith(`${s}/`) || s.startsWith(`${clean}/`))
      expect(clash, `save of valid ${JSON.stringify(input)} failed with no clash: ${String(saved.error)}`).toBe(true)
      continue
    }
    const name = saved.value as string
    expectContained(name, input, 'file')
    expect(Buffer.from(await storage.read(name)).toString(), JSON.stringify(input)).toBe(body)
    stored.add(name)
  }
  return stored
}

// One fixed sample so every backend sees the same names; fast-check's seed makes failures reproducible.
const SEED = 20261124
const sample = fc.sample(anyName, { numRuns: BACKEND_NAMES, seed: SEED })

describe.each(LOCAL_BACKENDS)(`$name: ${BACKEND_NAMES.toLocaleString('en')} generated hostile names through the public API`, (factory) => {
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
})

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
