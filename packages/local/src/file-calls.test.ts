import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { FileNotFoundError } from '@stowage/core'
import { runStorageConformance } from '@stowage/core/testing'
import { describe, expect, it } from 'vitest'
import { isLocalFileSystem, SMALL_FILE } from './file-calls.js'
import { FileSystemStorage, type FileSystemStorageOptions } from './file-system-storage.js'
import { tempDirs } from '../../../test/temp-dirs.js'

/** The same storage with every call forced through the thread pool, as on NFS or FUSE. */
class PooledFileSystemStorage extends FileSystemStorage {
  constructor(options: FileSystemStorageOptions) {
    super(options)
    this.localFileSystem = false
  }
}

/** And with the local file system's calls, whatever the file system under the test directory. */
class SyncFileSystemStorage extends FileSystemStorage {
  constructor(options: FileSystemStorageOptions) {
    super(options)
    this.localFileSystem = true
  }
}

async function leftoverTemps(location: string): Promise<string[]> {
  return (await readdir(location, { recursive: true })).map(String).filter((n) => path.basename(n).startsWith('.~stowage-'))
}

// The whole contract again on the thread-pool path (the default run in
// file-system-storage.test.ts takes the synchronous one on a local disk).
runStorageConformance({
  name: 'FileSystemStorage, every call through the thread pool',
  create: async (options) => new PooledFileSystemStorage({ location: await mkdtemp(path.join(tmpdir(), 'stowage-pool-')), baseUrl: '/media/', ...options }),
  destroy: async (storage) => {
    const { location } = storage as FileSystemStorage
    const leftovers = await leftoverTemps(location)
    if (leftovers.length) throw new Error(`temporary files left behind: ${leftovers.join(', ')}`)
    await rm(location, { recursive: true, force: true })
  },
  capabilities: { skip: { contentType: 'a plain file system records no content type', etag: 'a plain file system records no etag' } },
})

const root = tempDirs('stowage-calls-')

describe('path()', () => {
  it.skipIf(path.sep !== '/')("gives path.join's answer for every name, normal or not", () => {
    for (const location of ['/srv/media', '/srv/media/', '/']) {
      const storage = new FileSystemStorage({ location })
      for (const name of [
        'a',
        'a/b.txt',
        '.a',
        'a..b',
        '..a',
        'a/.hidden',
        'x/...',
        'ü ß/日本.txt',
        '',
        '.',
        '..',
        'a/./b',
        'a/../b',
        './a',
        'a/.',
        'a//b',
        '/a',
        'a/',
      ]) {
        expect([location, name, storage.path(name)]).toEqual([location, name, path.join(path.resolve(location), ...name.split('/'))])
      }
    }
  })
})

describe('which file systems get synchronous calls', () => {
  it('local Linux file systems do; network, FUSE, unknown ones and other platforms do not', () => {
    const local = { ext4: 0xef53, xfs: 0x58465342, btrfs: 0x9123683e, tmpfs: 0x01021994, overlayfs: 0x794c7630, zfs: 0x2fc12fc1 }
    const remote = { nfs: 0x6969, smb2: 0xfe534d42, cifs: 0xff534d42, fuse: 0x65735546, '9p': 0x01021997, ceph: 0x00c36400, afs: 0x5346414f, unknown: 0x1234 }
    for (const [fs, type] of Object.entries(local)) expect([fs, isLocalFileSystem(type, 'linux')]).toEqual([fs, true])
    for (const [fs, type] of Object.entries(remote)) expect([fs, isLocalFileSystem(type, 'linux')]).toEqual([fs, false])
    // statfs types can arrive sign-extended
    expect(isLocalFileSystem(0x9123683e | 0, 'linux')).toBe(true)
    expect(isLocalFileSystem(0xef53, 'darwin')).toBe(false)
    expect(isLocalFileSystem(0xef53, 'win32')).toBe(false)
  })
})

