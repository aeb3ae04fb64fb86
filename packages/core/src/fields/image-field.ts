/**
 * `imageField()`: a file field that only takes images whose header it can
 * read, within dimension limits (a decompression-bomb cap by default), and
 * that records width and height (Django's `ImageField` with
 * `width_field` / `height_field`). Given a `processor` (`@stowage/images`),
 * it also strips metadata, applies orientation and keeps variants.
 */
import { addAbortSignal } from 'node:stream'
import { ConfigurationError, StorageError } from '../errors.js'
import type { Storage, UrlOptions } from '../storage.js'
import { imageDimensions, type ImageDimensionsOptions } from '../validators/image-dimensions.js'
import { MAX_HEAD_BYTES, type ValidatingStream } from '../validators/validating-stream.js'
import { readImageSize } from '../validators/read-image-size.js'
import type { UploadFacts } from '../validators/validator.js'
import { FieldFile } from './field-file.js'
import { checkColumn, FileField, type FileFieldOptions, type NameColumn } from './file-field.js'
import type { ImageProcessor } from './image-processor.js'

/** Options for `imageField`. */
export interface ImageFieldOptions<R extends object> extends FileFieldOptions<R> {
  /** Record property that receives the width on save (Django's `width_field`). */
  widthColumn?: string
  /** Record property that receives the height on save (Django's `height_field`). */
  heightColumn?: string
  /** Dimension limits, used unless `validators` already holds an `imageDimensions`. Default: the bomb cap only. */
  dimensions?: ImageDimensionsOptions
  /**
   * Processes uploads before they are stored and keeps their variants, e.g.
   * `images({ variants: {...} })` from `@stowage/images`. Default: none, the
   * upload is stored as sent.
   */
  processor?: ImageProcessor
}

/** An image field; `bind()` gives `ImageFieldFile`s. */
export class ImageField<R extends object = Record<string, unknown>> extends FileField<R> {
  readonly widthColumn: string | undefined
  readonly heightColumn: string | undefined
  readonly processor: ImageProcessor | undefined

  /**
   * @throws ConfigurationError for bad options (as `FileField`, or a `processor` without `store`);
   *   InvalidArgumentError (`EINVAL`) for a `dimensions` bound that is not a positive integer.
   */
  constructor(options: ImageFieldOptions<R> = {}) {
    const validators = options.validators ?? []
    const hasDimensions = validators.some((v) => v.rule === 'imageDimensions')
    super({ ...options, validators: hasDimensions ? validators : [...validators, imageDimensions(options.dimensions)] })
    this.widthColumn = options.widthColumn
    this.heightColumn = options.heightColumn
    this.processor = options.processor
    if (this.processor !== undefined && typeof this.processor?.store !== 'function') {
      throw new ConfigurationError('must be an image processor (e.g. images() from @stowage/images)', { key: 'processor' })
    }
  }

  /**
   * @returns an `ImageFieldFile` reading and writing `record[column]` (and the width and height columns).
   * @throws as `FileField.bind()`: ConfigurationError without a column, InvalidArgumentError for one holding something else.
   */
  override bind(record: R, column: NameColumn<R> | undefined = this.column as NameColumn<R> | undefined): ImageFieldFile<R> {
    return new ImageFieldFile(this, record, checkColumn(record, column))
  }
}

/** An image stored for one record, with its dimensions. */
export class ImageFieldFile<R extends object = Record<string, unknown>> extends FieldFile<R> {
  private known: { width: number; height: number } | undefined

  /** Made by `ImageField.bind()`; checks nothing. Never throws. */
  constructor(
    override readonly field: ImageField<R>,
    record: R,
    column: string,
  ) {
    super(field, record, column)
  }

  private get row(): Record<string, unknown> {
    return this.record as Record<string, unknown>
  }

  protected override columns(): string[] {
    return [this.column, ...[this.field.widthColumn, this.field.heightColumn].filter((c): c is string => !!c)]
  }

  /** Points the record at `name` (or at no file) and forgets known dimensions; the width and height columns are left alone. Never throws. */
  override assign(name: string | null): void {
    super.assign(name)
    this.known = undefined
  }

  /** @returns a function that puts back the name, width and height columns. Never throws. */
  override snapshot(): () => void {
    const restore = super.snapshot()
    return () => {
      restore()
      this.known = undefined
    }
  }

