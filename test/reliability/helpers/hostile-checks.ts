/**
 * Checks shared by the hostile-name tests of every backend: what an accepted
 * name must look like, and a driver that sends names through a backend's
 * public API and compares the outcome with the pure validation.
 */
import path from 'node:path'
import fc from 'fast-check'
import { expect } from 'vitest'
import { MAX_NAME_BYTES, StorageError, SuspiciousFileOperationError, encodeUrlPath, safeDir, safeName, type Storage } from '@stowage/core'
import type { BackendUnderTest } from './backends.js'
import { anyName } from './hostile-name-arbitrary.js'

/** One fixed sample of generated names, so every backend sees the same ones; the seed makes failures reproducible. */
export function hostileSample(count: number): string[] {
  return fc.sample(anyName, { numRuns: count, seed: 20261124 })
}

/** A validation result. */
export type Outcome = { ok: true; name: string } | { ok: false; error: unknown }

/** Runs a validation, capturing its result or error. */
export function attempt(fn: () => string): Outcome {
  try {
    return { ok: true, name: fn() }
  } catch (error) {
    return { ok: false, error }
  }
}

/** Fails unless `error` is a SuspiciousFileOperationError. */
export function expectSuspicious(error: unknown, input: string): void {
  if (!(error instanceof SuspiciousFileOperationError) || error.code !== 'ESUSPICIOUS') {
    throw new Error(`expected SuspiciousFileOperationError for ${JSON.stringify(input)}, got ${String(error)}`, { cause: error })
  }
}

/** Everything an accepted name must be, whatever it was made from. Plain checks: this runs 300,000 times. */
export function expectContained(name: string, input: string, kind: 'file' | 'dir'): void {
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

/** A promise's outcome, never rejecting. */
export async function settle(promise: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
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
export async function exercise(backend: BackendUnderTest, names: string[]): Promise<Set<string>> {
  const { storage } = backend
  const stored = new Set<string>()
  // Where a harmless name's URL points: every stored name's URL must stay on that origin, under that path.
  const benign = new URL(await storage.url('benign.txt'), 'http://app.example')
  const base = benign.pathname.slice(0, -'benign.txt'.length)
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
    const url = new URL(await storage.url(name), 'http://app.example')
    expect(url.origin, `URL of ${JSON.stringify(name)} leaves the storage's origin`).toBe(benign.origin)
    expect(url.pathname.startsWith(base), `URL of ${JSON.stringify(name)} leaves ${base}`).toBe(true)
    stored.add(name)
  }
  return stored
}
