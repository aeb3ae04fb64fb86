/**
 * `fileField()`: Django's `FileField` without an ORM. A field describes where
 * uploads go (`uploadTo`), which storage holds them, how long a stored name
 * may be (the database column's length) and which validators guard them.
 * Binding it to a record — a class instance or a plain row from any
 * database — gives a `FieldFile` that reads and writes the column holding
 * the stored name.
 */
import { storages } from '../config.js'
import { ConfigurationError, InvalidArgumentError } from '../errors.js'
import type { Storage } from '../storage.js'
import type { Validator } from '../validators/validator.js'
import { FieldFile } from './field-file.js'
import { strftime } from './strftime.js'

/** Where a field's files live: an instance, an alias from the configuration, or a function returning one. */
export type StorageRef = Storage | string | (() => Storage)

/** `uploadTo`: a strftime pattern (`'avatars/%Y/%m/'`) or a function of the record and the client's file name. */
export type UploadTo<R> = string | ((record: R, filename: string) => string)

/**
 * The properties of a record that can hold a stored name (`string`,
 * `string | null`, optional strings); any name for an open record type
 * (`Record<string, unknown>`). `bind(user, 'id')` on a numeric id is a type error.
 */
export type NameColumn<R> = string extends keyof R ? string : { [K in keyof R]-?: [R[K]] extends [string | null | undefined] ? K : never }[keyof R] & string

/**
 * Refuses, before anything is stored, a column holding something other than
 * a name (an id, a date): the name would overwrite it. A column the record
 * does not have yet is fine (a new record).
 * @returns `column`.
 * @throws ConfigurationError when no column is given; InvalidArgumentError for a column that holds something else.
 */
export function checkColumn(record: object, column: string | undefined): string {
  if (!column) throw new ConfigurationError('is required to bind a field to a record', { key: 'column' })
  const value = (record as Record<string, unknown>)[column]
  if (value !== undefined && value !== null && typeof value !== 'string') {
    const kind = typeof value
    throw new InvalidArgumentError(`the '${column}' column holds ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}, not a stored file name`, { argument: 'column' })
  }
  return column
}

/** Options for `fileField`. */
export interface FileFieldOptions<R extends object = Record<string, unknown>> {
  /** Directory pattern or function; the stored name is built from it (Django's `upload_to`). Default `''`. */
  uploadTo?: UploadTo<R>
  /** Default: the `default` alias. */
  storage?: StorageRef
  /** Longest stored name, i.e. the column's length; longer names are truncated. Default 100, as Django. */
  maxLength?: number
  /** Run on the bytes received, before anything is stored. */
  validators?: readonly Validator[]
  /** The record property that holds the stored name, when `bind()` is not told. */
  column?: string
  /** Delete the previous file when a new one replaces it. Default false (Django keeps it). */
  deleteOnReplace?: boolean
  /** Clock for `uploadTo` patterns; inject in tests. */
  now?: () => Date
}

/** A file field; `bind()` it to records. */
export class FileField<R extends object = Record<string, unknown>> {
  readonly uploadTo: UploadTo<R>
  readonly maxLength: number
  readonly validators: readonly Validator[]
  readonly column: string | undefined
  readonly deleteOnReplace: boolean
  private readonly storageRef: StorageRef
  private readonly now: () => Date

  /** @throws ConfigurationError for a bad `maxLength`, `uploadTo` or `storage`. */
  constructor(options: FileFieldOptions<R> = {}) {
    this.uploadTo = options.uploadTo ?? ''
    this.maxLength = options.maxLength ?? 100
    this.validators = options.validators ?? []
    this.column = options.column
    this.deleteOnReplace = options.deleteOnReplace ?? false
    this.storageRef = options.storage ?? 'default'
    this.now = options.now ?? (() => new Date())
    if (!Number.isSafeInteger(this.maxLength) || this.maxLength < 1) {
      throw new ConfigurationError(`must be a positive integer, got ${options.maxLength}`, { key: 'maxLength' })
    }
    if (typeof this.uploadTo !== 'string' && typeof this.uploadTo !== 'function') {
      throw new ConfigurationError('must be a strftime pattern or a function', { key: 'uploadTo' })
    }
    if (!['string', 'function', 'object'].includes(typeof this.storageRef) || this.storageRef === null) {
      throw new ConfigurationError('must be a storage, an alias or a function returning a storage', { key: 'storage' })
    }
  }

