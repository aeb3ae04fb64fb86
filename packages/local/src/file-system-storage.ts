import { createReadStream, createWriteStream, constants as fsConstants } from 'node:fs'
import { chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ASYNC_CALLS, LOCAL_LARGE_CALLS, onLocalFileSystem, readWhole, SMALL_FILE, SYNC_CALLS, type FileCalls } from './file-calls.js'
import {
  BaseStorage,
  checkOptionNames,
  checkOptionValues,
  checkSigningSettings,
  ConfigurationError,
  FileExistsError,
  FileNotFoundError,
  InvalidArgumentError,
  PermissionDeniedError,
  StorageError,
  encodeUrlPath,
  signedStorageUrl,
  splitName,
  withTrailingSlash,
  type BaseStorageOptions,
  type ByteRange,
  type CopyRequest,
  type DirectoryListing,
  type FileStat,
  type OptionKind,
  type Stage,
  type StageOptions,
  type StorageDescription,
  type UrlOptions,
  type WriteRequest,
} from '@stowage/core'

/** Options for `FileSystemStorage`. */
export interface FileSystemStorageOptions extends BaseStorageOptions {
  /** Directory holding the files (Django's `MEDIA_ROOT`). Created on first write. */
  location: string
  /** URL prefix the files are served under (Django's `MEDIA_URL`). Default `/media/`. */
  baseUrl?: string
  /** Mode for new files, e.g. `0o644` (Django's `FILE_UPLOAD_PERMISSIONS`). Default: the process umask decides. */
  fileMode?: number
  /** Mode for new directories, e.g. `0o755`. Default: the process umask decides. */
  directoryMode?: number
  /**
   * Secret for HMAC-signed, expiring URLs (`url(name, { expiresIn })`), which
   * the Stowage media middleware verifies. Without it, signed URLs are refused.
   */
  signingSecret?: string
  /** Default lifetime in seconds of signed URLs when `url()` is given `download` but no `expiresIn`. Default 3600. */
  expiresIn?: number
  /** Clock for signed URLs; inject in tests. */
  now?: () => number
}

/** Every option `FileSystemStorage` takes, with its kind; anything else is refused. */
export const FILE_SYSTEM_STORAGE_OPTIONS: { readonly [K in keyof FileSystemStorageOptions]-?: OptionKind } = {
  location: 'string',
  baseUrl: 'string',
  fileMode: 'integer',
  directoryMode: 'integer',
  signingSecret: 'secret',
  expiresIn: 'integer',
  now: 'code',
  overwrite: 'boolean',
  randomSuffix: 'code',
}

/** Advice for option names people try (from other libraries) that `FileSystemStorage` does not take. */
export const FILE_SYSTEM_OPTION_HINTS: Readonly<Record<string, string>> = {
  private:
    'local files are as private as the server that serves them: give serveMedia({ private: true, signingSecret }) the same signingSecret, and hand out url(name, { expiresIn })',
  secret: "the HMAC key for signed URLs is 'signingSecret'",
}

// Temporary files live beside their target (so rename/link stay on one file
// system and are atomic) under a name listdir() hides.
const TEMP_PREFIX = '.~stowage-'
const TEMP_SUFFIX = '.tmp'
const isTemp = (n: string) => n.startsWith(TEMP_PREFIX) && n.endsWith(TEMP_SUFFIX)
// Errors from link() on file systems without hard links (FAT, some FUSE and network mounts).
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

const code = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code

/** A file and a directory would share `name` (a storage name): the typed error, saying which is in the way. */
const inTheWay = (name: string, why: string, at: string, cause: unknown) =>
  new FileExistsError(name, { cause, context: { reason: `'${name}' ${why}`, path: at } })
// Names path.join would change: '.' or '..' segments, empty segments, a leading slash.
const UNNORMAL = /(?:^|\/)\.{1,2}(?:\/|$)|\/\/|^\/|\/$/

// A stage (`stage()`) is a sibling of the location, hidden, and named after
// it, so a leftover from a killed run is easy to recognise and delete.
const STAGE_MARK = '.stowage-stage-'
// Where a replaced location goes while its stage takes its place (stage({ replace: true })).
const OLD_MARK = '.stowage-old-'
// Both names carry who made them (a hash of the host name, and the process
// id), so a later stage() can tell a leftover of a process that died on this
// host from a run still going on, here or on another host sharing the volume.
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8)
const OWNER = `${HOST}-${process.pid}`

