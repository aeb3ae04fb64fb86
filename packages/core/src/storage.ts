/**
 * The storage contract and the one public pipeline every backend inherits.
 *
 * `BaseStorage` owns naming, path safety, abort handling and error wrapping
 * (as Django's `Storage.save()` and Flystorage's facade do); a backend
 * implements a handful of primitives that receive names already validated
 * and normalised, and never see a name that could escape the storage.
 */
import { addAbortSignal, type Readable } from 'node:stream'
import { MIMEType } from 'node:util'
import { debug } from './debug.js'
import { toSource, readAll, type Content, type ContentSource } from './content.js'
import { AbortedError, FileExistsError, FileNotFoundError, InvalidArgumentError, StorageError, SuspiciousFileOperationError } from './errors.js'
import { candidateNames, getValidFilename, overwriteName, randomSuffix, truncateFilename, type RandomSuffix } from './naming.js'
import { safeDir, safeName, splitName } from './paths.js'
import type { StorageDescription } from './storage-description.js'

/** Byte range for `open()`; `end` is inclusive, as in HTTP `Range` and `fs.createReadStream`. */
export interface ByteRange {
  start?: number
  end?: number
}

/** What `stat()` returns. */
export interface FileStat {
  size: number
  modified: Date
  contentType?: string
  etag?: string
}

/** Options for `url()`. */
export interface UrlOptions {
  /** Seconds the URL stays valid, for backends that sign URLs (private S3, signed local URLs). */
  expiresIn?: number
  /** Ask the server to send the file as an attachment with this file name. */
  download?: string
}

/** Options for `save()`. */
export interface SaveOptions {
  /** Longest name allowed (a database column's length); the root is truncated to fit. */
  maxLength?: number
  /**
   * MIME type to record with the file (S3 `Content-Type`): one type in
   * printable ASCII as the WHATWG parser reads it (`text/css; charset=utf-8`),
   * else `save()` and `copy()` throw InvalidArgumentError before any I/O.
   */
  contentType?: string
  /** Replace an existing file of that name instead of picking a new name. Defaults to the storage's `overwrite` option (false). */
  overwrite?: boolean
  /** Cancels the save; nothing is left behind. */
  signal?: AbortSignal
  /**
   * `Cache-Control` to store with this file. Backends that keep per-object
   * headers (S3) store it, unless their own configuration sets one (S3
   * `objectParameters` win); backends that do not (local disk, memory) ignore it.
   */
  cacheControl?: string
  /**
   * `Content-Encoding` to store with this file, whose bytes are already
   * encoded (a precompressed `.br`). Stored or ignored as `cacheControl` is.
   */
  contentEncoding?: string
  /**
   * Keep this file private where the backend makes files public by default
   * (S3 leaves out its `defaultAcl`). Ignored by backends without such a default.
   */
  private?: boolean
}

/** Options for `copy()`: those of `save()`, and whether the copy may share the source's bytes. */
export interface CopyOptions extends SaveOptions {
  /**
   * Let the copy share the source's bytes where the backend can (local
   * disk: a hard link, no bytes written) instead of being an independent
   * copy. Stowage never writes a stored file in place (every save replaces
   * the name), so a later save to either name leaves the other as it was;
   * but a program that edits the file in place outside Stowage changes both.
   * For files nobody edits, such as hashed static files. Default false.
   */
  link?: boolean
}

/** The result of `listdir()`: immediate sub-directories and files, by name, sorted. */
export interface DirectoryListing {
  dirs: string[]
  files: string[]
}

/**
 * The storage contract (public API, v1). Every method validates names before
 * any I/O and throws SuspiciousFileOperationError for an unsafe one; backend
 * failures are StorageError (or a subclass: PermissionDeniedError, ...).
 */
