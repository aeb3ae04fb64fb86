/**
 * `FieldFile`: the file behind one record's column (Django's `FieldFile`).
 * The column holds only the stored name; everything else is asked of the
 * field's storage.
 */
import type { Readable } from 'node:stream'
import type { Content } from '../content.js'
import { AbortedError, StorageError } from '../errors.js'
import type { ByteRange, FileStat, Storage, UrlOptions } from '../storage.js'
import { sniffType } from '../validators/sniff-type.js'
import { validateContent, type ValidatingStream } from '../validators/validating-stream.js'
import type { UploadFacts } from '../validators/validator.js'
import type { FileField } from './file-field.js'

/** Options for `FieldFile.save`. */
export interface FieldFileSaveOptions {
  /** The content type the client declared; validators check it against the bytes. It is never stored as such. */
  contentType?: string
  signal?: AbortSignal
  /** Delete the file this one replaces. Default: the field's `deleteOnReplace`. */
  deleteOld?: boolean
}

/** The file stored for one record. */
export class FieldFile<R extends object = Record<string, unknown>> {
  /** Facts about the last file saved through this object (size, detected type, dimensions). */
  facts: UploadFacts | undefined

  /** Made by `FileField.bind()`, which checks the column; this constructor checks nothing. Never throws. */
  constructor(
    readonly field: FileField<R>,
    readonly record: R,
    readonly column: string,
  ) {}

  /** The stored name, read live from the record's column; `null` when there is no file. */
  get name(): string | null {
    const v = (this.record as Record<string, unknown>)[this.column]
    return typeof v === 'string' && v !== '' ? v : null
  }

  protected setName(name: string | null): void {
    ;(this.record as Record<string, unknown>)[this.column] = name
  }

  /** The field's storage. @throws ConfigurationError for an unconfigured alias. */
  get storage(): Storage {
    return this.field.storage
  }

  private required(): string {
    const name = this.name
    if (name === null) throw new StorageError(`The '${this.column}' field has no file associated with it`, { code: 'ENOENT', context: { column: this.column } })
    return name
  }

  /** @returns the file's URL. @throws StorageError (`ENOENT`) when the record has no file. */
  url(options?: UrlOptions): Promise<string> {
    return Promise.resolve().then(() => this.storage.url(this.required(), options))
  }

  /** @returns the size in bytes. @throws StorageError (`ENOENT`) when there is no file or it is missing. */
  size(): Promise<number> {
    return Promise.resolve().then(() => this.storage.size(this.required()))
  }

  /** @returns metadata. @throws StorageError (`ENOENT`) when there is no file or it is missing. */
  stat(): Promise<FileStat> {
    return Promise.resolve().then(() => this.storage.stat(this.required()))
  }

  /** @returns a stream of the file or a byte range. @throws StorageError (`ENOENT`). */
  open(range?: ByteRange): Promise<Readable> {
    return Promise.resolve().then(() => this.storage.open(this.required(), range))
  }

  /** @returns the whole file. @throws StorageError (`ENOENT`). */
  read(): Promise<Uint8Array> {
    return Promise.resolve().then(() => this.storage.read(this.required()))
  }

  /** @returns whether the record names a file and the storage has it. @throws StorageError from the backend. */
  async exists(): Promise<boolean> {
    const name = this.name
    return name !== null && this.storage.exists(name)
  }

  /**
   * Validates and stores `content` under a name built from the field's
   * `uploadTo` and `filename`, then writes the stored name into the record.
   * Header rules decide before the storage is touched; size rules cut the
   * stream off; either way a refused file leaves nothing stored and the
   * record unchanged.
   * @returns the stored name.
   * @throws ValidationError listing every failed rule; SuspiciousFileOperationError for bad names;
   *   ConfigurationError for an unconfigured storage alias; AbortedError; StorageError from the backend.
   */
  async save(filename: string, content: Content, options: FieldFileSaveOptions = {}): Promise<string> {
    const field = this.field
    const storage = this.storage
    const target = field.generateFilename(this.record, filename)
    const checker = validateContent(content, [...field.validators, sniffType()], {
      filename,
      ...(options.contentType !== undefined && { contentType: options.contentType }),
    })
    let stored: { name: string; facts: UploadFacts }
    try {
      // Wait for the header verdict first: a refused file never reaches the
      // backend, and the backend learns the real content type up front. An
      // abort meanwhile must not wait for more bytes; once the save starts,
      // the storage attaches the signal to the body (the one place it is).
      await untilAborted(checker.ready, options.signal)
      stored = await this.store(storage, target, checker, options.signal)
    } catch (err) {
      checker.destroy()
      if (checker.validationError) throw checker.validationError
      if (options.signal?.aborted) throw new AbortedError(`Save of '${target}' aborted`, { cause: options.signal.reason })
      throw err
    }
    const previous = this.name
    this.facts = { ...stored.facts }
    this.setName(stored.name)
    this.onStored(this.facts)
    await this.retire(previous, options.deleteOld)
    return stored.name
  }

