/**
 * The backends the reliability tests run against, each with a way to look
 * underneath the `Storage` API: what the backend really holds (files on
 * disk, objects in memory) and whether anything appeared outside it.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryStorage, type Storage } from '@stowage/core'
import { listAll } from '@stowage/core/testing'
import { FileSystemStorage } from '@stowage/local'

/** A storage under test plus raw views of what it holds. */
export interface BackendUnderTest {
  storage: Storage
  /** Every file or object the backend holds, relative to the storage root, sorted; temporary files included. */
  rawNames(): Promise<string[]>
  /** Entries that appeared outside the storage root since `create()`; must stay empty. */
  outside(): Promise<string[]>
  destroy(): Promise<void>
}

/** How to build one backend. */
export interface BackendFactory {
  name: string
  /** Builds a fresh, empty backend; `overwrite` is the storage option of that name. */
  create(options?: { overwrite?: boolean }): Promise<BackendUnderTest>
}

/** All files (not directories) under `dir`, relative, POSIX-style, sorted. */
export async function walkFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort()
}

export const memoryBackend: BackendFactory = {
  name: 'MemoryStorage',
  async create(options = {}) {
    const storage = new MemoryStorage({ baseUrl: '/media/', ...options })
    return { storage, rawNames: () => listAll(storage), outside: async () => [], destroy: async () => {} }
  },
}

/** A `FileSystemStorage` rooted in `parent/root`, with a sentinel file beside the root so escapes are visible. */
export async function createLocalBackend(
  options: { signingSecret?: string; now?: () => number; overwrite?: boolean } = {},
): Promise<BackendUnderTest & { parent: string; storage: FileSystemStorage }> {
  const parent = await mkdtemp(path.join(tmpdir(), 'stowage-rel-'))
  await writeFile(path.join(parent, 'sentinel.txt'), 'outside the root')
  const storage = new FileSystemStorage({ location: path.join(parent, 'root'), baseUrl: '/media/', ...options })
  return {
    parent,
    storage,
    // The root appears with the first save; before that the storage holds nothing. Any other error is the test's business.
    rawNames: async () => walkFiles(storage.location).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err))),
    outside: async () => (await walkFiles(parent)).filter((n) => n !== 'sentinel.txt' && !n.startsWith('root/')),
    destroy: () => rm(parent, { recursive: true, force: true }),
  }
}

export const localBackend: BackendFactory = { name: 'FileSystemStorage', create: (options) => createLocalBackend(options) }

/** Backends available without external services. The S3 one is added by the S3 tests themselves. */
export const LOCAL_BACKENDS: BackendFactory[] = [memoryBackend, localBackend]
