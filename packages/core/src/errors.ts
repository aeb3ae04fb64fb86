/**
 * One error family for every backend. Callers branch on `code`, which is
 * stable across releases and identical on every backend ("not found" is
 * `ENOENT` on disk, in memory and on S3 alike); `cause` keeps the original
 * error (an `fs` errno, an AWS SDK exception) for logs.
 */

/** Extra facts attached to an error: the storage name, the config key, ... */
export type ErrorContext = Record<string, unknown>

/** Options accepted by every error constructor. */
export interface StorageErrorOptions {
  cause?: unknown
  context?: ErrorContext
}

/** Base class of every error Stowage throws on purpose. `code` is stable. */
export class StorageError extends Error {
  /** Stable machine-readable code, e.g. `ENOENT`. */
  readonly code: string
  /** Facts about the failed call (storage name, key, alias). */
  readonly context: ErrorContext

  /** `code` defaults to `ESTORAGE`; `cause` is passed to `Error`. Never throws. */
  constructor(message: string, options: StorageErrorOptions & { code?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = options.code ?? 'ESTORAGE'
    this.context = options.context ?? {}
  }
}

/** The named file does not exist. `code: 'ENOENT'` on every backend. */
export class FileNotFoundError extends StorageError {
  /** `name` is quoted in the message and kept as `context.name`. Never throws. */
  constructor(name: string, options: StorageErrorOptions = {}) {
    super(`File not found: '${name}'`, { ...options, code: 'ENOENT', context: { name, ...options.context } })
  }
}

/**
 * A name that cannot be taken: `save()` lost the claim of every candidate
 * (`MAX_CLAIM_ATTEMPTS` in a row), or a one-shot operation ran twice (a
 * direct upload confirmed again). `code: 'EEXIST'`.
 */
export class FileExistsError extends StorageError {
  /** `name` is quoted in the message and kept as `context.name`. Never throws. */
  constructor(name: string, options: StorageErrorOptions = {}) {
    super(`File already exists: '${name}'`, { ...options, code: 'EEXIST', context: { name, ...options.context } })
  }
}

/** A name that could escape the storage (traversal, absolute path, NUL, ...). `code: 'ESUSPICIOUS'`. */
export class SuspiciousFileOperationError extends StorageError {
  /** Never throws. */
  constructor(message: string, options: StorageErrorOptions = {}) {
    super(message, { ...options, code: 'ESUSPICIOUS' })
  }
}

/** One failed rule of an upload validation. */
export interface ValidationFailure {
  /** The validator that refused, e.g. `maxSize`, `allowedTypes`. */
  rule: string
  message: string
  /** Extra facts: limit, detected type, ... */
  params?: Record<string, unknown>
}

/** An upload was refused; `failures` lists every rule that failed. `code: 'EVALIDATION'`. */
export class ValidationError extends StorageError {
  readonly failures: ValidationFailure[]

  /** The message joins the failures' messages with `; ` (`Validation failed` when there are none). Never throws. */
  constructor(failures: ValidationFailure[], options: StorageErrorOptions = {}) {
    super(failures.map((f) => f.message).join('; ') || 'Validation failed', { ...options, code: 'EVALIDATION' })
    this.failures = failures
  }
}

/**
 * Bad configuration; `key` names the offending setting, e.g.
 * `storages.default.options.location`, and `env` the environment variable
 * that sets it (`STOWAGE_DEFAULT_LOCATION`), so either can be fixed.
 * `code: 'ECONFIG'`.
 */
export class ConfigurationError extends StorageError {
  readonly key: string | undefined
  /** The environment variable that sets `key`, when there is one. */
  readonly env: string | undefined
  /** The message without the key, for re-raising under a longer key. */
  readonly detail: string

  /** The message is prefixed with `key (env)`, or whichever of the two is given. Never throws. */
  constructor(message: string, options: StorageErrorOptions & { key?: string; env?: string } = {}) {
    const where = options.key && options.env ? `${options.key} (${options.env})` : (options.key ?? options.env)
    super(where ? `${where}: ${message}` : message, {
      ...options,
      code: 'ECONFIG',
      context: { key: options.key, ...(options.env && { env: options.env }), ...options.context },
    })
    this.key = options.key
    this.env = options.env
    this.detail = message
  }
}

/** The backend cannot do this (e.g. `listdir` on a store without listing). `code: 'EUNSUPPORTED'`. */
export class UnsupportedOperationError extends StorageError {
  /** Never throws. */
  constructor(message: string, options: StorageErrorOptions = {}) {
    super(message, { ...options, code: 'EUNSUPPORTED' })
  }
}

/** A save or read was cancelled through its `AbortSignal`. Nothing was stored. `code: 'EABORTED'`. */
export class AbortedError extends StorageError {
  /** Never throws. */
  constructor(message = 'The operation was aborted', options: StorageErrorOptions = {}) {
    super(message, { ...options, code: 'EABORTED' })
  }
}

/**
 * A call's own argument is out of range or malformed (an `expiresIn` over
 * 7 days, a negative byte range, an empty type list). `code: 'EINVAL'`;
 * `context.argument` names the argument. A programming error, not bad input
 * from a user: it is thrown before any I/O.
 */
export class InvalidArgumentError extends StorageError {
  /** `argument` is kept as `context.argument`. Never throws. */
  constructor(message: string, options: StorageErrorOptions & { argument?: string } = {}) {
    super(message, { ...options, code: 'EINVAL', context: { argument: options.argument, ...options.context } })
  }
}

/** Permission denied by the backend (file mode, bucket policy, bad credentials). `code: 'EACCES'`. */
export class PermissionDeniedError extends StorageError {
  /** Never throws. */
  constructor(message: string, options: StorageErrorOptions = {}) {
    super(message, { ...options, code: 'EACCES' })
  }
}

/** @returns true when `err` is a `StorageError` and, when `code` is given, has that code. Never throws. */
export function isStorageError(err: unknown, code?: string): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code)
}
