/**
 * The local backend when the disk says no: full (a real 1 MiB tmpfs), a file
 * size limit (RLIMIT_FSIZE), a read-only file system, and permission denied
 * (a child process running as `nobody`, since root ignores file modes).
 * Every failure must be a typed Stowage error and leave no partial file.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PermissionDeniedError, StorageError } from '@stowage/core'
import { rejection } from '@stowage/core/testing'
import { FileSystemStorage } from '@stowage/local'
import { walkFiles } from './helpers/backends.js'
import type { ChildJob, ChildResult } from './helpers/local-child.js'
import { mountReadOnly, mountSupport, mountTmpfs, unmount } from './helpers/mounts.js'

const MOUNTS = await mountSupport()
/** Appended to the titles of the tests that need mount: why they are skipped here. */
const MOUNT_SKIP = MOUNTS.ok ? '' : ` (skipped: this machine refuses mount: ${MOUNTS.reason})`
// Said once in the run's output too, as the README cites these tests: .ci/run fails when they were skipped.
if (!MOUNTS.ok) console.warn(`local-disk-faults: the disk-full and read-only tests are skipped: mount refused (${MOUNTS.reason})`)
const IS_ROOT = process.getuid?.() === 0
const CHILD = fileURLToPath(new URL('./helpers/local-child.ts', import.meta.url))
const REPO = fileURLToPath(new URL('../..', import.meta.url))
const NOBODY = 65534

const failure = (promise: Promise<unknown>) => rejection(promise, StorageError)

/** Runs a job in a child process, under `ulimit -f blocks` when given. */
async function inChild(job: ChildJob, fileSizeBlocks?: number): Promise<ChildResult[]> {
  const node = [process.execPath, '--conditions=stowage-source', '--import', 'tsx', CHILD, JSON.stringify(job)]
  const quoted = node.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  const script = fileSizeBlocks === undefined ? `exec ${quoted}` : `ulimit -f ${fileSizeBlocks} && exec ${quoted}`
  const { stdout } = await promisify(execFile)('sh', ['-c', script], { cwd: REPO, timeout: 60_000 })
  return JSON.parse(stdout.trim().split('\n').pop() ?? '[]') as ChildResult[]
}

describe.skipIf(!MOUNTS.ok)(`disk full: FileSystemStorage on a 1 MiB tmpfs${MOUNT_SKIP}`, () => {
  let mountPoint: string
  let storage: FileSystemStorage
  let freeWhenEmpty: number
  beforeAll(async () => {
    mountPoint = await mkdtemp(path.join(tmpdir(), 'stowage-full-'))
    if (!mountTmpfs(mountPoint, 1024 * 1024)) throw new Error('mount failed after the probe succeeded')
    storage = new FileSystemStorage({ location: path.join(mountPoint, 'media') })
    await mkdir(storage.location)
    freeWhenEmpty = (await statfs(mountPoint)).bfree
  })
  afterAll(async () => {
    if (mountPoint) {
      unmount(mountPoint)
      await rm(mountPoint, { recursive: true, force: true })
    }
  })

  const big = () => randomBytes(2 * 1024 * 1024)
  const cases: [string, () => Parameters<FileSystemStorage['save']>[1]][] = [
    ['in-memory bytes', big],
    [
      'a stream',
      () => {
        const b = big()
        return Readable.from([b.subarray(0, 512 * 1024), b.subarray(512 * 1024)])
      },
    ],
  ]
  for (const [kind, content] of cases) {
    it(`a save of ${kind} larger than the free space fails with StorageError ENOSPC and leaves no partial file`, async () => {
      const err = await failure(storage.save('uploads/big.bin', content()))
      expect(err.code).toBe('ENOSPC')
      expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOSPC')
      expect(await walkFiles(storage.location)).toEqual([])
      // The space is all given back: the hidden temporary file is gone too.
      expect((await statfs(mountPoint)).bfree).toBeGreaterThanOrEqual(freeWhenEmpty - 2)
      // And the storage still works.
      const name = await storage.save('uploads/small.txt', 'fits')
      expect(Buffer.from(await storage.read(name)).toString()).toBe('fits')
      await storage.delete(name)
    })
  }

  it('an overwrite that runs out of space keeps the previous file whole', async () => {
    const old = randomBytes(100 * 1024)
    const name = await storage.save('settings.bin', old)
    const err = await failure(storage.save(name, big(), { overwrite: true }))
    expect(err.code).toBe('ENOSPC')
    expect(Buffer.from(await storage.read(name)).equals(old)).toBe(true)
    expect(await walkFiles(storage.location)).toEqual([name])
    await storage.delete(name)
  })
})