describe.each([
  ['local file system calls', SyncFileSystemStorage],
  ['the thread pool', PooledFileSystemStorage],
])('files through %s', (_label, Storage) => {
  it('reads files at, under and over the small-file size whole', async () => {
    const storage = new Storage({ location: await root() })
    for (const size of [0, 1, SMALL_FILE - 1, SMALL_FILE, SMALL_FILE + 1, 3 * SMALL_FILE + 7]) {
      const data = randomBytes(size)
      const name = await storage.save(`s/${size}.bin`, data)
      expect(Buffer.from(await storage.read(name)).equals(data)).toBe(true)
    }
  })

  it('a directory read as a file is not found, and a missing file too', async () => {
    const storage = new Storage({ location: await root() })
    await storage.save('dir/a.txt', 'a')
    await expect(storage.read('dir')).rejects.toBeInstanceOf(FileNotFoundError)
    await expect(storage.read('missing.txt')).rejects.toBeInstanceOf(FileNotFoundError)
  })

  it.skipIf(process.platform === 'win32')('a FIFO planted under the root does not block the process while read() waits for its writer', async () => {
    const location = await root()
    const storage = new Storage({ location })
    execFileSync('mkfifo', [path.join(location, 'pipe')])
    const reading = storage.read('pipe')
    // The event loop still turns: a timer fires while the read waits.
    await new Promise((resolve) => setTimeout(resolve, 1))
    const writer = await open(path.join(location, 'pipe'), 'w')
    await writer.write('through the pipe')
    await writer.close()
    expect(Buffer.from(await reading).toString()).toBe('through the pipe')
  })

  it('a small save that loses every claim fails with EEXIST and leaves no temporary file', async () => {
    const location = await root()
    const storage = new Storage({ location, randomSuffix: () => 'taken00' })
    await storage.save('a.txt', 'one')
    await storage.save('a.txt', 'two') // takes a_taken00.txt
    await expect(storage.save('a.txt', 'three')).rejects.toMatchObject({ code: 'EEXIST' })
    expect(await leftoverTemps(location)).toEqual([])
    expect((await readdir(location)).sort()).toEqual(['a.txt', 'a_taken00.txt'])
  })

  it('an aborted small save publishes nothing', async () => {
    const location = await root()
    const storage = new Storage({ location })
    const controller = new AbortController()
    controller.abort()
    await expect(storage.save('a.txt', 'x', { signal: controller.signal })).rejects.toMatchObject({ code: 'EABORTED' })
    expect(await readdir(location)).toEqual([])
  })

  it('recreates a directory removed behind its back', async () => {
    const location = await root()
    const storage = new Storage({ location })
    await storage.save('d/a.txt', 'a')
    await rm(path.join(location, 'd'), { recursive: true })
    expect(await storage.save('d/b.txt', 'b')).toBe('d/b.txt')
  })
})

describe('small saves past a file size limit (RLIMIT_FSIZE, in a child process)', { timeout: 60_000 }, () => {
  const CHILD = fileURLToPath(new URL('../../../test/reliability/helpers/local-child.ts', import.meta.url))
  const REPO = fileURLToPath(new URL('../../..', import.meta.url))

  it('fail with EFBIG, leave nothing, and the storage goes on', async () => {
    const location = await root()
    await writeFile(path.join(location, 'kept.txt'), 'kept')
    const job = {
      location,
      ops: [
        { op: 'save', name: 'a/ten-kb.bin', size: 10_000 },
        { op: 'save', name: 'a/tiny.bin', size: 100 },
      ],
    }
    const node = [process.execPath, '--conditions=stowage-source', '--import', 'tsx', CHILD, JSON.stringify(job)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    // 4 blocks: 2 KiB or 4 KiB depending on the shell's block size, under 10 KB either way.
    const { stdout } = await promisify(execFile)('sh', ['-c', `ulimit -f 4 && exec ${node.join(' ')}`], { cwd: REPO, timeout: 60_000 })
    const results = JSON.parse(stdout.trim().split('\n').pop()!) as unknown[]
    expect(results).toEqual([
      { ok: false, error: { name: 'StorageError', code: 'EFBIG', causeCode: 'EFBIG', stowage: true } },
      { ok: true, value: 'a/tiny.bin' },
    ])
    expect((await readdir(location, { recursive: true })).map(String).sort()).toEqual(['a', 'a/tiny.bin', 'kept.txt'])
  })
})
