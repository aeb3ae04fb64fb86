/**
 * The server side of `@stowage/browser`'s `upload()`: endpoints that sign,
 * resume, complete, cancel and confirm direct uploads into one field, so the
 * field's `uploadTo`, validators and `maxLength` apply exactly as they do to
 * a server upload.
 *
 * - On S3 (a storage with `presignPut` and `createMultipartUpload`) the
 *   browser sends the bytes to the bucket: one presigned PUT, or a multipart
 *   upload above `multipartThreshold`, into a pending key that
 *   `confirmUpload` validates and promotes.
 * - On any other storage (local disk, memory) the browser PUTs to a URL of
 *   this handler, HMAC-signed with `secret`, expiring, bound to the declared
 *   size, and fillable once; the bytes land in a pending name of the storage
 *   and `confirm` moves them through the field's validators to their final
 *   name. The browser code is the same either way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable, Transform } from 'node:stream'
import {
  checkOptionNames,
  checkOptionValues,
  ConfigurationError,
  detectType,
  FileExistsError,
  MIN_SECRET_LENGTH,
  newPendingUpload,
  parsePendingUpload,
  PENDING_PREFIX,
  pendingMarker,
  InvalidArgumentError,
  ImageField,
  isPendingId,
  safeName,
  signUrl,
  sizeFailures,
  StorageError,
  SuspiciousFileOperationError,
  ValidationError,
  verifySignedUrl,
  type FileField,
  type ValidationFailure,
  type NameColumn,
  type OptionKind,
  type Storage,
} from '@stowage/core'
import { errorBody, errorStatus } from './http-errors.js'
import { essence } from './media-types.js'

/** Options for `directUploads`. */
export interface DirectUploadsOptions<R extends object> {
  /** URL path where the handler is mounted, e.g. `/uploads/avatar`: the endpoints are `<basePath>/sign`, `/parts`, `/complete`, `/abort`, `/confirm`. */
  basePath: string
  /** HMAC key for the upload URLs of storages that cannot presign (local disk); at least 16 characters. */
  secret?: string
  /** Files larger than this go up in parts (S3 only). Default 64 MiB; an integer from 5 MiB to 5 GiB (S3's largest single PUT). */
  multipartThreshold?: number
  /** Part size of multipart uploads (S3 only). Default: the storage's; an integer from 5 MiB to 5 GiB (S3's part limits). */
  partSize?: number
  /** Seconds each signed URL stays valid. Default 600; an integer from 1 to 604800 (7 days, SigV4's limit). */
  expiresIn?: number
  /** The record `uploadTo` and `confirm` see for a request. Default: an empty object. */
  record?: (req: IncomingMessage) => R | Promise<R>
  /** What the `confirm` endpoint answers (default: the confirmed file). Throw a `StorageError` to refuse. */
  onConfirm?: (file: ConfirmedFile, req: IncomingMessage) => unknown
  /** Where local uploads wait for confirmation. Default: the field's storage, under `.stowage-pending/`. */
  pendingStorage?: Storage
  /** Clock (ms) for URL expiry; inject in tests. */
  now?: () => number
}

/** A confirmed direct upload. */
export interface ConfirmedFile {
  /** The stored name: keep it (`confirm` with a record has written it into the record). */
  name: string
  size: number
  contentType?: string
  width?: number
  height?: number
}

/** What `sign` answers: one request, or a multipart upload. */
export type SignedUpload =
  | { upload: string; name: string; method: 'PUT'; url: string; headers: Record<string, string> }
  | { upload: string; name: string; multipart: { uploadId: string; partSize: number; partCount: number; parts: { partNumber: number; url: string }[] } }