  /** Width in pixels, when known without I/O (just saved, or kept in `widthColumn`). */
  get width(): number | undefined {
    const v = this.field.widthColumn ? this.row[this.field.widthColumn] : undefined
    return typeof v === 'number' ? v : this.known?.width
  }

  /** Height in pixels, when known without I/O (just saved, or kept in `heightColumn`). */
  get height(): number | undefined {
    const v = this.field.heightColumn ? this.row[this.field.heightColumn] : undefined
    return typeof v === 'number' ? v : this.known?.height
  }

  /**
   * @returns width and height, reading only the stored file's header when they are not known already.
   * @throws StorageError (`ENOENT`) when there is no file; StorageError `EINVAL` when the header is unreadable.
   */
  async dimensions(): Promise<{ width: number; height: number }> {
    const { width, height } = this
    if (width !== undefined && height !== undefined) return { width, height }
    const stream = await this.open()
    const chunks: Buffer[] = []
    let size: ReturnType<typeof readImageSize> = 'more'
    try {
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer)
        size = readImageSize(Buffer.concat(chunks))
        if (size !== 'more' || chunks.reduce((n, c) => n + c.length, 0) >= MAX_HEAD_BYTES) break
      }
    } finally {
      stream.destroy()
    }
    if (size === undefined || size === 'more') {
      throw new StorageError(`Cannot read the dimensions of '${this.name}'`, { code: 'EINVAL', context: { name: this.name } })
    }
    this.known = { width: size.width, height: size.height }
    return this.known
  }

  protected override async store(
    storage: Storage,
    target: string,
    checker: ValidatingStream,
    signal: AbortSignal | undefined,
  ): Promise<{ name: string; facts: UploadFacts }> {
    const processor = this.field.processor
    if (!processor) return super.store(storage, target, checker, signal)
    // The processor reads the upload itself before any storage sees it: an
    // abort must end that read (the storage attaches the signal only to what it is given).
    if (signal) addAbortSignal(signal, checker)
    return processor.store({ storage, name: target, content: checker, facts: checker.facts, maxLength: this.field.maxLength, ...(signal && { signal }) })
  }

  /** Deletes the stored image `name` and every variant derived from it. @throws StorageError from the backend. */
  override async deleteStored(name: string): Promise<void> {
    // Variants first: an original left without them can regenerate them, variants without an original are orphans.
    await this.field.processor?.deleteDerived(this.storage, name)
    await super.deleteStored(name)
  }

  /**
   * @returns the URL of a variant declared on the field's processor: the
   *   stored variant's URL for an eager one, a signed URL that generates it
   *   on first request for a lazy one (expiring with `expiresIn`).
   * @throws StorageError (`ENOENT`) when the record has no file; ConfigurationError
   *   when the field has no processor or the processor no such variant;
   *   InvalidArgumentError for `options` the processor cannot honour.
   */
  async variantUrl(variant: string, options?: UrlOptions): Promise<string> {
    const processor = this.field.processor
    if (!processor) throw new ConfigurationError('is needed for variants (e.g. images() from @stowage/images)', { key: 'processor' })
    const name = this.name
    if (name === null) throw new StorageError(`The '${this.column}' field has no file associated with it`, { code: 'ENOENT', context: { column: this.column } })
    return processor.variantUrl(this.storage, name, variant, options)
  }

  protected override onStored(facts: UploadFacts): void {
    this.known = facts.width !== undefined && facts.height !== undefined ? { width: facts.width, height: facts.height } : undefined
    if (this.field.widthColumn) this.row[this.field.widthColumn] = facts.width ?? null
    if (this.field.heightColumn) this.row[this.field.heightColumn] = facts.height ?? null
  }

  protected override onCleared(): void {
    this.onStored({ size: 0 })
  }
}

/**
 * Declares an image field (Django's `ImageField`).
 * @returns an `ImageField` to `bind(record, column)`.
 * @throws ConfigurationError for bad options; InvalidArgumentError (`EINVAL`) for a bad `dimensions` bound.
 */
export function imageField<R extends object = Record<string, unknown>>(options: ImageFieldOptions<R> = {}): ImageField<R> {
  return new ImageField(options)
}