export interface Storage {
  /**
   * Saves `content` under `name`, or under a free variant of it.
   * @returns the name actually stored, which may differ from `name`.
   * @throws SuspiciousFileOperationError for unsafe names; InvalidArgumentError (`EINVAL`)
   *   for a bad option (a `contentType` that is not one ASCII MIME type, a header
   *   hint with a line break), before any I/O; AbortedError when `signal` fires;
   *   StorageError for backend failures. A failed save leaves nothing behind.
   */
  save(name: string, content: Content, options?: SaveOptions): Promise<string>
  /**
   * Opens a file for streaming, optionally a byte range (`end` inclusive).
   * @returns a stream of the file's (or the range's) bytes; a read that fails mid-stream errors with a StorageError.
   * @throws FileNotFoundError (`ENOENT`) when missing; InvalidArgumentError (`EINVAL`) for a
   *   range that is not non-negative integers with `end >= start`.
   */
  open(name: string, options?: ByteRange): Promise<Readable>
  /** @returns the whole file. @throws FileNotFoundError when missing. */
  read(name: string): Promise<Uint8Array>
  /**
   * Copies the stored file `from` to `to`, or to a free variant of `to`, with
   * the naming rules of `save()`. Optional for storages written before it;
   * `BaseStorage` has it (on disk a clone or kernel copy, or a hard link
   * with `link: true`; on S3 a server-side CopyObject; elsewhere the default
   * streams the bytes through this process).
   * @returns the name actually stored.
   * @throws FileNotFoundError (`ENOENT`, naming `from`) when `from` is missing;
   *   SuspiciousFileOperationError for unsafe names; InvalidArgumentError (`EINVAL`) for a
   *   bad option, as `save()`; AbortedError when `signal` fires;
   *   StorageError for backend failures. A failed copy leaves nothing behind.
   */
  copy?(from: string, to: string, options?: CopyOptions): Promise<string>
  /** Deletes a file; deleting a missing file is not an error. Resolves once it is gone. @throws StorageError for backend failures. */
  delete(name: string): Promise<void>
  /** @returns whether a file of that name exists. @throws StorageError for backend failures. */
  exists(name: string): Promise<boolean>
  /** @returns the size in bytes. @throws FileNotFoundError when missing. */
  size(name: string): Promise<number>
  /** @returns size, modification time and, where the backend keeps them, content type and etag. @throws FileNotFoundError. */
  stat(name: string): Promise<FileStat>
  /**
   * @returns the sub-directories and files directly under `path` (`''` is the root); a missing directory lists empty.
   * @throws SuspiciousFileOperationError for an unsafe `path`.
   */
  listdir(path: string): Promise<DirectoryListing>
  /**
   * @returns a URL for the file, percent-encoded; signed and expiring where the backend supports it.
   * @throws InvalidArgumentError (`EINVAL`) for an `expiresIn` that is not a positive number of seconds
   *   (or is longer than the backend can sign); UnsupportedOperationError (`EUNSUPPORTED`) for
   *   `expiresIn` or `download` on a storage that cannot sign (FileSystemStorage or MemoryStorage without `signingSecret`).
   */
  url(name: string, options?: UrlOptions): Promise<string>
  /** @returns Django's `get_valid_filename` of `name`. @throws SuspiciousFileOperationError when nothing usable is left. */
  getValidName(name: string): string
  /**
   * @returns `name` if free, else `root_XXXXXXX.ext`, truncated to `maxLength`.
   * @throws SuspiciousFileOperationError when no name can fit in `maxLength`.
   */
  getAvailableName(name: string, options?: { maxLength?: number }): Promise<string>
  /**
   * @returns `filename` with its file part cleaned by `getValidName` and cut to 255 UTF-8 bytes keeping its extension.
   * @throws SuspiciousFileOperationError on traversal.
   */
  generateFilename(filename: string): string
  /**
   * @returns the backend, where its files are, the prefix of its plain URLs (when it has one)
   *   and how it signs URLs: what callers need without reading a backend's options.
   *   Optional for storages written before it; `BaseStorage` has it. Reads no file; `BaseStorage`'s
   *   never throws, a backend's may reject when it asks its client for a setting (S3's region).
   */
  describe?(): Promise<StorageDescription>
  /**
   * Starts a staged fill of this storage while it holds no file: writes go
   * to a private place and appear together, in one step, with
   * `Stage.publish()`, or never (`Stage.discard()`, or a crash). Batch jobs
   * (`collectstatic` into an empty static root) use it to make a first
   * deploy all-or-nothing, and so that each file in a place nobody reads
   * needs no temporary name of its own. Optional: backends that cannot swap
   * a whole tree in one step leave it out (so do S3 and memory).
   * With `replace: true` the storage may hold files: `publish()` then
   * replaces all of them with the stage's (`collectstatic --clear`).
   * @returns a stage, or `undefined` when this storage already holds files (and
   *   `replace` is not set) or cannot be staged here (write in place then).
   * @throws InvalidArgumentError (`EINVAL`) when `replace` is not a boolean, before any I/O.
   */
  stage?(options?: StageOptions): Promise<Stage | undefined>
}