/** The endpoints, as functions and as one request handler. */
export interface DirectUploads<R extends object> {
  /** A `node:http` handler that is also Express middleware (calls `next()` for paths it does not own). */
  handler: (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void
  /**
   * Signs an upload of `filename` (`size` bytes).
   * @returns one presigned (or HMAC-signed) PUT, or a multipart upload past `multipartThreshold` on a presigning storage.
   * @throws ValidationError when the size breaks the field's rules; SuspiciousFileOperationError for an unsafe name;
   *   InvalidArgumentError (`EINVAL`, argument `secret`) on a storage that cannot presign when there is no `secret`
   *   (a short one is refused by `directUploads` itself).
   */
  sign(input: { filename: string; size: number; type?: string }, record?: R): Promise<SignedUpload>
  /**
   * The parts a multipart upload has, and fresh URLs for the others. `file`
   * is the file's `size`, held to the field's rules as `sign` holds it: each
   * URL signs its part's length, so what is sent cannot exceed the size the
   * field allows. The part size is the one the upload began with where the
   * server shows it (else this helper's `partSize`), never the client's word.
   * @returns the parts the server has (number and size), a URL for each missing part, and the part size and count the URLs follow.
   * @throws ValidationError for a size the field refuses; InvalidArgumentError (`argument: 'storage'`)
   *   when the field's storage cannot presign; FileNotFoundError when the upload was completed or aborted.
   */
  parts(
    upload: string,
    uploadId: string,
    file: { size: number },
  ): Promise<{ parts: { partNumber: number; size: number }[]; urls: { partNumber: number; url: string }[]; partSize: number; partCount: number }>
  /**
   * Assembles a multipart upload. @returns its size.
   * @throws StorageError (`EINCOMPLETE`) when parts are missing; InvalidArgumentError (`argument: 'storage'`)
   *   when the field's storage cannot presign.
   */
  complete(upload: string, uploadId: string, expected?: { partCount?: number; size?: number }): Promise<{ size: number }>
  /**
   * Cancels an upload and deletes what it sent; resolves once it is gone.
   * @throws SuspiciousFileOperationError for a token that is not a pending upload; StorageError from the backend.
   */
  abort(upload: string, uploadId?: string): Promise<void>
  /**
   * Validates the upload with the field's rules and stores it under a free
   * name; with a record, writes the name (and an image's dimensions) into it.
   * One-shot: a second confirmation is `FileExistsError`.
   * @returns the stored name, size, type and (for images) dimensions.
   * @throws ValidationError; FileNotFoundError (nothing uploaded); FileExistsError; SuspiciousFileOperationError (a foreign token).
   */
  confirm(upload: string, record?: R): Promise<ConfirmedFile>
  /**
   * Deletes local pending uploads older than `olderThan` seconds (default one day; S3: use `cleanupPendingUploads`),
   * and confirmation markers older than that and than `expiresIn`: while an upload URL is valid, its marker is
   * what refuses it a second body and a second confirmation.
   * @returns how many. @throws StorageError when a delete fails (listing and stat failures are skipped).
   */
  cleanup(options?: { olderThan?: number }): Promise<number>
}

/** What this module asks of an `S3Storage`, structurally (no dependency on `@stowage/s3`). */
interface PresigningStorage extends Storage {
  presignPut(
    name: string,
    options?: { contentType?: string; size?: number; expiresIn?: number },
  ): Promise<{ upload: string; name: string; url: string; headers: Record<string, string> }>
  createMultipartUpload(
    name: string,
    options: { size: number; partSize?: number; expiresIn?: number },
  ): Promise<{ upload: string; name: string; uploadId: string; partSize: number; partCount: number; parts: { partNumber: number; url: string }[] }>
  resumeMultipartUpload(
    upload: string,
    uploadId: string,
    options: { size: number; partSize?: number; expiresIn?: number },
  ): Promise<{ parts: { partNumber: number; size: number }[]; urls: { partNumber: number; url: string }[]; partSize: number; partCount: number }>
  completeMultipartUpload(upload: string, uploadId: string, options?: { partCount?: number; size?: number }): Promise<{ size: number }>
  abortUpload(upload: string, uploadId?: string): Promise<void>
  confirmUpload(
    upload: string,
    options: { validators?: readonly unknown[]; maxLength?: number; name?: string },
  ): Promise<{ name: string; size: number; contentType?: string; width?: number; height?: number }>
}

function presigns(storage: Storage): storage is PresigningStorage {
  const s = storage as Partial<PresigningStorage>
  return typeof s.presignPut === 'function' && typeof s.createMultipartUpload === 'function' && typeof s.confirmUpload === 'function'
}

/** Largest JSON body an endpoint reads. */
const MAX_JSON_BYTES = 64 * 1024
const MIB = 1024 * 1024
// S3 protocol limits, stated here because @stowage/http does not depend on
// @stowage/s3 (whose options.ts holds the same numbers for S3Storage's options).
/** S3's smallest part but the last. */
const MIN_PART_SIZE = 5 * MIB
/** S3's largest part, and its largest single PUT. */
const MAX_PART_SIZE = 5 * 1024 * MIB
/** SigV4 presigned URLs live at most 7 days. */
const MAX_EXPIRES_IN = 7 * 24 * 3600

/** Every option `directUploads` takes, with its kind; anything else is refused. */
const OPTION_KINDS: { readonly [K in keyof DirectUploadsOptions<object>]-?: OptionKind } = {
  basePath: 'string',
  secret: 'secret',
  multipartThreshold: 'integer',
  partSize: 'integer',
  expiresIn: 'integer',
  record: 'code',
  onConfirm: 'code',
  pendingStorage: 'code',
  now: 'code',
}

/**
 * Checks `directUploads`' options once, when the helper is made: a bad one
 * would otherwise fail only at the first `sign` (as the storage's
 * `InvalidArgumentError`, a 500 to the browser), or never (a misspelt key,
 * a part size local disk has no use for yet).
 * @throws ConfigurationError naming the first bad key.
 */
function checkOptions(options: DirectUploadsOptions<object>): void {
  if (!options || typeof options !== 'object') {
    throw new ConfigurationError("is required: the URL path the handler is mounted at, e.g. '/uploads/avatar'", { key: 'basePath' })
  }
  checkOptionNames(options, Object.keys(OPTION_KINDS), 'directUploads', {
    signingSecret: "the HMAC key is 'secret'",
    maxSize: "size limits are the field's validators (maxSize)",
  })
  checkOptionValues(options, OPTION_KINDS)
  const bad = (key: string, message: string): never => {
    throw new ConfigurationError(message, { key })
  }
  if (typeof options.basePath !== 'string') bad('basePath', "is required: the URL path the handler is mounted at, e.g. '/uploads/avatar'")
  if (options.secret !== undefined && options.secret.length < MIN_SECRET_LENGTH) {
    bad('secret', `must be at least ${MIN_SECRET_LENGTH} characters (got ${options.secret.length})`)
  }
  const between = (key: 'multipartThreshold' | 'partSize' | 'expiresIn', min: number, max: number, why: string) => {
    const value = options[key]
    if (value !== undefined && (value < min || value > max)) bad(key, `must be an integer from ${min} to ${max} (${why}), got ${value}`)
  }
  between('multipartThreshold', MIN_PART_SIZE, MAX_PART_SIZE, "5 MiB to 5 GiB: S3's largest single PUT")
  between('partSize', MIN_PART_SIZE, MAX_PART_SIZE, "5 MiB to 5 GiB: S3's part limits")
  between('expiresIn', 1, MAX_EXPIRES_IN, "seconds, at most 7 days: SigV4's limit")
  for (const key of ['record', 'onConfirm', 'now'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') bad(key, `must be a function, got ${typeof options[key]}`)
  }
  const pending = options.pendingStorage as Partial<Storage> | undefined
  if (pending !== undefined && !(typeof pending === 'object' && pending !== null && typeof pending.save === 'function' && typeof pending.open === 'function')) {
    bad('pendingStorage', 'must be a storage (an object with save and open)')
  }
}

/**
 * Direct-upload endpoints for one field.
 * @returns the handler and the same operations as functions.
 * @throws ConfigurationError naming the key when an option is unknown or out of range: `basePath` not a
 *   string, `secret` shorter than 16 characters, `multipartThreshold` or `partSize` not an integer from
 *   5 MiB to 5 GiB, `expiresIn` not an integer from 1 to 604800 seconds, `record`, `onConfirm` or `now`
 *   not a function, `pendingStorage` not a storage. A missing `secret` is found by `sign()`, since the
 *   field's storage (an alias or function) may be known only then.
 */
export function directUploads<R extends object>(field: FileField<R>, options: DirectUploadsOptions<R>): DirectUploads<R> {
  checkOptions(options as DirectUploadsOptions<object>)
  let base = options.basePath
  while (base.endsWith('/')) base = base.slice(0, -1)
  const threshold = options.multipartThreshold ?? 64 * MIB
  const expiresIn = options.expiresIn ?? 600
  const now = options.now ?? Date.now
  const pendingStorage = () => options.pendingStorage ?? field.storage
  const recordOf = async (req?: IncomingMessage): Promise<R> => (req && options.record ? options.record(req) : ({} as R))

  /** The declared size against the field's size rules: an impossible upload is refused before a byte is sent. */
  function checkDeclared(size: number): void {
    if (!(Number.isSafeInteger(size) && size >= 0)) throw new ValidationError([{ rule: 'size', message: 'size must be a non-negative integer' }])
    // As a stream asks them: a rule that throws is a failure ('Could not check: ...'), not a 500.
    const failures = sizeFailures(field.validators, size, true)
    // An image processor reads at most its maxBytes of a server upload: a direct one is held to it too.
    const processorLimit = processorFailure(field, size)
    if (processorLimit) failures.push(processorLimit)
    if (failures.length) throw new ValidationError(failures)
  }

  const api: Omit<DirectUploads<R>, 'handler'> = {
    async sign({ filename, size, type }, record = {} as R) {
      checkDeclared(size)
      const name = field.generateFilename(record, String(filename ?? ''))
      const storage = field.storage
      if (presigns(storage)) {
        if (size > threshold) {
          const {
            upload,
            name: planned,
            uploadId,
            partSize,
            partCount,
            parts,
          } = await storage.createMultipartUpload(name, { size, partSize: options.partSize, expiresIn })
          return { upload, name: planned, multipart: { uploadId, partSize, partCount, parts } }
        }
        // The declared size, checked above, is signed: the URL takes no other body.
        const put = await storage.presignPut(name, { expiresIn, size })
        return { upload: put.upload, name: put.name, method: 'PUT', url: put.url, headers: put.headers }
      }
      if (!options.secret) throw new InvalidArgumentError('directUploads needs a secret for a storage that cannot presign', { argument: 'secret' })
      const { upload, id, name: clean } = newPendingUpload(name)
      const path = `${base}/put/${id}/${size}/${clean.split('/').map(encodeURIComponent).join('/')}`
      const url = signUrl(path, { secret: options.secret, expiresIn, now })
      const headers: Record<string, string> = type ? { 'Content-Type': String(type) } : {}
      return { upload, name: clean, method: 'PUT', url, headers }
    },

    async parts(upload, uploadId, { size } = {} as { size: number }) {
      const storage = requirePresigning(field.storage)
      // The size is the client's word again: held to the field's rules as at signing, since
      // the URLs sign each part's length from it. Fresh URLs: the first ones may have expired.
      checkDeclared(size)
      const resumed = await storage.resumeMultipartUpload(upload, uploadId, { size, partSize: options.partSize, expiresIn })
      const { partSize, partCount, urls } = resumed
      return { parts: resumed.parts.map(({ partNumber, size }) => ({ partNumber, size })), urls, partSize, partCount }
    },

    async complete(upload, uploadId, expected = {}) {
      return requirePresigning(field.storage).completeMultipartUpload(upload, uploadId, expected)
    },

    async abort(upload, uploadId) {
      const storage = field.storage
      if (presigns(storage)) return storage.abortUpload(upload, uploadId)
      const { id } = parseLocalToken(upload)
      await pendingStorage().delete(upload)
      // Nothing can be put or confirmed under this id any more.
      await claim(pendingStorage(), pendingMarker(id)).catch(() => undefined)
    },

    async confirm(upload, record) {
      const storage = field.storage
      let file: ConfirmedFile
      if (presigns(storage)) {
        // Stored where this field's uploadTo puts the file's name (the token's last segment), as a
        // local upload is: a token signed through another field's endpoint must not land in that field's folder.
        const name = field.generateFilename(record ?? ({} as R), String(upload))
        const done = await storage.confirmUpload(upload, { validators: field.validators, maxLength: field.maxLength, name })
        file = { name: done.name, size: done.size, contentType: done.contentType, width: done.width, height: done.height }
        // The promoted object holds the client's bytes, EXIF and all: an image
        // processor must see them as it sees a server upload.
        if (field instanceof ImageField && field.processor) file = await processPromoted(field, storage, file)
        if (record) assignConfirmed(field, record, file)
      } else {
        file = await confirmLocal(field, pendingStorage(), upload, record ?? ({} as R))
      }
      return file
    },

    async cleanup({ olderThan = 86_400 } = {}) {
      // A marker is what refuses a replayed URL (and a second confirmation): it stays while the URLs live.
      return cleanupLocal(pendingStorage(), now() - olderThan * 1000, now() - Math.max(olderThan, expiresIn) * 1000)
    },
  }

  async function receivePut(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!options.secret) throw new SuspiciousFileOperationError('Direct uploads are not signed here')
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? ''
    const check = verifySignedUrl(url, { secret: options.secret, now })
    if (!check.ok) return send(res, 403, { error: 'EACCES', message: `Upload URL ${check.reason}` })
    // `/put/<id>/<limit>/<name>`, as `sign` wrote it (and the signature covers it).
    const [id = '', limitText = '', ...named] = path.slice('/put/'.length).split('/')
    const limit = Number(limitText)
    const encoded = named.join('/')
    if (!isPendingId(id) || !encoded || !Number.isSafeInteger(limit) || limit < 0 || String(limit) !== limitText) {
      return send(res, 404, { error: 'ENOENT', message: 'Not found' })
    }
    const name = safeName(decodeURIComponent(encoded))
    const storage = pendingStorage()
    const upload = `${PENDING_PREFIX}/${id}/${name}`
    if (await storage.exists(pendingMarker(id))) return send(res, 409, { error: 'EEXIST', message: 'This upload URL was already used' })
    const declared = Number(req.headers['content-length'] ?? NaN)
    if (declared > limit) return send(res, 413, { error: 'EVALIDATION', message: `The body is larger than the ${limit} bytes signed for` })
    let over = false
    let seen = 0
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length
        if (seen > limit) {
          over = true
          return cb(new ValidationError([{ rule: 'maxSize', message: `The body is larger than the ${limit} bytes signed for` }]))
        }
        cb(null, chunk)
      },
    })
    req.pipe(cap)
    req.on('error', (err) => cap.destroy(err))
    let stored: string
    try {
      // Never over an earlier body (a storage made with `overwrite: true` would replace it): a URL is good for one.
      stored = await storage.save(upload, cap, { overwrite: false })
    } catch (err) {
      if (over) return send(res, 413, { error: 'EVALIDATION', message: `The body is larger than the ${limit} bytes signed for` })
      throw err
    }
    if (stored !== upload) {
      // The name was filled already: a URL is good for one body.
      await storage.delete(stored)
      return send(res, 409, { error: 'EEXIST', message: 'This upload URL was already used' })
    }
    res.writeHead(200, { 'content-length': 0 }).end()
  }

  const handler: DirectUploads<R>['handler'] = (req, res, next) => {
    const raw = (req.url ?? '').split('?')[0] ?? ''
    const path = raw.startsWith(`${base}/`) ? raw.slice(base.length) : raw
    const route = async (): Promise<void> => {
      if (req.method === 'PUT' && path.startsWith('/put/')) return receivePut(req, res, path)
      const action = ACTIONS.has(path.slice(1)) ? path.slice(1) : undefined
      if (req.method !== 'POST' || !action) {
        if (next) return next()
        return send(res, 404, { error: 'ENOENT', message: 'Not found' })
      }
      // Another site's page can POST text/plain or a form here with no CORS preflight, and the
      // user's cookies: only JSON, which needs a preflight, may sign, confirm or abort for them.
      if (essence(req.headers['content-type']) !== 'application/json') {
        return send(res, 415, { error: 'EVALIDATION', message: 'The request body must be JSON (Content-Type: application/json)' })
      }
      const body = await readJson(req)
      const upload = String(body.upload ?? '')
      const uploadId = body.uploadId === undefined ? undefined : String(body.uploadId)
      switch (action) {
        case 'sign':
          return send(
            res,
            200,
            await api.sign(
              { filename: String(body.filename ?? ''), size: Number(body.size), type: body.type ? String(body.type) : undefined },
              await recordOf(req),
            ),
          )
        case 'parts':
          return send(res, 200, await api.parts(upload, String(uploadId), { size: Number(body.size) }))
        case 'complete':
          return send(
            res,
            200,
            await api.complete(upload, String(uploadId), { partCount: numberOrUndefined(body.partCount), size: numberOrUndefined(body.size) }),
          )
        case 'abort':
          await api.abort(upload, uploadId)
          return send(res, 200, {})
        case 'confirm': {
          const file = await api.confirm(upload, await recordOf(req))
          return send(res, 200, options.onConfirm ? await options.onConfirm(file, req) : file)
        }
      }
    }
    route().catch((err: unknown) => {
      if (res.headersSent) return void res.destroy()
      const status = conflict(err) ? 409 : errorStatus(err)
      const body = conflict(err) ? { error: (err as StorageError).code, message: (err as StorageError).message } : errorBody(err)
      send(res, status, body)
    })
  }

  return { ...api, handler }
}

