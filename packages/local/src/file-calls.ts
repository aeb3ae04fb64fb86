/**
 * The handful of system calls `FileSystemStorage` makes to write and read a
 * file, synchronous or through libuv's thread pool, behind one shape. A
 * 10 KB save is five calls (open, write, close, link, unlink) and on a local
 * disk each trip through the pool costs more CPU than the call itself, which
 * completes from the page cache and the inode cache in microseconds. So on
 * local file systems the calls on names and descriptors are synchronous (as
 * Django makes them, on its threads), and so is copying the bytes of small
 * files; copying the bytes of large files goes to the pool, in one call, so
 * the event loop never waits on a megabyte. On every file system where a
 * call can wait on a network (NFS, SMB, FUSE) everything goes to the pool.
 */
import {
  close,
  closeSync,
  constants as fsConstants,
  fchmod,
  fchmodSync,
  fstatSync,
  link,
  linkSync,
  fstat,
  open,
  openSync,
  read,
  readFile,
  readSync,
  rename,
  renameSync,
  unlink,
  unlinkSync,
  write,
  writeSync,
} from 'node:fs'
import { statfs } from 'node:fs/promises'
import { promisify } from 'node:util'

/** Files up to this many bytes have their bytes copied with synchronous calls on local file systems. */
export const SMALL_FILE = 64 * 1024

/** The calls a write makes; each returns a value or a promise of it (callers `await` both). */
export interface FileCalls {
  /** Creates `path` exclusively (`wx`). */
  create(path: string, mode: number): number | Promise<number>
  fchmod(fd: number, mode: number): void | Promise<void>
  /** Writes all of `bytes` at the start of the file, checking `signal` between partial writes. */
  writeAll(fd: number, bytes: Uint8Array, signal?: AbortSignal): void | Promise<void>
  close(fd: number): void | Promise<void>
  link(existing: string, target: string): void | Promise<void>
  rename(from: string, to: string): void | Promise<void>
  unlink(path: string): void | Promise<void>
}

const openAsync = promisify(open)
const writeAsync = promisify(write)
const readAsync = promisify(read)
const fstatAsync = promisify(fstat)
const closeAsync = promisify(close)

/** Local file systems, small bodies: every call synchronous. */
export const SYNC_CALLS: FileCalls = {
  create: (path, mode) => openSync(path, 'wx', mode),
  fchmod: fchmodSync,
  writeAll(fd, bytes) {
    for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done, done)
  },
  close: closeSync,
  link: linkSync,
  rename: renameSync,
  unlink: unlinkSync,
}

/**
 * Other file systems, and streams anywhere: every call through the pool, by
 * the callback API (a FileHandle of fs/promises costs noticeably more per call).
 */
export const ASYNC_CALLS: FileCalls = {
  create: (path, mode) => openAsync(path, 'wx', mode),
  fchmod: promisify(fchmod),
  async writeAll(fd, bytes, signal) {
    for (let done = 0; done < bytes.byteLength;) {
      signal?.throwIfAborted()
      done += (await writeAsync(fd, bytes, done, bytes.byteLength - done, done)).bytesWritten
    }
  },
  close: closeAsync,
  link: promisify(link),
  rename: promisify(rename),
  unlink: promisify(unlink),
}

/** Local file systems, large bodies: every call synchronous but the copy of the bytes. */
export const LOCAL_LARGE_CALLS: FileCalls = { ...SYNC_CALLS, writeAll: ASYNC_CALLS.writeAll }

const readFileAsync = promisify(readFile) as (path: string | number) => Promise<Buffer>

/**
 * Reads a whole file. On a local file system (`local`) the file is opened,
 * measured and closed synchronously, and its bytes are read synchronously
 * when small, else in one call through the pool; elsewhere every call goes
 * through the pool.
 * @returns its bytes.
 * @throws the system error (`ENOENT`, `EISDIR`, `EACCES`...).
 */
export async function readWhole(path: string, local: boolean): Promise<Buffer> {
  if (!local) {
    const fd = await openAsync(path, 'r')
    try {
      const st = await fstatAsync(fd)
      if (st.isFile() && st.size > 0) return await readAsyncInto(fd, st.size)
      // readFile of a directory's descriptor gives no bytes instead of its error.
      if (st.isDirectory())
        throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR', syscall: 'read', path })
      // Empty or special files (a FIFO already open): read until the end, as readFile does.
      return await readFileAsync(fd)
    } finally {
      await closeAsync(fd)
    }
  }
  // O_NONBLOCK: opening a FIFO planted in the directory must not block the process.
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  try {
    const st = fstatSync(fd)
    if (st.isFile() && st.size > 0) return st.size <= SMALL_FILE ? readSyncInto(fd, st.size) : await readAsyncInto(fd, st.size)
  } finally {
    closeSync(fd)
  }
  // Empty (a /proc file says 0) or not a regular file: as readFile always did,
  // through the pool (a directory's EISDIR, a FIFO's wait for its writer).
  return readFileAsync(path)
}

// The size from fstat is what a file holds unless it is being written:
// like readFile, read at most that much and return what there was.
function readSyncInto(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size)
  let done = 0
  for (let n = 1; done < size && n > 0; done += n) n = readSync(fd, buf, done, size - done, done)
  return done < size ? buf.subarray(0, done) : buf
}

async function readAsyncInto(fd: number, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size)
  let done = 0
  for (let n = 1; done < size && n > 0; done += n) n = (await readAsync(fd, buf, done, size - done, done)).bytesRead
  return done < size ? buf.subarray(0, done) : buf
}

// statfs f_type of Linux file systems whose calls never wait on a network.
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, // ext2/3/4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0x794c7630, // overlayfs (containers)
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
  0xca451a4e, // bcachefs
  0x3153464a, // jfs
  0x52654973, // reiserfs
])

/**
 * @returns whether a statfs `type` is a local Linux file system (ext4, xfs,
 *   btrfs, tmpfs, overlayfs, zfs, f2fs...): not NFS, SMB, FUSE or anything unknown.
 */
export function isLocalFileSystem(type: number, platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux' && LOCAL_FILE_SYSTEMS.has(type >>> 0)
}

/**
 * @returns whether the directory at `dir` is on a local file system, or
 *   `undefined` when it cannot be told (the directory does not exist yet).
 */
export async function onLocalFileSystem(dir: string): Promise<boolean | undefined> {
  try {
    return isLocalFileSystem((await statfs(dir)).type)
  } catch {
    return undefined
  }
}