/** Options for `Storage.stage()`. */
export interface StageOptions {
  /** Stage even when the storage holds files: publishing replaces everything in it. Default false. */
  replace?: boolean
}

/** A staged fill of an empty storage (`Storage.stage()`). */
export interface Stage {
  /**
   * Where to write: a storage like the staged one, whose files nobody else
   * sees until `publish()`. Files written to it may appear under their
   * names while partial, so a failed write must not be published: discard.
   */
  readonly storage: Storage
  /**
   * Makes everything written to `storage` the staged storage's content, in one step
   * (with `replace`, what it held before is gone). Resolves once they are visible.
   * @throws StorageError when the staged storage stopped being empty meanwhile (without `replace`: the stage is
   *   discarded, nothing of it appears) or the file system refuses; the staged storage is unchanged then.
   */
  publish(): Promise<void>
  /** Deletes everything written to `storage`; the staged storage is unchanged. Resolves once done. Never throws. */
  discard(): Promise<void>
}

/** Options every backend accepts. */
export interface BaseStorageOptions {
  /** Replace existing files on `save()` instead of choosing a new name (Django's `allow_overwrite`). Default false. */
  overwrite?: boolean
  /** Random suffix source for taken names; inject a deterministic one in tests. */
  randomSuffix?: RandomSuffix
}

/** The per-file header options of `SaveOptions`, as a backend primitive receives them (values checked). */
export interface ObjectHeaders {
  /** `SaveOptions.cacheControl`: one line of header text. */
  cacheControl?: string
  /** `SaveOptions.contentEncoding`: one line of header text. */
  contentEncoding?: string
  /** `SaveOptions.private`. */
  private?: boolean
}

/** A save as the backend primitive sees it. */
export interface WriteRequest extends ObjectHeaders {
  /** Validated, normalised name to claim first. */
  name: string
  source: ContentSource
  contentType?: string
  /** When false the backend must claim `name` atomically and never replace an existing file. */
  overwrite: boolean
  signal?: AbortSignal
  /**
   * Called by the backend when its exclusive claim of a name failed because
   * someone else took it first; returns the next free candidate.
   * @throws FileExistsError (`EEXIST`) after `MAX_CLAIM_ATTEMPTS` lost claims;
   *   SuspiciousFileOperationError when no name can fit in `maxLength`.
   */
  nextName(): Promise<string>
}

/** A copy as the backend primitive sees it: a `WriteRequest` whose bytes come from a stored file. */
export interface CopyRequest extends Omit<WriteRequest, 'source'> {
  /** Share the source's bytes where the backend can (`CopyOptions.link`). */
  link: boolean
}

/** How many times a save retries after losing a race for a name before giving up. */
export const MAX_CLAIM_ATTEMPTS = 100

/**
 * Base class for backends. Subclasses implement the `_` primitives; names
 * they receive are already safe and normalised. The public methods are
 * documented on `Storage` (returns and throws), whose comments editors show
 * for them; the pipeline maps every backend error with `mapError`.
 */