/** Outcomes the client caused and can act on (retry the missing parts, start again): 409, not 500. */
function conflict(err: unknown): boolean {
  return err instanceof StorageError && ['EEXIST', 'EINCOMPLETE', 'ECHANGED'].includes(err.code)
}

function numberOrUndefined(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

function requirePresigning(storage: Storage): PresigningStorage {
  if (!presigns(storage)) throw new InvalidArgumentError('Multipart direct uploads need a storage that presigns (S3Storage)', { argument: 'storage' })
  return storage
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? {})
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  })
  res.end(text)
}

/** The request's JSON body (or the one a framework already parsed), at most 64 KiB. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parsed = (req as { body?: unknown }).body
  if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) return parsed as Record<string, unknown>
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_JSON_BYTES) throw new ValidationError([{ rule: 'fieldSize', message: `The request body is larger than ${MAX_JSON_BYTES} bytes` }])
    chunks.push(chunk as Buffer)
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
    if (value && typeof value === 'object') return value as Record<string, unknown>
  } catch {
    // refused below
  }
  throw new ValidationError([{ rule: 'json', message: 'The request body must be a JSON object' }])
}

/** The POST endpoints under `basePath`. */
const ACTIONS = new Set(['sign', 'parts', 'complete', 'abort', 'confirm'])

