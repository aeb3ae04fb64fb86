/**
 * `imageField()`: a file field that only takes images whose header it can
 * read, within dimension limits (a decompression-bomb cap by default), and
 * that records width and height (Django's `ImageField` with
 * `width_field` / `height_field`).
 */
import { ConfigurationError, StorageError } from '../errors.js'
import { imageDimensions, type ImageDimensionsOptions } from '../validators/image-dimensions.js'
import { MAX_HEAD_BYTES } from '../validators/validating-stream.js'
import { readImageSize } from '../validators/read-image-size.js'
import type { UploadFacts } from '../validators/validator.js'
import { FieldFile } from './field-file.js'
import { FileField, type FileFieldOptions } from './file-field.js'

/** Options for `imageField`. */
export interface ImageFieldOptions<R extends object> extends FileFieldOptions<R> {
  /** Record property that receives the width on save (Django's `width_field`). */
  widthColumn?: string
  /** Record property that receives the height on save (Django's `height_field`). */
  heightColumn?: string
  /** Dimension limits, used unless `validators` already holds an `imageDimensions`. Default: the bomb cap only. */
  dimensions?: ImageDimensionsOptions
}

/** An image field; `bind()` gives `ImageFieldFile`s. */
export class ImageField<R extends object = Record<string, unknown>> extends FileField<R> {
  readonly widthColumn: string | undefined
  readonly heightColumn: string | undefined

  /** @throws ConfigurationError for bad options. */
  constructor(options: ImageFieldOptions<R> = {}) {
    const validators = options.validators ?? []
    const hasDimensions = validators.some((v) => v.rule === 'imageDimensions')
    super({ ...options, validators: hasDimensions ? validators : [...validators, imageDimensions(options.dimensions)] })
    this.widthColumn = options.widthColumn
    this.heightColumn = options.heightColumn
  }

  override bind(record: R, column: string | undefined = this.column): ImageFieldFile<R> {
    if (!column) throw new ConfigurationError('is required to bind a field to a record', { key: 'column' })
    return new ImageFieldFile(this, record, column)
  }
}

/** An image stored for one record, with its dimensions. */
export class ImageFieldFile<R extends object = Record<string, unknown>> extends FieldFile<R> {
  private known: { width: number; height: number } | undefined

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

  override assign(name: string | null): void {
    super.assign(name)
    this.known = undefined
  }

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
 * @throws ConfigurationError for bad options.
 */
export function imageField<R extends object = Record<string, unknown>>(options: ImageFieldOptions<R> = {}): ImageField<R> {
  return new ImageField(options)
}