export abstract class BaseStorage implements Storage {
  protected readonly allowOverwrite: boolean
  protected readonly randomSuffix: RandomSuffix
  /**
   * True when `_write` claims names atomically (exclusive create, conditional
   * PUT) and reports a taken name by calling `nextName()`. `save()` then skips
   * the existence check before writing. Leave false for a backend that cannot
   * claim atomically: `save()` checks first, as Django does.
   */
  protected readonly atomicClaims: boolean = false

  /** Reads `overwrite` (default false) and `randomSuffix`. Never throws. */
  constructor(options: BaseStorageOptions = {}) {
    this.allowOverwrite = options.overwrite ?? false
    this.randomSuffix = options.randomSuffix ?? randomSuffix
  }

  // ---- primitives -------------------------------------------------------

  /**
   * Writes `req.source` under `req.name` (or, after losing a race, under
   * `await req.nextName()`) and returns the name written. Must leave nothing
   * behind when it fails, and must not replace an existing file unless
   * `req.overwrite`.
   */
  protected abstract _write(req: WriteRequest): Promise<string>
  /** Streams a file or byte range; throws `FileNotFoundError` when missing, before returning. */
  protected abstract _open(name: string, range: ByteRange): Promise<Readable>
  /** Deletes a file; silent when missing. */
  protected abstract _delete(name: string): Promise<void>
  /** Metadata; throws `FileNotFoundError` when missing. */
  protected abstract _stat(name: string): Promise<FileStat>
  /** Lists a directory (`''` is the root). */
  protected abstract _listdir(dir: string): Promise<DirectoryListing>
  /** Builds the URL of a file. */
  protected abstract _url(name: string, options: UrlOptions): Promise<string>

  /**
   * Copies the stored file `from` (safe, normalised) as `_write` writes:
   * under `req.name` or a name from `req.nextName()`, never replacing a file
   * unless `req.overwrite`. Throws `FileNotFoundError` when `from` is
   * missing. The default streams `from` into `_write`; backends override it
   * when they can copy without moving the bytes through this process.
   */
  protected async _copy(from: string, req: CopyRequest): Promise<string> {
    let stream: Readable
    try {
      stream = await this._open(from, {})
    } catch (err) {
      throw this.mapError(err, 'copy', from) // names the missing source, not the target
    }
    if (req.signal) addAbortSignal(req.signal, stream)
    try {
      // Assigned, not spread: an object made by spreading gets a hidden class of
      // its own (see save()); `req` is this copy's own, made fresh by claimAndWrite.
      return await this._write(Object.assign(req, { source: { stream } }))
    } finally {
      stream.destroy()
    }
  }

  /** Existence check; backends override when they have something cheaper than `stat`. */
  protected async _exists(name: string): Promise<boolean> {
    try {
      await this._stat(name)
      return true
    } catch (err) {
      if (err instanceof FileNotFoundError) return false
      throw err
    }
  }

  /**
   * Reads a whole file; throws `FileNotFoundError` when missing. The default
   * collects `_open()`; backends override it when they can read in one call
   * (`fs.readFile`, one GET), which skips the stream machinery.
   */
  protected async _read(name: string): Promise<Uint8Array> {
    return readAll(await this._open(name, {}))
  }

  /**
   * Maps a backend-specific error (errno, SDK exception) to the Stowage
   * family. The default keeps Stowage errors and wraps anything else.
   */
  protected mapError(err: unknown, operation: string, name: string): StorageError {
    if (err instanceof StorageError) return err
    const message = err instanceof Error ? err.message : String(err)
    return new StorageError(`${operation} '${name}' failed: ${message}`, { cause: err, context: { operation, name } })
  }

  // ---- the public pipeline ---------------------------------------------

  private async call<T>(operation: string, name: string, fn: () => Promise<T>): Promise<T> {
    const started = debug.enabled ? performance.now() : 0
    try {
      const result = await fn()
      if (debug.enabled) this.trace(operation, name, started, 'ok')
      return result
    } catch (err) {
      const mapped = this.mapError(err, operation, name)
      if (debug.enabled) this.trace(operation, name, started, mapped.code)
      throw mapped
    }
  }