describe('file size limit: RLIMIT_FSIZE in a child process', { timeout: 60_000 }, () => {
  let location: string
  beforeAll(async () => {
    location = await mkdtemp(path.join(tmpdir(), 'stowage-fsize-'))
  })
  afterAll(() => rm(location, { recursive: true, force: true }))

  it('saves over the limit fail with StorageError EFBIG and leave nothing; small saves still work', async () => {
    // 512 blocks is at least 256 KiB whichever block size the shell uses.
    const results = await inChild(
      {
        location,
        ops: [
          { op: 'save', name: 'a/huge.bin', size: 4 * 1024 * 1024 },
          { op: 'save', name: 'a/huge-stream.bin', size: 4 * 1024 * 1024, stream: true },
          { op: 'save', name: 'a/small.bin', size: 1000 },
        ],
      },
      512,
    )
    expect(results[0]).toEqual({ ok: false, error: { name: 'StorageError', code: 'EFBIG', causeCode: 'EFBIG', stowage: true } })
    expect(results[1]).toEqual({ ok: false, error: { name: 'StorageError', code: 'EFBIG', causeCode: 'EFBIG', stowage: true } })
    expect(results[2]).toEqual({ ok: true, value: 'a/small.bin' })
    expect(await walkFiles(location)).toEqual(['a/small.bin'])
  })
})

describe('permission denied', { timeout: 60_000 }, () => {
  it.skipIf(!IS_ROOT)(
    `as another user: PermissionDeniedError, nothing written or removed${IS_ROOT ? '' : ' (skipped: needs root to switch to nobody)'}`,
    async () => {
      const parent = await mkdtemp(path.join(tmpdir(), 'stowage-perm-'))
      try {
        const location = path.join(parent, 'media')
        await mkdir(path.join(location, 'private'), { recursive: true })
        await chmod(parent, 0o755)
        await chmod(location, 0o755)
        await writeFile(path.join(location, 'kept.txt'), 'root owns this')
        await writeFile(path.join(location, 'private', 'secret.txt'), 'root only')
        await chmod(path.join(location, 'private', 'secret.txt'), 0o600)
        const results = await inChild({
          location,
          uid: NOBODY,
          ops: [
            { op: 'save', name: 'new.bin', size: 10_000 },
            { op: 'save', name: 'deep/new.bin', size: 10_000, stream: true },
            { op: 'save', name: 'kept.txt', size: 100, overwrite: true },
            { op: 'read', name: 'private/secret.txt' },
            { op: 'delete', name: 'kept.txt' },
            { op: 'exists', name: 'kept.txt' },
          ],
        })
        const denied = { ok: false, error: { name: 'PermissionDeniedError', code: 'EACCES', causeCode: 'EACCES', stowage: true } }
        expect(results).toEqual([denied, denied, denied, denied, denied, { ok: true, value: true }])
        expect(await walkFiles(location)).toEqual(['kept.txt', 'private/secret.txt'])
        expect(await readFile(path.join(location, 'kept.txt'), 'utf8')).toBe('root owns this')
      } finally {
        await rm(parent, { recursive: true, force: true })
      }
    },
  )

  it.skipIf(!MOUNTS.ok)(`on a read-only file system: PermissionDeniedError, reads still work${MOUNT_SKIP}`, async () => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-ro-'))
    const storage = new FileSystemStorage({ location })
    const name = await storage.save('kept.txt', 'before')
    if (!mountReadOnly(location)) throw new Error('mount failed after the probe succeeded')
    try {
      for (const call of [
        () => storage.save('new.txt', 'x'),
        () => storage.save('sub/new.txt', Readable.from(['x'])),
        () => storage.save(name, 'x', { overwrite: true }),
        () => storage.delete(name),
      ]) {
        const err = await failure(call())
        expect(err).toBeInstanceOf(PermissionDeniedError)
        expect((err.cause as NodeJS.ErrnoException).code).toBe('EROFS')
      }
      expect(Buffer.from(await storage.read(name)).toString()).toBe('before')
      expect(await walkFiles(location)).toEqual(['kept.txt'])
    } finally {
      unmount(location)
      await rm(location, { recursive: true, force: true })
    }
  })
})