  /**
   * @returns the storage, resolving an alias or function on each call (so a
   * reconfigured registry is honoured).
   * @throws ConfigurationError when the alias is not configured.
   */
  get storage(): Storage {
    const ref = this.storageRef
    if (typeof ref === 'string') return storages.get(ref)
    if (typeof ref === 'function') return ref()
    return ref
  }

  /**
   * Django's `generate_filename`: `uploadTo` applied to the client's file
   * name (only its last path segment is kept), then cleaned by the storage.
   * @returns the name to save under (the storage may still pick a free variant).
   * @throws SuspiciousFileOperationError for names that escape or are empty; InvalidArgumentError
   *   (`EINVAL`) when an `uploadTo` function returns something other than a string; ConfigurationError
   *   when the field's storage alias is not configured.
   */
  generateFilename(record: R, filename: string): string {
    const base = String(filename).replace(/\\/g, '/').split('/').pop() ?? ''
    const name = typeof this.uploadTo === 'function' ? this.uploadTo(record, base) : joinPath(strftime(this.uploadTo, this.now()), base)
    if (typeof name !== 'string') throw new InvalidArgumentError(`uploadTo must return a string, got ${typeof name}`, { argument: 'uploadTo' })
    return this.storage.generateFilename(name)
  }

  /**
   * @param column the record's property holding the stored name; with a typed
   *   field (`fileField<User>()`), only the properties of `User` that hold a string (or `null`).
   * @returns a `FieldFile` reading and writing `record[column]`.
   * @throws ConfigurationError when neither `column` nor the field's `column` option is given;
   *   InvalidArgumentError (`EINVAL`) when the column holds something other than a name (a number, a
   *   date). A column the record does not have yet is accepted (a new record).
   */
  bind(record: R, column: NameColumn<R> | undefined = this.column as NameColumn<R> | undefined): FieldFile<R> {
    return new FieldFile(this, record, checkColumn(record, column))
  }

  /**
   * A property descriptor in the style of Django's field descriptors, for
   * `Object.defineProperty(User.prototype, 'avatar', field.descriptor('avatarName'))`:
   * reading `user.avatar` gives the `FieldFile` (the same object each time),
   * assigning a name or `null` to it points the record at another file
   * without touching the storage.
   * @returns the descriptor. Never throws; reading the property throws what `bind()` does.
   */
  descriptor(column: NameColumn<R>): PropertyDescriptor & ThisType<R> {
    const files = new WeakMap<object, FieldFile<R>>()
    const fileOf = (record: R): FieldFile<R> => {
      let file = files.get(record)
      if (!file) files.set(record, (file = this.bind(record, column)))
      return file
    }
    return {
      configurable: true,
      enumerable: false,
      get(this: R) {
        return fileOf(this)
      },
      set(this: R, value: string | null | FieldFile<R>) {
        fileOf(this).assign(value instanceof FieldFile ? value.name : value)
      },
    }
  }
}

function joinPath(dir: string, file: string): string {
  if (!dir) return file
  return dir.endsWith('/') ? dir + file : `${dir}/${file}`
}

/**
 * Declares a file field (Django's `FileField`).
 * @returns a `FileField` to `bind(record, column)`.
 * @throws ConfigurationError for bad options.
 */
export function fileField<R extends object = Record<string, unknown>>(options: FileFieldOptions<R> = {}): FileField<R> {
  return new FileField(options)
}