  /** One line on the `NODE_DEBUG=stowage` channel: which backend did what to which name, how it ended, how long it took. */
  private trace(operation: string, name: string, started: number, outcome: string): void {
    debug('%s %s %j %s %sms', this.constructor.name, operation, name, outcome, (performance.now() - started).toFixed(1))
  }

  async save(name: string, content: Content, options: SaveOptions = {}): Promise<string> {
    const clean = safeName(name)
    if (options.signal?.aborted) throw new AbortedError(`Save of '${clean}' aborted`, { cause: options.signal.reason })
    const source = toSource(content)
    // Destroying the body on abort makes the backend's write fail, and each
    // backend already cleans up after a failed write: one path for both.
    if (options.signal) addAbortSignal(options.signal, source.stream)
    try {
      return await this.claimAndWrite('save', clean, clean, options, (req) => this._write(Object.assign(req, { source })))
    } catch (err) {
      source.stream.destroy()
      throw err
    }
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<string> {
    const source = safeName(from)
    const clean = safeName(to)
    if (options.signal?.aborted) throw new AbortedError(`Copy of '${source}' to '${clean}' aborted`, { cause: options.signal.reason })
    return this.claimAndWrite('copy', clean, `${source} -> ${clean}`, options, (req) => this._copy(source, Object.assign(req, { link: options.link ?? false })))
  }

  /**
   * The naming half of `save()` and `copy()`: the first name to claim (or
   * the name itself when overwriting), the next after each lost claim, the
   * backend's answer checked again; errors mapped, aborts reported as such.
   */
  private async claimAndWrite(
    operation: 'save' | 'copy',
    clean: string,
    label: string,
    options: SaveOptions,
    write: (req: Omit<WriteRequest, 'source'>) => Promise<string>,
  ): Promise<string> {
    const { signal, maxLength, contentType } = options
    const overwrite = options.overwrite ?? this.allowOverwrite
    const started = debug.enabled ? performance.now() : 0
    const aborted = () => new AbortedError(`${operation === 'save' ? 'Save' : 'Copy'} of '${label}' aborted`, { cause: signal!.reason })
    try {
      const headers = objectHeaders(options)
      const names = this.nameSource(clean, maxLength)
      const first = overwrite ? overwriteName(clean, maxLength) : await names.first()
      let attempts = 0
      // Written out, not spread: V8 gives an object made by spreading a hidden
      // class of its own, about 4 µs of CPU per save (a fifth of Stowage's own
      // CPU in a small save), and reads of it slower in every backend.
      const stored = await write({
        name: first,
        overwrite,
        contentType,
        signal,
        cacheControl: headers.cacheControl,
        contentEncoding: headers.contentEncoding,
        private: headers.private,
        nextName: async () => {
          if (++attempts >= MAX_CLAIM_ATTEMPTS) {
            throw new FileExistsError(clean, { context: { attempts } })
          }
          return names.next()
        },
      })
      // As Django does: the backend may have changed the name; check it again.
      const saved = safeName(stored)
      if (debug.enabled) this.trace(operation, saved === clean ? label : `${label} -> ${saved}`, started, `ok (${attempts} lost claims)`)
      return saved
    } catch (err) {
      const mapped = signal?.aborted ? aborted() : this.mapError(err, operation, clean)
      if (debug.enabled) this.trace(operation, label, started, mapped.code)
      throw mapped
    }
  }

  /**
   * Where a non-overwriting save gets its names: the first to claim, and the
   * next after each lost claim. Every name has passed `safeName` before the
   * backend sees it, whoever proposed it.
   */
  private nameSource(clean: string, maxLength: number | undefined): { first(): Promise<string>; next(): Promise<string> } {
    if (this.getAvailableName !== BaseStorage.prototype.getAvailableName) {
      // A subclass decides names (Django's recipes: delete the old file and
      // keep the name, or add a uuid); it is user code, so check its answer.
      const ask = async () => safeName(await this.getAvailableName(clean, { maxLength }))
      return { first: ask, next: ask }
    }
    if (this.atomicClaims) {
      // A backend whose claim is atomic learns about a taken name from the
      // claim itself, so asking first would only add a round trip per save.
      // candidateNames checks each name it yields.
      const unchecked = candidateNames(clean, { random: this.randomSuffix, maxLength })
      const take = async () => unchecked.next().value
      return { first: take, next: take }
    }
    return {
      first: () => this.findAvailable(clean, maxLength, false),
      next: () => this.findAvailable(clean, maxLength, true),
    }
  }

  private async findAvailable(name: string, maxLength: number | undefined, skipOriginal: boolean): Promise<string> {
    for (const candidate of candidateNames(name, { random: this.randomSuffix, skipOriginal, maxLength })) {
      if (!(await this._exists(candidate))) return candidate
    }
    throw new Error('unreachable') // candidateNames never ends
  }

  async open(name: string, options: ByteRange = {}): Promise<Readable> {
    const clean = safeName(name)
    const range = checkRange(options)
    const stream = await this.call('open', clean, () => this._open(clean, range))
    return mapStreamErrors(stream, (err) => this.mapError(err, 'open', clean))
  }

  async read(name: string): Promise<Uint8Array> {
    const clean = safeName(name)
    return this.call('read', clean, () => this._read(clean))
  }

  async delete(name: string): Promise<void> {
    const clean = safeName(name)
    return this.call('delete', clean, () => this._delete(clean))
  }

  async exists(name: string): Promise<boolean> {
    const clean = safeName(name)
    return this.call('exists', clean, () => this._exists(clean))
  }

  async size(name: string): Promise<number> {
    return (await this.stat(name)).size
  }

  async stat(name: string): Promise<FileStat> {
    const clean = safeName(name)
    return this.call('stat', clean, () => this._stat(clean))
  }

  async listdir(path: string): Promise<DirectoryListing> {
    const clean = safeDir(path)
    return this.call('listdir', clean, () => this._listdir(clean))
  }

  async url(name: string, options: UrlOptions = {}): Promise<string> {
    const clean = safeName(name)
    if (options.expiresIn !== undefined && !(Number.isFinite(options.expiresIn) && options.expiresIn > 0)) {
      throw new InvalidArgumentError(`expiresIn must be a positive number of seconds, got ${options.expiresIn}`, { argument: 'expiresIn' })
    }
    return this.call('url', clean, () => this._url(clean, options))
  }

  /** @returns a description from the class name; backends override it with where their files are and how URLs are made. Never throws. */
  async describe(): Promise<StorageDescription> {
    return { backend: this.constructor.name, location: '', signing: 'none' }
  }

  getValidName(name: string): string {
    return getValidFilename(name)
  }

  /**
   * @returns `name` if free, else `root_XXXXXXX.ext`, truncated to `maxLength`
   *   (with the storage's `overwrite` option: `name` truncated to `maxLength`).
   *   The result has passed `safeName`.
   * @throws SuspiciousFileOperationError for an unsafe name, or when no name can fit.
   *
   * Subclasses may override it, as Django's custom storages do (delete the
   * old file and return the name; add a uuid): `save()` then asks the
   * override for the first name and again after each lost claim instead of
   * generating candidates itself, and refuses any answer that fails
   * `safeName` before the backend is called. Saves with `overwrite` keep
   * their name and do not ask. Without an override `save()` skips this
   * method and, on backends with atomic claims, the existence checks too.
   */
  async getAvailableName(name: string, options: { maxLength?: number } = {}): Promise<string> {
    const clean = safeName(name)
    if (this.allowOverwrite) return overwriteName(clean, options.maxLength)
    return this.call('getAvailableName', clean, () => this.findAvailable(clean, options.maxLength, false))
  }

  /**
   * @returns `filename` with its file part cleaned by `getValidName` and, when
   *   longer than `MAX_SEGMENT_BYTES`, cut to fit keeping its extension (as
   *   Django's `UploadedFile` cuts client file names to 255 characters).
   * @throws SuspiciousFileOperationError on traversal or an otherwise unsafe result.
   */
  generateFilename(filename: string): string {
    // Django turns backslashes into separators here (browsers used to send
    // `C:\\path\\file.txt`); the result is then held to the strict rules.
    const [dir, base] = splitName(String(filename).replace(/\\/g, '/'))
    if (dir.split('/').includes('..')) {
      throw new SuspiciousFileOperationError(`Detected path traversal attempt in '${dir}'`, { context: { name: filename } })
    }
    // Clients send long names (a page title saved as a PDF); refusing them
    // would refuse the upload, while the directory part is the developer's.
    const file = truncateFilename(this.getValidName(base))
    return safeName(dir ? `${dir}/${file}` : file)
  }
}

/**
 * Makes a stream fail with Stowage errors: a read that breaks mid-body (a
 * reset socket, a truncated response) then rejects with a `StorageError`
 * like every other failure. Every stream error goes through `destroy()`,
 * which hands it to `_destroy`'s callback before it is emitted, so mapping
 * there costs nothing per chunk (a mapping PassThrough would copy every chunk).
 */
function mapStreamErrors(stream: Readable, map: (err: unknown) => StorageError): Readable {
  const destroy = stream._destroy
  stream._destroy = function (this: Readable, err: Error | null, callback: (error?: Error | null) => void) {
    destroy.call(this, err, (e) => callback(e ? map(e) : e))
  }
  return stream
}

/**
 * The header options of a save or copy, checked before any I/O: a value a
 * backend sends as a header must be one line of text (a line break would
 * let the caller's input add headers of its own).
 * @returns the options present.
 * @throws InvalidArgumentError naming the option for anything else.
 */
function objectHeaders(options: SaveOptions): ObjectHeaders {
  const headers: ObjectHeaders = {}
  // Checked here, not by each backend: S3 failed on a control character with
  // a bare ESTORAGE and on non-ASCII with a signature error blamed on the
  // credentials, while memory stored the value and serveMedia then failed on it.
  if (options.contentType !== undefined && !isMimeType(options.contentType)) {
    throw new InvalidArgumentError(`contentType must be one MIME type in ASCII, got ${JSON.stringify(options.contentType)}`, { argument: 'contentType' })
  }
  for (const argument of ['cacheControl', 'contentEncoding'] as const) {
    const value: unknown = options[argument]
    if (value === undefined) continue
    if (!isHeaderText(value)) {
      throw new InvalidArgumentError(`${argument} must be one line of header text, got ${JSON.stringify(value)}`, { argument })
    }
    headers[argument] = value
  }
  if (options.private !== undefined) {
    if (typeof options.private !== 'boolean')
      throw new InvalidArgumentError(`private must be a boolean, got ${JSON.stringify(options.private)}`, { argument: 'private' })
    headers.private = options.private
  }
  return headers
}

/** Whether `value` is one MIME type (WHATWG parser: no list, no empty type or subtype) in printable ASCII, as S3 signs and stores headers. */
function isMimeType(value: unknown): boolean {
  if (typeof value !== 'string') return false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false
  }
  try {
    new MIMEType(value)
    return true
  } catch {
    return false
  }
}

/**
 * Whether `value` is a non-blank header value: visible ASCII, spaces and tabs,
 * nothing else. Not HTTP's obs-text (bytes 0x80-0xFF): Cache-Control and
 * Content-Encoding are ASCII tokens, and S3 signs header values as ASCII.
 */
function isHeaderText(value: unknown): value is string {
  if (typeof value !== 'string' || value.trim() === '') return false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false
  }
  return true
}

function checkRange(range: ByteRange): ByteRange {
  const { start, end } = range
  const bad = (v: number | undefined) => v !== undefined && !(Number.isSafeInteger(v) && v >= 0)
  if (bad(start) || bad(end) || (start !== undefined && end !== undefined && end < start)) {
    throw new InvalidArgumentError(`Invalid byte range ${JSON.stringify(range)}`, { argument: 'range' })
  }
  return range
}