/** Whether `pid` names no process on this host (a process of another user is alive: EPERM). */
function isDead(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return code(err) === 'ESRCH'
  }
}

// Temporary names need only be unique: a counter within the process, and a
// random stem drawn once so processes sharing a directory never meet (and
// `wx` refuses a clash anyway). randomBytes per save cost 20 µs of CPU.
const TEMP_STEM = `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-`
let tempCount = 0
const tempName = () => `${TEMP_STEM}${(tempCount++).toString(36)}${TEMP_SUFFIX}`

/**
 * Local-disk storage (Django's `FileSystemStorage`), safe under concurrency:
 * - writes go to a temporary file in the target directory and appear under
 *   their name only when complete, so readers never see partial files and a
 *   failed or aborted write leaves nothing;
 * - new names are claimed with an exclusive hard link, so concurrent saves of
 *   one name all succeed under distinct names and none is lost;
 * - on local Linux file systems, calls on names and descriptors, and the
 *   byte copies of files up to 64 KiB, are synchronous: cheaper there than
 *   five trips through the thread pool. NFS, SMB, FUSE and other platforms
 *   keep the pool (file-calls.ts says why).
 */
export class FileSystemStorage extends BaseStorage {
  /** Absolute root directory. */
  readonly location: string
  readonly baseUrl: string
  protected override readonly atomicClaims = true
  private readonly options: FileSystemStorageOptions
  // `location` with one trailing slash, for path().
  private readonly root: string
  // Directories this instance has seen exist: saves into them skip mkdir.
  private readonly knownDirs = new Set<string>()
  /** Directories being made now, by path: see makeDirs(). */
  private readonly makingDirs = new Map<string, Promise<void>>()
  // A stage's storage (see stage()): nobody reads its files before the whole
  // directory is published, so an overwriting save writes the name itself,
  // without a temporary name and a rename.
  private direct = false
  /**
   * Whether calls on names and descriptors, and the byte copies of files up
   * to `SMALL_FILE`, are synchronous (see file-calls.ts); `undefined` until
   * the file system under `location` has been looked at (true on local
   * Linux file systems). Subclasses may set it.
   */
  protected localFileSystem: boolean | undefined