  /**
   * Deletes `previous`, the file a save replaced, when the field deletes
   * replaced files (`deleteOnReplace`, or `deleteOld` when given) and it is
   * not the name the record holds now. The one place this rule lives:
   * `save()` calls it, and `receiveUpload` calls it once a whole form is in.
   *
   * By then the new file is stored and the record names it: the save has
   * happened, and a failure to delete the old file must not make it look as
   * if it had not (a caller that then skips saving the record would leave the
   * new file unreferenced). So a failed delete is not thrown: it is emitted
   * as a `StowageWarning` (`process.emitWarning`, printed to stderr unless
   * the application listens for `'warning'`), naming the file left behind
   * (`stowage clean-media` finds it later).
   * Resolves once the file is deleted or the failure reported, at once when there is nothing to delete. Never rejects.
   */
  async retire(previous: string | null, deleteOld: boolean = this.field.deleteOnReplace): Promise<void> {
    if (!deleteOld || previous === null || previous === this.name) return
    try {
      await this.deleteStored(previous)
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      process.emitWarning(`'${previous}', replaced in the '${this.column}' field, could not be deleted and was left in storage: ${why}`, {
        type: 'StowageWarning',
        code: 'STOWAGE_REPLACED_NOT_DELETED',
        detail: 'The new file is stored and the record names it.',
      })
    }
  }

  /**
   * Writes validated content (`checker`, whose header has passed) to the
   * storage, as bytes when it was given in memory (`checker.content()`);
   * subclasses that transform uploads (images) override it.
   * @returns the stored name and the facts to record.
   */
  protected async store(
    storage: Storage,
    target: string,
    checker: ValidatingStream,
    signal: AbortSignal | undefined,
  ): Promise<{ name: string; facts: UploadFacts }> {
    const name = await storage.save(target, await checker.content(), {
      maxLength: this.field.maxLength,
      ...(checker.facts.type && { contentType: checker.facts.type.mime }),
      ...(signal && { signal }),
    })
    return { name, facts: checker.facts }
  }

  /**
   * Deletes a file this field stored (e.g. the one a new upload replaced),
   * with anything derived from it (an image's variants). Does not touch the record.
   * @throws StorageError from the backend.
   */
  async deleteStored(name: string): Promise<void> {
    await this.storage.delete(name)
  }

  /**
   * Points the record at `name` (or at no file) without touching the
   * storage, as assigning to a Django `FileField` does. Never throws.
   */
  assign(name: string | null): void {
    this.setName(name)
    this.facts = undefined
  }

  /** The record properties this file writes: its column, plus any a subclass adds. */
  protected columns(): string[] {
    return [this.column]
  }

  /**
   * Captures the record's columns for this file.
   * @returns a function that puts them back (used to undo a save when a later step fails). Never throws.
   */
  snapshot(): () => void {
    const rec = this.record as Record<string, unknown>
    const saved = this.columns().map((c) => [c, rec[c]] as const)
    return () => {
      for (const [c, v] of saved) rec[c] = v
      this.facts = undefined
    }
  }

  /** Hook for subclasses that record more columns (an image's width and height). */
  protected onStored(_facts: UploadFacts): void {}

  /** Hook for subclasses: the file was deleted. */
  protected onCleared(): void {}

  /**
   * Deletes the file (if any) and clears the record's column. Deleting when there is no file is not an error.
   * @throws StorageError from the backend; the column is left as it was then.
   */
  async delete(): Promise<void> {
    const name = this.name
    if (name !== null) await this.deleteStored(name)
    this.setName(null)
    this.onCleared()
  }

  /** @returns the stored name, or `''`: lets a `FieldFile` be used where a string is expected. Never throws. */
  toString(): string {
    return this.name ?? ''
  }

  /** @returns the stored name (or `null`), as the column holds it, for `JSON.stringify`. Never throws. */
  toJSON(): string | null {
    return this.name
  }
}

/**
 * Settles as `promise` does, or rejects with the signal's reason as soon as
 * `signal` fires, without waiting for `promise`.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
