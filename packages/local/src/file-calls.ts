/**
 * The handful of system calls `FileSystemStorage` makes to write and read a
 * file, in two flavours with one shape: synchronous, and through libuv's
 * thread pool. A 10 KB save is five calls (open, write, close, link, unlink)
 * and each trip through the pool costs more CPU than the call itself on a
 * local disk, where these calls complete from the page cache in
 * microseconds. So small files on local file systems use the synchronous
 * flavour (as Django does on its threads); everything else, and every file
 * system where a call can wait on a network (NFS, SMB, FUSE), the pool.
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
  open,
  openSync,
  readFile,
  readFileSync,
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

/** Files up to this many bytes are written and read with synchronous calls on local file systems. */
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

export const SYNC_CALLS: FileCalls = {
  create: (path, mode) => openSync(path, 'wx', mode),
  fchmod: fchmodSync,
  writeAll(fd, bytes) {
    for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done, done)
  },
  close: closeSync,
  link: linkSync,
  rename: renameSync,
  unlink: unlinkSync,
}

// The callback API, not fs/promises: a FileHandle costs noticeably more per call.
export const ASYNC_CALLS: FileCalls = {
  create: (path, mode) => openAsync(path, 'wx', mode),
  fchmod: promisify(fchmod),
  async writeAll(fd, bytes, signal) {
    for (let done = 0; done < bytes.byteLength; ) {
      signal?.throwIfAborted()
      done += (await writeAsync(fd, bytes, done, bytes.byteLength - done, done)).bytesWritten
    }
  },
  close: promisify(close),
  link: promisify(link),
  rename: promisify(rename),
  unlink: promisify(unlink),
}

const readFileAsync = promisify(readFile) as (path: string | number) => Promise<Buffer>

/**
 * Reads a whole file: a small regular file with synchronous calls when
 * `sync`, anything else through the thread pool.
 * @returns its bytes.
 * @throws the system error (`ENOENT`, `EISDIR`, `EACCES`...).
 */
export async function readWhole(path: string, sync: boolean): Promise<Buffer> {
  if (!sync) return readFileAsync(path)
  // O_NONBLOCK: opening a FIFO planted in the directory must not block the process.
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  let small = false
  try {
    const st = fstatSync(fd)
    small = st.isFile() && st.size <= SMALL_FILE
    if (small) return readFileSync(fd)
  } finally {
    closeSync(fd)
  }
  // Large, or not a regular file: as before, through the pool (which also
  // gives a directory's EISDIR and a FIFO's wait their usual behaviour).
  return readFileAsync(path)
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

