/**
 * Translation of AWS SDK failures into the Stowage error family, so callers
 * branch on `code` and never on an SDK exception name. The SDK error is kept
 * as `cause`.
 */
import { AbortedError, ConfigurationError, envName, FileNotFoundError, PermissionDeniedError, StorageError } from '@stowage/core'

/** The fields of an SDK service exception we look at. */
interface SdkErrorLike {
  name?: string
  Code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
}

const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'AccountProblem',
])

/**
 * A ConfigurationError about one option of an S3 storage: keyed by the option
 * alone, or, for a storage built from configuration (`alias`), by
 * `storages.<alias>.options.<option>` and its `STOWAGE_*` variable.
 */
export function optionError(
  message: string,
  option: string,
  alias: string | undefined,
  extra: { cause?: unknown; context?: Record<string, unknown> } = {},
): ConfigurationError {
  if (alias === undefined) return new ConfigurationError(message, { key: option, ...extra })
  return new ConfigurationError(message, { key: `storages.${alias}.options.${option}`, env: envName(alias, option), ...extra })
}

/**
 * True when the SDK gave up before sending anything because no credentials
 * were found (its `CredentialsProviderError`, at the end of the chain).
 */
export function isMissingCredentials(err: unknown): boolean {
  const e = err as SdkErrorLike | undefined
  return e?.name === 'CredentialsProviderError' && e.$metadata?.httpStatusCode === undefined
}

/** Where the SDK's default chain looks, in order, for the message when it found nothing. */
const CREDENTIAL_SOURCES =
  'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the default profile in ~/.aws/credentials, ' +
  'AWS_WEB_IDENTITY_TOKEN_FILE, and the container or instance role'

/** @returns the HTTP status of an SDK error, if it has one. */
export function httpStatus(err: unknown): number | undefined {
  return (err as SdkErrorLike | undefined)?.$metadata?.httpStatusCode
}

/** @returns the S3 error code (`NoSuchKey`, `PreconditionFailed`, ...) of an SDK error. */
export function s3Code(err: unknown): string | undefined {
  const e = err as SdkErrorLike | undefined
  return e?.Code ?? e?.name
}

/** True when a conditional write lost: the key already exists. */
export function isPreconditionFailed(err: unknown): boolean {
  // 409 ConditionalRequestConflict: AWS's answer when a concurrent conditional write is in flight.
  return httpStatus(err) === 412 || s3Code(err) === 'PreconditionFailed' || s3Code(err) === 'ConditionalRequestConflict'
}

/** True when the key (not the bucket) is missing. */
export function isNotFound(err: unknown): boolean {
  const code = s3Code(err)
  if (code === 'NoSuchBucket') return false
  return code === 'NoSuchKey' || code === 'NotFound' || httpStatus(err) === 404
}

/**
 * Maps an SDK error for `operation` on `name` (the storage name, not the key).
 * @param alias the configuration alias of the storage, so configuration errors name its key and variable.
 * @returns a StorageError: FileNotFoundError (ENOENT) for a missing key,
 *   PermissionDeniedError (EACCES) for credentials or a policy S3 refused,
 *   ConfigurationError (ECONFIG) for a missing bucket, for no credentials at all
 *   (nothing was sent; key `credentials`) or no region, AbortedError (EABORTED)
 *   for a cancelled request, else a plain StorageError (`ESTORAGE`) with the S3 code in `context`.
 *   A StorageError is returned as it is. Never throws.
 */
export function mapS3Error(err: unknown, operation: string, name: string, bucket: string, alias?: string): StorageError {
  if (err instanceof StorageError) return err
  const status = httpStatus(err)
  // Answers without a body (HEAD) carry no S3 code; the SDK names them 'Unknown'.
  const raw = s3Code(err)
  const code = raw === 'Unknown' || raw === 'UnknownError' ? undefined : raw
  const context = { operation, name, bucket, s3Code: code, httpStatus: status }
  if (code === 'NoSuchBucket') return optionError(`'${bucket}' does not exist`, 'bucket', alias, { cause: err, context })
  if (isMissingCredentials(err)) {
    return optionError(
      `no credentials found, so nothing was sent to S3 (${operation} '${name}'). The SDK looked for ${CREDENTIAL_SOURCES}; ` +
        'set one of them, or give the credentials option',
      'credentials',
      alias,
      { cause: err, context },
    )
  }
  if (status === undefined && /region is missing/i.test(String((err as SdkErrorLike | undefined)?.message))) {
    return optionError('is required: the SDK found no region (AWS_REGION, or region in ~/.aws/config)', 'region', alias, { cause: err, context })
  }
  if (isNotFound(err)) return new FileNotFoundError(name, { cause: err, context })
  if (status === 403 || (code !== undefined && DENIED.has(code))) {
    return new PermissionDeniedError(`${operation} '${name}' refused by S3 (${code ?? status}): check the credentials and the bucket policy`, {
      cause: err,
      context,
    })
  }
  if (code === 'AbortError') return new AbortedError(`${operation} '${name}' aborted`, { cause: err, context })
  const message = (err as SdkErrorLike | undefined)?.message || code || String(err)
  return new StorageError(`${operation} '${name}' failed: ${message}${status ? ` (HTTP ${status})` : ''}`, { cause: err, context })
}