function parseLocalToken(token: string): { id: string; name: string } {
  return parsePendingUpload(token)
}

/**
 * Claims `name` once: a save that does not overwrite lands a second claim on
 * another name. `overwrite: false` is said, not left to the storage's default:
 * on a storage made with `overwrite: true` every claim would succeed.
 * @throws FileExistsError when it was claimed before.
 */
async function claim(storage: Storage, name: string): Promise<void> {
  const got = await storage.save(name, new Uint8Array(0), { overwrite: false })
  if (got !== name) {
    await storage.delete(got)
    throw new FileExistsError(name, { context: { reason: 'already confirmed' } })
  }
}

async function confirmLocal<R extends object>(field: FileField<R>, pending: Storage, upload: string, record: R): Promise<ConfirmedFile> {
  const { id, name } = parseLocalToken(upload)
  if (await pending.exists(pendingMarker(id))) throw new FileExistsError(upload, { context: { reason: 'already confirmed' } })
  // Nothing uploaded yet: say so without spending the token.
  if (!(await pending.exists(upload))) throw new StorageError(`Nothing was uploaded for '${name}'`, { code: 'ENOENT', context: { upload } })
  await claim(pending, pendingMarker(id)).catch((err: unknown) => {
    throw err instanceof FileExistsError ? new FileExistsError(upload, { cause: err, context: { reason: 'already confirmed' } }) : err
  })
  try {
    const file = field.bind(record, (field.column ?? '__stowage_upload') as NameColumn<R>)
    // The same pipeline as a server upload: uploadTo, validators on the bytes, a free name.
    const stored = await file.save(name.split('/').pop() ?? name, await pending.open(upload))
    const facts = file.facts
    return { name: stored, size: facts?.size ?? 0, contentType: facts?.type?.mime, width: facts?.width, height: facts?.height }
  } finally {
    await pending.delete(upload).catch(() => undefined)
  }
}