  /**
   * @throws ConfigurationError naming the option when one is unknown (with the nearest known name),
   *   of the wrong type, `location` is missing, a mode is not a permission number, `expiresIn`
   *   is not a positive integer, or `signingSecret` is shorter than `MIN_SECRET_LENGTH`.
   */
  constructor(options: FileSystemStorageOptions) {
    if (!options || typeof options.location !== 'string' || options.location === '') {
      throw new ConfigurationError('is required (the directory that holds the files)', { key: 'location' })
    }
    // A subclass may take options of its own; it checks them.
    if (new.target === FileSystemStorage) checkOptionNames(options, Object.keys(FILE_SYSTEM_STORAGE_OPTIONS), 'FileSystemStorage', FILE_SYSTEM_OPTION_HINTS)
    checkOptionValues(options, FILE_SYSTEM_STORAGE_OPTIONS)
    super(options)
    checkSigningSettings(options)
    for (const key of ['fileMode', 'directoryMode'] as const) {
      const mode = options[key]
      if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) {
        throw new ConfigurationError(`must be a permission number such as 0o644, got ${mode}`, { key })
      }
    }
    this.location = path.resolve(options.location)
    this.root = this.location.endsWith('/') ? this.location : `${this.location}/`
    this.baseUrl = withTrailingSlash(options.baseUrl ?? '/media/')
    this.options = options
  }

  /** @returns the absolute path of `name`, which must already be validated (`safeName`): it is not checked here. Never throws. */
  path(name: string): string {
    // Every save and read asks; path.join costs more than the rest of the
    // JavaScript of a save, and a safe name needs no normalising on POSIX.
    if (path.sep === '/' && name !== '' && !UNNORMAL.test(name)) return this.root + name
    return path.join(this.location, ...name.split('/'))
  }

  protected override mapError(err: unknown, operation: string, name: string): StorageError {
    if (err instanceof StorageError) return err
    const c = code(err)
    const context = { operation, name, path: this.path(name || '.') }
    // ELOOP: a symbolic link loop on the way resolves to no file, as a missing one does (a 404 when served, not a 500).
    if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR' || c === 'ELOOP') return new FileNotFoundError(name, { cause: err, context })
    if (c === 'EACCES' || c === 'EPERM' || c === 'EROFS') {
      return new PermissionDeniedError(`Permission denied: ${operation} '${name}'`, { cause: err, context })
    }
    const message = err instanceof Error ? err.message : String(err)
    return new StorageError(`${operation} '${name}' failed: ${message}`, { cause: err, code: c ?? 'ESTORAGE', context })
  }

  protected async _write(req: WriteRequest): Promise<string> {
    const [dir] = splitName(req.name)
    const dirPath = this.path(dir)
    if (!this.knownDirs.has(dirPath)) await this.makeDirs(dirPath)
    const { bytes } = req.source
    const local = this.localFileSystem ?? (await this.detectFileSystem())
    // Streams keep the pool: their bytes arrive over time and may not fit in
    // memory. A stage's bytes are written synchronously whatever their size:
    // a stage is a batch job's, which waits for its writes anyway, and writes
    // into one directory from several of the pool's threads at once only
    // contend for its lock (measured: slower than one thread).
    const calls = !local || !bytes ? ASYNC_CALLS : bytes.byteLength <= SMALL_FILE || this.direct ? SYNC_CALLS : LOCAL_LARGE_CALLS
    if (this.direct && req.overwrite) {
      const written = await this.writeDirect(req, calls)
      if (written) return written
    }
    const [temp, fd] = await this.createTemp(dirPath, calls)
    return this.publish(temp, req, calls, () => this.fill(fd, req, calls))
  }

  /**
   * A stage's overwriting save of a name not taken yet: the file is created
   * under its name and filled; a failed or aborted fill deletes it.
   * @returns the name, or `undefined` when it is taken (then it is replaced the usual way).
   */
  private async writeDirect(req: WriteRequest, calls: FileCalls): Promise<string | undefined> {
    const target = this.path(req.name)
    let fd: number
    try {
      fd = await calls.create(target, this.options.fileMode ?? 0o666)
    } catch (err) {
      if (code(err) === 'EEXIST') return undefined
      throw err
    }
    try {
      await this.fill(fd, req, calls)
      req.signal?.throwIfAborted()
      return req.name
    } catch (err) {
      try {
        await calls.unlink(target)
      } catch {
        // Gone already: nothing to undo.
      }
      throw err
    }
  }

  /**
   * Stages a fill of the location (see `Storage.stage()`): the files are
   * written into a hidden sibling directory (`.<name>.stowage-stage-<host>-<pid>-<random>`),
   * and `publish()` renames it onto the location, replacing the empty
   * directory (or taking the name when there is none) in one system call.
   * Until then the location is untouched, and after a failure, an abort or
   * `discard()` it still is: a first deploy is all-or-nothing. Files in the
   * stage are written under their own names, without the temporary name and
   * rename each save otherwise needs. A crash leaves the sibling behind: the
   * next `stage()` of the location deletes what a process that died on this
   * host left (a stage, or a replaced location moved aside, which it puts
   * back when a crash came between the two renames of `replace`). Leftovers
   * of live processes and of other hosts sharing the volume are left alone;
   * they can be deleted by hand once their run is known to be over.
   *
   * With `replace`, a location holding files is staged too, and `publish()`
   * moves it aside (`.<name>.stowage-old-<host>-<pid>-<random>`), renames the stage into
   * its place and deletes it: two renames, so for a moment between them the
   * location does not exist (Node has no `renameat2(RENAME_EXCHANGE)`), where
   * deleting and rewriting in place leaves it empty or half-filled for the
   * whole run. Should the second rename fail, the old directory is put back.
   * @returns the stage, or `undefined` (write in place) when the location
   *   holds anything (without `replace`), is not a directory (a symbolic link
   *   to one included), is a mount point
   *   or is owned by another user (a rename would change what the
   *   administrator set up), or its parent does not let this process make a directory.
   * @throws InvalidArgumentError (`EINVAL`) when `replace` is not a boolean, before any I/O.
   */
  async stage(options: StageOptions = {}): Promise<Stage | undefined> {
    if (options.replace !== undefined && typeof options.replace !== 'boolean') {
      throw new InvalidArgumentError(`replace must be true or false, got ${JSON.stringify(options.replace)}`, { argument: 'replace' })
    }
    const replace = options.replace ?? false
    const location = this.location
    const parent = path.dirname(location)
    const base = path.basename(location)
    if (parent === location) return undefined
    // What a killed run left is dealt with first: it may put the location back.
    await recoverStages(location)
    let mode = this.options.directoryMode
    try {
      // lstat: a location that is a symbolic link (a deploy's `static -> releases/42/static`)
      // is written in place; renaming a directory onto the link would replace the link.
      const [st, up] = await Promise.all([lstat(location), stat(parent)])
      const uid = process.getuid?.()
      if (!st.isDirectory() || st.dev !== up.dev || (uid !== undefined && st.uid !== uid)) return undefined
      if (!replace && (await readdir(location)).length > 0) return undefined
      // The directory that replaces it keeps its permissions.
      mode = st.mode & 0o7777
    } catch (err) {
      if (code(err) !== 'ENOENT') return undefined
    }
    const sibling = (mark: string) => path.join(parent, `.${base}${mark}${OWNER}-${randomBytes(6).toString('hex')}`)
    const dir = sibling(STAGE_MARK)
    try {
      if (!this.knownDirs.has(parent)) await this.makeDirs(parent)
      await mkdir(dir, mode === undefined ? {} : { mode })
      if (mode !== undefined) await chmod(dir, mode) // not subject to umask
    } catch {
      await rm(dir, { recursive: true, force: true }).catch(() => {})
      return undefined
    }
    const storage = new FileSystemStorage({ ...this.options, location: dir })
    storage.localFileSystem = this.localFileSystem
    storage.direct = true
    let ended = false
    const discard = async () => {
      ended = true
      await rm(dir, { recursive: true, force: true }).catch(() => {})
    }
    /** Puts the stage in the location's place. @returns the old location, moved aside (`replace`), to delete. */
    const swap = async (): Promise<string | undefined> => {
      try {
        // rename() replaces an empty directory, and fails when it holds anything.
        await rename(dir, location)
        return undefined
      } catch (err) {
        if (!replace || (code(err) !== 'ENOTEMPTY' && code(err) !== 'EEXIST')) throw err
      }
      const old = sibling(OLD_MARK)
      await rename(location, old)
      try {
        await rename(dir, location)
      } catch (err) {
        await rename(old, location).catch(() => {})
        throw err
      }
      return old
    }
    return {
      storage,
      publish: async () => {
        if (ended) throw new StorageError(`The stage of '${location}' was already published or discarded`, { code: 'EINVAL', context: { path: dir } })
        let old: string | undefined
        try {
          old = await swap()
          ended = true
        } catch (err) {
          await discard()
          const changed = code(err) === 'ENOTEMPTY' || code(err) === 'EEXIST'
          throw new StorageError(
            changed
              ? `'${location}' was filled by someone else while the stage was being written; nothing of the stage was published`
              : `Publishing the stage of '${location}' failed: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err, code: changed ? 'ECHANGED' : (code(err) ?? 'ESTORAGE'), context: { path: location } },
          )
        }
        this.knownDirs.clear()
        if (old) await rm(old, { recursive: true, force: true }).catch(() => {})
      },
      discard,
    }
  }

  /**
   * Runs `make` to complete the file at `temp`, then publishes it as a save
   * is: renamed over `req.name` when overwriting, else linked under a name
   * nobody else has (`claim`). Nothing is published when `make` fails or
   * the signal fires, and the temporary name is gone whatever happens.
   * @returns the name published.
   */
  private async publish(
    temp: string,
    req: Pick<WriteRequest, 'name' | 'nextName' | 'overwrite' | 'signal'>,
    calls: FileCalls,
    make: () => Promise<void>,
  ): Promise<string> {
    let tempGone = false
    try {
      await make()
      // Aborted while writing: publish nothing.
      req.signal?.throwIfAborted()
      if (req.overwrite) {
        try {
          await calls.rename(temp, this.path(req.name))
        } catch (err) {
          // A directory has the name: rename() cannot replace it with a file
          // (EISDIR), which would otherwise read as "file not found".
          if (code(err) === 'EISDIR') throw inTheWay(req.name, 'is a directory, which a file cannot replace', this.path(req.name), err)
          throw err
        }
        tempGone = true
        return req.name
      }
      return await this.claim(temp, req, calls)
    } finally {
      // After a successful claim by link() the temp name is an extra link;
      // after a failure it is the partial file (or was never made). Either
      // way it goes (a rename already took it, so skip the syscall then).
      if (!tempGone) {
        try {
          await calls.unlink(temp)
        } catch {
          // Never made, gone already (claimWithoutLinks renamed it), or the disk refuses: nothing else to do.
        }
      }
    }
  }

  /**
   * A copy is made under a temporary name beside the target and published
   * as a save is (rename when overwriting, exclusive link claim otherwise):
   * a hard link of the source when `req.link` (no bytes written; falls back
   * to copying on file systems without links), else `copyFile` (a clone on
   * file systems that have them, a kernel-side copy elsewhere). The copy
   * keeps the source's mode, which this storage gave it.
   */
  protected override async _copy(from: string, req: CopyRequest): Promise<string> {
    const source = this.path(from)
    const [dir] = splitName(req.name)
    const dirPath = this.path(dir)
    if (!this.knownDirs.has(dirPath)) await this.makeDirs(dirPath)
    const local = this.localFileSystem ?? (await this.detectFileSystem())
    const calls = local ? SYNC_CALLS : ASYNC_CALLS
    // No stat of the source first (one call per copy, on collectstatic's hot
    // path): link() and copyFile() report a missing source (ENOENT) and a
    // directory (EPERM for link, then EISDIR from the copy), both mapped to
    // FileNotFoundError naming it.
    if (req.link) {
      // A link is complete the moment it exists, so a free target needs no
      // temporary name: one call. A taken one goes the general way below.
      req.signal?.throwIfAborted()
      try {
        await calls.link(source, this.path(req.name))
        return req.name
      } catch (err) {
        const c = code(err) ?? ''
        if (c === 'ENOENT') throw new FileNotFoundError(from, { cause: err }) // the target's directory exists: the source went
        if (c !== 'EEXIST' && !NO_HARD_LINKS.has(c)) throw err
      }
    }
    const temp = path.join(dirPath, tempName())
    const copyBytes = () => copyFile(source, temp, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE)
    return this.publish(temp, req, calls, async () => {
      try {
        if (!req.link) await copyBytes()
        else {
          try {
            await calls.link(source, temp)
          } catch (err) {
            if (!NO_HARD_LINKS.has(code(err) ?? '')) throw err
            await copyBytes()
          }
        }
      } catch (err) {
        // The target's directory exists (made above), so a missing file is the source.
        throw this.mapError(err, 'copy', from)
      }
    })
  }

  /**
   * Creates a hidden temporary file beside the target.
   * @returns its path and open descriptor; nothing exists when it throws.
   */
  private async createTemp(dirPath: string, calls: FileCalls): Promise<[string, number]> {
    const mode = this.options.fileMode ?? 0o666
    const temp = path.join(dirPath, tempName())
    try {
      return [temp, await calls.create(temp, mode)]
    } catch (err) {
      // The directory was removed behind our back: make it again and retry
      // once (the body has not been read yet, so a stream is still whole).
      if (code(err) !== 'ENOENT' || !this.knownDirs.delete(dirPath)) throw err
      await this.makeDirs(dirPath)
      return [temp, await calls.create(temp, mode)]
    }
  }

  /** Writes the body into the temporary file and closes `fd`, whatever happens. */
  private async fill(fd: number, req: WriteRequest, calls: FileCalls): Promise<void> {
    const { fileMode } = this.options
    const { bytes } = req.source
    if (bytes) {
      try {
        if (fileMode !== undefined) await calls.fchmod(fd, fileMode) // not subject to umask
        await calls.writeAll(fd, bytes, req.signal)
      } finally {
        await calls.close(fd)
      }
      return
    }
    try {
      if (fileMode !== undefined) await calls.fchmod(fd, fileMode)
    } catch (err) {
      await calls.close(fd)
      throw err
    }
    await pipeline(req.source.stream, createWriteStream('', { fd })) // closes fd when done or failed
  }

  /**
   * Decides once, from the file system under `location`, whether calls are
   * synchronous (local disks) or go through the thread pool (network and
   * FUSE file systems, other platforms); see file-calls.ts.
   * @returns the decision (false while `location` does not exist yet).
   */
  private async detectFileSystem(): Promise<boolean> {
    const local = await onLocalFileSystem(this.location)
    if (local !== undefined && this.localFileSystem === undefined) this.localFileSystem = local
    return local ?? false
  }

  /** Publishes `temp` under a name nobody else has, retrying on lost races. */
  private async claim(temp: string, req: Pick<WriteRequest, 'name' | 'nextName'>, calls: FileCalls): Promise<string> {
    let name = req.name
    for (;;) {
      try {
        await calls.link(temp, this.path(name)) // fails with EEXIST if taken: atomic
        return name
      } catch (err) {
        if (code(err) === 'EEXIST') {
          name = await req.nextName()
          continue
        }
        if (NO_HARD_LINKS.has(code(err) ?? '')) return this.claimWithoutLinks(temp, name, req)
        throw err
      }
    }
  }

  /**
   * Fallback for file systems without hard links: reserve the name with an
   * exclusive create, then move the complete file over the empty placeholder.
   */
  private async claimWithoutLinks(temp: string, first: string, req: Pick<WriteRequest, 'nextName'>): Promise<string> {
    let name = first
    for (;;) {
      try {
        await (await open(this.path(name), fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY)).close()
      } catch (err) {
        if (code(err) !== 'EEXIST') throw err
        name = await req.nextName()
        continue
      }
      await rename(temp, this.path(name))
      return name
    }
  }

  /**
   * Makes `dirPath` and its missing parents.
   * @throws FileExistsError naming the file (a storage name) that stands where one of them must be.
   */
  private makeDirs(dirPath: string): Promise<void> {
    // Saves running at once into one new directory (collectstatic's many
    // writers) share one mkdir instead of each making it again: a recursive
    // mkdir of a directory that exists is two calls through the thread pool
    // (mkdir, EEXIST, stat), and hundreds of them on a fresh tree.
    let making = this.makingDirs.get(dirPath)
    if (!making) {
      making = this.makeDirsReporting(dirPath).finally(() => this.makingDirs.delete(dirPath))
      this.makingDirs.set(dirPath, making)
    }
    return making
  }

  private async makeDirsReporting(dirPath: string): Promise<void> {
    try {
      await this.makeDirsOnce(dirPath)
    } catch (err) {
      // mkdir reports a file in the way as EEXIST, ENOTDIR or (recursive, deeper down) ENOENT,
      // which would surface as a bare errno or as "file not found" from a save.
      const c = code(err)
      if (c !== 'EEXIST' && c !== 'ENOTDIR' && c !== 'ENOENT') throw err
      const blocker = await this.fileAmong(dirPath)
      if (blocker === undefined) throw err
      throw inTheWay(blocker, 'is a file, so it cannot be a directory', this.path(blocker), err)
    }
  }

  /** @returns the storage name of the first non-directory at `dirPath` or a parent of it under the root, if any. */
  private async fileAmong(dirPath: string): Promise<string | undefined> {
    // Bottom up: beneath a file nothing exists (ENOTDIR), so the first thing found is the one in the way.
    for (let p = dirPath; p.startsWith(this.root); p = path.dirname(p)) {
      // stat, not lstat: a link to a directory is a directory.
      const st = await stat(p).catch(() => undefined)
      if (st) return st.isDirectory() ? undefined : path.relative(this.location, p).split(path.sep).join('/')
    }
    return undefined
  }

  private async makeDirsOnce(dirPath: string): Promise<void> {
    const mode = this.options.directoryMode
    const options = { recursive: true, ...(mode !== undefined && { mode }) }
    const first = await mkdir(dirPath, options).catch(async (err: unknown) => {
      // Node's recursive mkdir reports some failures (EROFS among them) as ENOENT,
      // which would surface as "file not found" from a save. A plain mkdir of the
      // first missing level reports the real errno; if it succeeds, try once more.
      if (code(err) !== 'ENOENT') throw err
      let missing = dirPath
      while (
        path.dirname(missing) !== missing &&
        !(await lstat(path.dirname(missing)).then(
          () => true,
          () => false,
        ))
      ) {
        missing = path.dirname(missing)
      }
      await mkdir(missing, mode === undefined ? {} : { mode })
      await mkdir(dirPath, options)
      return missing
    })
    if (first && mode !== undefined) {
      // mkdir's mode is filtered by the umask; set it exactly, as Django does.
      for (let p = dirPath; p.length >= first.length; p = path.dirname(p)) await chmod(p, mode)
    }
    this.knownDirs.add(dirPath)
  }

  protected async _open(name: string, range: ByteRange): Promise<Readable> {
    // Open now so a missing file fails here, not later inside the stream.
    const handle = await open(this.path(name), 'r')
    try {
      if (!(await handle.stat()).isFile()) throw new FileNotFoundError(name)
    } catch (err) {
      await handle.close()
      throw err
    }
    return createReadStream('', { fd: handle, start: range.start, end: range.end })
  }

  protected override async _read(name: string): Promise<Uint8Array> {
    return readWhole(this.path(name), this.localFileSystem ?? (await this.detectFileSystem()))
  }

  protected async _delete(name: string): Promise<void> {
    try {
      await unlink(this.path(name))
    } catch (err) {
      if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') throw err
    }
  }

  protected override async _exists(name: string): Promise<boolean> {
    try {
      await lstat(this.path(name))
      return true
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return false
      throw err
    }
  }

  protected async _stat(name: string): Promise<FileStat> {
    const st = await stat(this.path(name))
    if (!st.isFile()) throw new FileNotFoundError(name)
    return { size: st.size, modified: st.mtime }
  }

  protected async _listdir(dir: string): Promise<DirectoryListing> {
    let entries
    try {
      entries = await readdir(this.path(dir), { withFileTypes: true })
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return { dirs: [], files: [] }
      throw err
    }
    const dirs: string[] = []
    const files: string[] = []
    for (const e of entries) {
      if (isTemp(e.name)) continue
      const isDir = e.isSymbolicLink() ? (await stat(path.join(this.path(dir), e.name)).catch(() => null))?.isDirectory() : e.isDirectory()
      ;(isDir ? dirs : files).push(e.name)
    }
    return { dirs: dirs.sort(), files: files.sort() }
  }

  /** @returns the directory, the `baseUrl` URLs start with, and `hmac` signing when a `signingSecret` is set. Never throws. */
  override async describe(): Promise<StorageDescription> {
    return { backend: this.constructor.name, location: this.location, baseUrl: this.baseUrl, signing: this.options.signingSecret ? 'hmac' : 'none' }
  }

  protected async _url(name: string, options: UrlOptions): Promise<string> {
    const { signingSecret, expiresIn, now } = this.options
    return signedStorageUrl(this.baseUrl + encodeUrlPath(name), name, options, { backend: 'FileSystemStorage', signingSecret, expiresIn, now })
  }
}

/**
 * Deletes the stages of `location` that a process which died on this host
 * left (`stage()`: a run killed before publishing), and its old copies
 * moved aside by `replace`; a location a crash left moved aside (killed
 * between the two renames) is put back first. Errors are ignored: this is
 * housekeeping, and a stage does not need it to work.
 */
async function recoverStages(location: string): Promise<void> {
  const parent = path.dirname(location)
  const base = path.basename(location)
  let names: string[]
  try {
    names = await readdir(parent)
  } catch {
    return
  }
  const left = (mark: string) =>
    names.filter((name) => {
      const prefix = `.${base}${mark}`
      if (!name.startsWith(prefix)) return false
      // `<host>-<pid>-<random>`; names of earlier versions (`<random>` only) are not ours to judge.
      const [host, pid, random] = name.slice(prefix.length).split('-')
      return host === HOST && random !== undefined && isDead(Number(pid))
    })
  for (const name of left(OLD_MARK)) {
    const old = path.join(parent, name)
    // Killed between the renames: the location is missing, and this is it.
    // Otherwise the stage took its place before the kill: the old copy is not needed.
    const missing = await lstat(location).then(
      () => false,
      (err: unknown) => code(err) === 'ENOENT',
    )
    if (missing) {
      try {
        await rename(old, location)
        continue
      } catch {
        // Someone made the location meanwhile: theirs stays, this copy goes.
      }
    }
    await rm(old, { recursive: true, force: true }).catch(() => {})
  }
  for (const name of left(STAGE_MARK)) await rm(path.join(parent, name), { recursive: true, force: true }).catch(() => {})
}