/**
 * The failure of a `size`-byte file against the field's image processor's
 * `maxBytes`, the most it reads of an upload.
 * @returns the failure (rule `maxSize`), or undefined when the file fits or there is no such limit. Never throws.
 */
function processorFailure<R extends object>(field: FileField<R>, size: number): ValidationFailure | undefined {
  const limit = field instanceof ImageField ? field.processor?.maxBytes : undefined
  if (limit === undefined || size <= limit) return undefined
  return { rule: 'maxSize', message: `Image is larger than ${limit} bytes, the most the image processor reads`, params: { limit } }
}

/**
 * Puts a promoted image through its field's processor (metadata stripped,
 * orientation applied, eager variants) under the same name. The client's
 * copy is read, then deleted before the processed one is written, so a
 * failure leaves nothing and the name stays free for it. A copy past the
 * processor's `maxBytes` is deleted unread: read whole first, an upload of
 * gigabytes to a field without `maxSize` filled this process's memory before
 * the processor could refuse it.
 * @returns the processed file.
 * @throws ValidationError when the processor refuses the image (or its size); StorageError.
 */
async function processPromoted<R extends object>(field: ImageField<R>, storage: Storage, file: ConfirmedFile): Promise<ConfirmedFile> {
  const tooBig = processorFailure(field, file.size)
  if (tooBig) {
    await storage.delete(file.name)
    throw new ValidationError([tooBig], { context: { name: file.name, size: file.size } })
  }
  const bytes = await storage.read(file.name)
  await storage.delete(file.name)
  const type = await detectType(bytes)
  const { name, facts } = await field.processor!.store({
    storage,
    name: file.name,
    content: Readable.from([bytes]),
    facts: { size: bytes.byteLength, ...(type && { type }), ...(file.width !== undefined && { width: file.width, height: file.height }) },
    maxLength: field.maxLength,
  })
  return { name, size: facts.size, contentType: facts.type?.mime, width: facts.width, height: facts.height }
}

function assignConfirmed<R extends object>(field: FileField<R>, record: R, file: ConfirmedFile): void {
  field.bind(record).assign(file.name)
  if (field instanceof ImageField) {
    const row = record as Record<string, unknown>
    if (field.widthColumn) row[field.widthColumn] = file.width ?? null
    if (field.heightColumn) row[field.heightColumn] = file.height ?? null
  }
}

/** Deletes pending files last modified at or before `cutoff` (ms), and markers (`<id>.done`, beside the upload folders) at or before `markerCutoff`. */
async function cleanupLocal(storage: Storage, cutoff: number, markerCutoff: number): Promise<number> {
  let deleted = 0
  const walk = async (dir: string): Promise<void> => {
    const { dirs, files } = await storage.listdir(dir).catch(() => ({ dirs: [] as string[], files: [] as string[] }))
    for (const d of dirs) await walk(`${dir}/${d}`)
    for (const f of files) {
      const name = `${dir}/${f}`
      const stat = await storage.stat(name).catch(() => undefined)
      const marker = dir === PENDING_PREFIX && f.endsWith('.done')
      if (stat && stat.modified.getTime() <= (marker ? markerCutoff : cutoff)) {
        await storage.delete(name)
        deleted++
      }
    }
  }
  await walk(PENDING_PREFIX)
  return deleted
}
