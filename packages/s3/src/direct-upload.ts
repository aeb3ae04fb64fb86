/**
 * Direct browser uploads, quarantine then promote.
 *
 * The browser never writes where a confirmed file lives. A presigned form or
 * URL names a fresh pending key, `<pendingPrefix>/<128-bit id>/<name>`, that
 * nobody else was given, so two uploads of `image.jpg` cannot meet. The
 * pending object is private and stored as an attachment, so even a public
 * bucket does not serve it as a page. `confirmUpload` then:
 *
 * 1. claims the upload once (a `<id>.done` marker written with
 *    `If-None-Match: *`): a replayed form can recreate the pending object,
 *    but it can never be confirmed again;
 * 2. checks the bytes that arrived with the same validators a field uses
 *    (size, type from magic bytes, dimensions, SVG rules), reading the
 *    object pinned to the ETag it measured;
 * 3. claims a free final name exactly as `save()` does (an empty placeholder
 *    written with `If-None-Match: *`, the next candidate on 412), copies the
 *    pending object over it inside the bucket, with the detected type and the
 *    storage's object parameters, and checks that the copy is the object it
 *    validated (a POST form can be re-posted while we check);
 * 4. deletes the pending object, whatever the outcome of a confirmation
 *    that claimed it (a refused second one leaves it: the first may still be
 *    reading it, and cleanup removes what a replay put there).
 *
 * What a replay or an abandoned upload leaves is a pending object nobody
 * will confirm: `cleanupPendingUploads()` or a bucket lifecycle rule on the
 * prefix removes it.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import {
  allowedTypes as allowedTypesRule,
  detectType,
  FileExistsError,
  InvalidArgumentError,
  MAX_HEAD_BYTES,
  MAX_NAME_BYTES,
  maxSize as maxSizeRule,
  StorageError,
  SuspiciousFileOperationError,
  newPendingUpload,
  parsePendingUpload,
  pendingMarker,
  safeName,
  validateStored,
  ValidationError,
  type FileStat,
  type UploadFacts,
  type PendingUpload,
  type ValidationFailure,
  type Validator,
} from '@stowage/core'
import { abortStaleMultipartUploads, copyInParts, isMultipartEtag, objectSize } from './multipart-upload.js'
import { MAX_EXPIRES_IN } from './options.js'
import { isNotFound, isPreconditionFailed } from './s3-errors.js'

/** Object parameters of an upload (everything but the body). */
export type UploadParams = Omit<PutObjectCommandInput, 'Body'> & { Bucket: string; Key: string }

/** What the direct-upload helpers need from an `S3Storage` (internal). */
export interface DirectUploadTarget {
  /** Client for requests. */
  client: S3Client
  /** Client for signing (never adds checksums of an empty body). */
  presignClient: S3Client
  bucket: string
  key(name: string): string
  /** Storage-name prefix of pending uploads, no trailing slash. */
  pendingPrefix: string
  /** Parameters of a stored (final) object: type, disposition, ACL, object parameters. */
  uploadParams(name: string, contentType: string | undefined): UploadParams
  conditionalWrites: boolean
  /**
   * Whether PUT URLs sign `x-amz-acl: private` and `x-amz-metadata-directive: COPY`
   * as headers. Ceph's gateway honours `x-amz-*` headers a presigned URL does
   * not sign (AWS refuses them), so without them a URL holder could add
   * `x-amz-acl: public-read` and publish the pending bytes on the bucket's
   * origin, or add `x-amz-copy-source` (and `x-amz-metadata-directive: REPLACE`)
   * to make the pending object a copy of any object in the bucket, carrying
   * the upload's own metadata: see `UPLOAD_ID_META`.
   */
  pinPendingAcl?: boolean
  defaultExpiresIn: number
  now(): Date
  /**
   * Claims a free final name derived from `name` as `save()` would (an empty
   * placeholder under conditional writes), or the name itself on an
   * `overwrite` storage.
   * @returns the name, and whether this call put a placeholder there (then a
   *   failed promotion deletes it; otherwise what is there is not its own).
   */
  claimFinalName(name: string, maxLength: number | undefined): Promise<{ name: string; placeholder: boolean }>
  /** Largest object promoted with one CopyObject (5 GiB); bigger ones are copied in parts. Lowered in tests. */
  maxCopySize?: number
  /** Part size of those copies. */
  copyPartSize?: number
}

/** Options for `presignPost`. */
export interface PresignedPostOptions {
  /** Largest body accepted, in bytes (required: an unbounded upload form is a liability). At most 5 GiB. */
  maxSize: number
  /** Smallest body accepted, in bytes. Default 1 (an empty upload is refused). */
  minSize?: number
  /** The exact Content-Type the form must send (it is put in the fields). */
  contentType?: string
  /** A prefix the Content-Type must start with, e.g. `image/`; the browser sets the field. */
  contentTypePrefix?: string
  /** Seconds the form stays valid. Default: the storage's `uploadExpiresIn` (10 minutes). */
  expiresIn?: number
}

/** A presigned POST form for one pending upload. */
export interface PresignedPost {
  /** The pending upload's token: hand it back to `confirmUpload`. Unguessable; treat it as a secret of this upload. */
  upload: string
  /** The name asked for, validated; the confirmed name may differ (a free variant). */
  name: string
  /** Where the form is posted. */
  url: string
  /** Form fields to send before the `file` field, in any order. */
  fields: Record<string, string>
  /** When the policy expires. */
  expiresAt: Date
}

/** Options for `presignPut`. */
export interface PresignedPutOptions {
  /** Content-Type the upload must send; default guessed from the name. */
  contentType?: string
  /**
   * The exact size of the body in bytes, signed as its `Content-Length`: the
   * server then refuses any other body (a browser sets the header itself from
   * the file). Without it a URL takes any body up to S3's 5 GiB, whatever
   * size was declared and checked. At most 5 GiB.
   */
  size?: number
  /** Seconds the URL stays valid. Default: the storage's `uploadExpiresIn` (10 minutes). */
  expiresIn?: number
}

/** A presigned PUT for one pending upload. */
export interface PresignedPut {
  /** The pending upload's token: hand it back to `confirmUpload`. */
  upload: string
  /** The name asked for, validated; the confirmed name may differ. */
  name: string
  url: string
  method: 'PUT'
  /** Headers the upload must send exactly as given (they are part of the signature). */
  headers: Record<string, string>
  expiresAt: Date
}

/** Facts about an uploaded object, for your own check in `confirmUpload`. */
export interface UploadedObject {
  /** The name asked for at signing time. */
  name: string
  size: number
  /** The Content-Type stored with the object (what the browser claimed). */
  contentType?: string
  /** The type read from the bytes, when recognised. */
  detectedType?: string
  /** Up to the first 1 MiB. */
  head: Uint8Array
}

/** Options for `confirmUpload`. */
export interface ConfirmUploadOptions {
  /** The rules a field applies (`avatar.validators`): run on the bytes that arrived, exactly as on a server upload. */
  validators?: readonly Validator[]
  /** Shorthand for a `maxSize` rule. */
  maxSize?: number
  /** Smallest size accepted. Default 1: an empty object fails. */
  minSize?: number
  /** Shorthand for an `allowedTypes` rule (MIME types, `image/*`, or extensions; judged by the bytes). */
  allowedTypes?: string[]
  /** Your own check, run after the rules pass: return a message (or throw a ValidationError) to refuse the upload. */
  validate?: (upload: UploadedObject) => string | undefined | void | Promise<string | undefined | void>
  /** Longest final name allowed (a database column); the root is truncated to fit, as `save()` does. */
  maxLength?: number
  /**
   * The name to store the upload under (or a free variant of it), instead
   * of the one it was signed for. A field's endpoint passes the name its own
   * `uploadTo` gives (`directUploads` in `@stowage/http` does), so a token
   * signed through another field's endpoint cannot land in that field's
   * folder. Checked as `save()` checks a name, before any request.
   */
  name?: string
}

/** What `confirmUpload` returns for an accepted upload. */
export interface ConfirmedUpload extends FileStat {
  /** The name the file is stored under: store this one. */
  name: string
  /** The type read from the bytes (also the stored Content-Type), when recognised. */
  detectedType?: string
  width?: number
  height?: number
}

/** Options for `cleanupPendingUploads`. */
export interface CleanupPendingOptions {
  /**
   * Delete pending objects and markers last modified more than this many seconds ago. Default 86,400 (one day).
   * A confirmation marker is also kept for the storage's `uploadExpiresIn`: while a form or URL of its upload may
   * be valid, it is what refuses a replay a second confirmation.
   */
  olderThan?: number
}

/** S3's largest single PUT, POST or CopyObject body. */
export const MAX_DIRECT_UPLOAD_SIZE = 5 * 1024 ** 3
/** Default lifetime of upload forms and URLs: long enough to start an upload, short enough that a leaked one soon dies. */
export const DEFAULT_UPLOAD_EXPIRES_IN = 600
/** Part size when a pending object past `maxCopySize` is promoted with UploadPartCopy. */
const DEFAULT_COPY_PART_SIZE = 512 * 1024 * 1024

export function expiry(target: DirectUploadTarget, expiresIn: number | undefined): number {
  const seconds = expiresIn ?? target.defaultExpiresIn
  if (!(Number.isSafeInteger(seconds) && seconds > 0 && seconds <= MAX_EXPIRES_IN)) {
    throw new InvalidArgumentError(`expiresIn must be an integer between 1 and ${MAX_EXPIRES_IN}, got ${seconds}`, { argument: 'expiresIn' })
  }
  return seconds
}

/**
 * A fresh pending upload for `name` (core's naming), whose key must fit S3's limit.
 * @returns its token, random id and validated name.
 * @throws SuspiciousFileOperationError for an unsafe name; InvalidArgumentError when the key is too long.
 */
export function pending(target: DirectUploadTarget, name: string): PendingUpload {
  const { upload, id, name: clean } = newPendingUpload(name, target.pendingPrefix)
  if (Buffer.byteLength(target.key(upload)) > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(`Name too long for a pending upload key (${MAX_NAME_BYTES} bytes with the pending prefix): '${clean}'`, { argument: 'name' })
  }
  return { upload, id, name: clean }
}

/**
 * Reads an upload token back.
 * @throws SuspiciousFileOperationError when it is not a pending-upload token of this storage.
 */
export function parseToken(target: DirectUploadTarget, token: string): PendingUpload {
  return parsePendingUpload(token, target.pendingPrefix)
}

/** Headers every pending object carries: never shown inline, whatever the bucket policy. */
export const PENDING_DISPOSITION = 'attachment'

/**
 * User metadata (`x-amz-meta-stowage-upload`) every pending object is
 * written with where `pinPendingAcl` is set (Ceph): the upload's random id,
 * signed into its PUT URL, POST policy or CreateMultipartUpload.
 * `confirmUpload` then promotes only an object that carries it. On Ceph a PUT
 * URL's holder can add `x-amz-copy-source`, which the gateway honours
 * unsigned, and so fill the pending key with a copy of any object the
 * application's keys can read (another user's file) and confirm it as
 * theirs. A copy takes its source's metadata (the URL signs
 * `x-amz-metadata-directive: COPY` there), and no source but the pending
 * object itself has this id. Elsewhere nothing is added: AWS refuses unsigned
 * `x-amz-*` headers, and not every server stores metadata hoisted into a URL.
 */
export const UPLOAD_ID_META = 'stowage-upload'

/** @returns the metadata that marks upload `id`'s pending object, or undefined where it is not used (see `UPLOAD_ID_META`). */
export function uploadIdMetadata(target: DirectUploadTarget, id: string): Record<string, string> | undefined {
  return target.pinPendingAcl ? { [UPLOAD_ID_META]: id } : undefined
}

/**
 * Refuses a POST-form name holding `${filename}`: S3 replaces that variable
 * with the file name the form sends, and the SDK turns a key ending in it
 * into a `starts-with` condition, so the form's holder could write any key
 * under the upload's id and then confirm a token naming it (any final name).
 * @throws SuspiciousFileOperationError for such a name.
 */
function refuseKeyVariables(name: string): void {
  if (name.includes('${filename}')) {
    throw new SuspiciousFileOperationError(`A POST form cannot name '\${filename}', which S3 would replace with the uploader's file name: '${name}'`, {
      context: { name },
    })
  }
}

/**
 * Signs a POST form for a new pending upload of `name`.
 * @throws SuspiciousFileOperationError for an unsafe name or one holding `${filename}` (before any request);
 *   InvalidArgumentError (EINVAL) for bad size limits or expiry.
 */
export async function presignPost(target: DirectUploadTarget, name: string, options: PresignedPostOptions): Promise<PresignedPost> {
  const { maxSize, minSize = 1 } = options ?? ({} as PresignedPostOptions)
  if (
    !(Number.isSafeInteger(maxSize) && maxSize >= 0 && maxSize <= MAX_DIRECT_UPLOAD_SIZE) ||
    !(Number.isSafeInteger(minSize) && minSize >= 0 && minSize <= maxSize)
  ) {
    throw new InvalidArgumentError(`Invalid size limits: minSize ${minSize}, maxSize ${maxSize} (at most ${MAX_DIRECT_UPLOAD_SIZE})`, { argument: 'maxSize' })
  }
  const expiresIn = expiry(target, options.expiresIn)
  refuseKeyVariables(String(name))
  const { upload, id, name: clean } = pending(target, name)
  const fields: Record<string, string> = { 'Content-Disposition': PENDING_DISPOSITION }
  for (const [k, v] of Object.entries(uploadIdMetadata(target, id) ?? {})) fields[`x-amz-meta-${k}`] = v
  const conditions: (string[] | [string, number, number] | Record<string, string>)[] = [['content-length-range', minSize, maxSize]]
  if (options.contentType) fields['Content-Type'] = options.contentType
  else if (options.contentTypePrefix !== undefined) conditions.push(['starts-with', '$Content-Type', options.contentTypePrefix])
  else {
    const guessed = target.uploadParams(clean, undefined).ContentType
    if (guessed) fields['Content-Type'] = guessed
  }
  const expiresAt = new Date(Date.now() + expiresIn * 1000) // createPresignedPost signs with the real clock
  // Loaded on first use: the package pins a client-s3 of its own, a second
  // copy of the SDK (~6 MB of RSS) that every process would otherwise load
  // at import time whether or not it ever signs a POST.
  const { createPresignedPost } = await import('@aws-sdk/s3-presigned-post')
  // Fields become exact-match conditions of the policy, so the browser cannot change them.
  const post = await createPresignedPost(target.presignClient, {
    Bucket: target.bucket,
    Key: target.key(upload),
    Conditions: conditions as never,
    Fields: fields,
    Expires: expiresIn,
  })
  return { upload, name: clean, url: post.url, fields: post.fields, expiresAt }
}

/**
 * Signs a PUT URL for a new pending upload of `name`. The URL requires
 * `If-None-Match: *` where the server honours it, so it cannot replace the
 * pending object it created.
 * @throws SuspiciousFileOperationError for an unsafe name (before any request); InvalidArgumentError for a bad expiry or size.
 */
export async function presignPut(target: DirectUploadTarget, name: string, options: PresignedPutOptions = {}): Promise<PresignedPut> {
  const expiresIn = expiry(target, options.expiresIn)
  const { size } = options
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0 && size <= MAX_DIRECT_UPLOAD_SIZE)) {
    throw new InvalidArgumentError(`size must be an integer between 0 and ${MAX_DIRECT_UPLOAD_SIZE}, got ${size}`, { argument: 'size' })
  }
  const { upload, id, name: clean } = pending(target, name)
  const contentType = options.contentType ?? target.uploadParams(clean, undefined).ContentType
  const input: PutObjectCommandInput = {
    Bucket: target.bucket,
    Key: target.key(upload),
    ContentType: contentType,
    ContentDisposition: PENDING_DISPOSITION,
    ContentLength: size,
    Metadata: uploadIdMetadata(target, id),
    ACL: target.pinPendingAcl ? 'private' : undefined,
    IfNoneMatch: target.conditionalWrites ? '*' : undefined,
  }
  const signingDate = target.now()
  // The presigner leaves Content-Type unsigned by default; signing it pins the type the browser may send.
  // A signed Content-Length pins the size; a signed x-amz-acl header (kept out of the query, where Ceph
  // lets a header of the same name win) makes an added ACL or grant header fail the signature or the request.
  // The upload id's metadata (Ceph) is hoisted into the query: the browser sends nothing for it.
  const signable = new Set(['content-type', 'content-disposition'])
  if (size !== undefined) signable.add('content-length')
  const pinned: Record<string, string> = {}
  if (input.ACL) pinned['x-amz-acl'] = input.ACL
  // A PUT with x-amz-copy-source is a copy on Ceph: a signed COPY directive makes such a copy take its
  // source's metadata (not the id), and an added REPLACE fail the signature. A plain PUT ignores it.
  if (target.pinPendingAcl) pinned['x-amz-metadata-directive'] = 'COPY'
  for (const header of Object.keys(pinned)) signable.add(header)
  const command = new PutObjectCommand(input)
  if (pinned['x-amz-metadata-directive']) {
    command.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> }
        if (request.headers) request.headers['x-amz-metadata-directive'] = 'COPY'
        return next(args)
      },
      { step: 'build', name: 'stowagePinMetadataDirective' },
    )
  }
  const url = await getSignedUrl(target.presignClient, command, {
    expiresIn,
    signingDate,
    signableHeaders: signable,
    unhoistableHeaders: new Set(Object.keys(pinned)),
  })
  // Headers left in the request (not hoisted into the query) are signed and must be sent as is.
  // Content-Length is not among them: browsers set it from the body and refuse to be told.
  const headers: Record<string, string> = { 'Content-Disposition': PENDING_DISPOSITION }
  if (contentType) headers['Content-Type'] = contentType
  Object.assign(headers, pinned)
  if (input.IfNoneMatch) headers['If-None-Match'] = input.IfNoneMatch
  return { upload, name: clean, url, method: 'PUT', headers, expiresAt: new Date(signingDate.getTime() + expiresIn * 1000) }
}

/** The validators `confirmUpload` runs: the field's, then the shorthands. */
function rules(options: ConfirmUploadOptions): Validator[] {
  const list = [...(options.validators ?? [])]
  const min = options.minSize ?? 1
  if (options.maxSize !== undefined || min > 0) list.push(maxSizeRule(options.maxSize ?? Number.MAX_SAFE_INTEGER, { min }))
  if (options.allowedTypes) list.push(allowedTypesRule(options.allowedTypes))
  return list
}

/**
 * Checks a pending upload and promotes it to a free final name; the pending
 * object is deleted whatever happens, except after `EEXIST` (the confirmation
 * that claimed it deletes it; cleanup removes a later replay).
 * @returns the confirmed name (store it), size, stored and detected type.
 * @throws ValidationError listing every failed rule; FileNotFoundError (ENOENT)
 *   when nothing was uploaded (the token stays usable); FileExistsError (EEXIST)
 *   when the upload was already confirmed; SuspiciousFileOperationError for a
 *   token that is not a pending upload, an unsafe `name`, or a pending object
 *   its URL, form or multipart upload did not write (`provider: 'ceph'`: a copy of another object,
 *   deleted, the token spent); StorageError when the object changed
 *   while it was checked.
 */
export async function confirmUpload(target: DirectUploadTarget, token: string, options: ConfirmUploadOptions = {}): Promise<ConfirmedUpload> {
  const { upload, id, name: signed } = parseToken(target, token)
  const name = options.name === undefined ? signed : safeName(options.name)
  const validators = rules(options)
  const { client, bucket } = target
  const key = target.key(upload)
  // Nothing uploaded yet: say so without spending the token.
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
  // Claimed before the try: a confirmation refused as a second one must not delete the
  // pending object, which the first (a double click, a retry) may still be reading.
  await claimOnce(target, id, upload)
  try {
    if (target.pinPendingAcl && head.Metadata?.[UPLOAD_ID_META] !== id) {
      // A copy of another object (Ceph honours an unsigned x-amz-copy-source), or written by another client.
      throw new SuspiciousFileOperationError(`Upload '${name}' is not what its URL or form wrote (a copy of another object?): refused`, {
        context: { name, upload },
      })
    }
    const size = head.ContentLength ?? 0
    const etag = head.ETag
    const bytes = size === 0 ? new Uint8Array(0) : await readHead(target, key, etag, Math.min(size, MAX_HEAD_BYTES))
    const info = { filename: name, contentType: head.ContentType }
    let facts: UploadFacts
    try {
      facts = await validateStored(bytes, size, validators, info)
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      throw new ValidationError(err.failures, { context: { ...err.context, name, upload } })
    }
    // Stored under the type its bytes have, not the one the browser claimed.
    const detected = facts.type ?? (await detectType(bytes))
    if (options.validate)
      await runCustomCheck(options.validate, { name, size, contentType: head.ContentType, detectedType: detected?.mime, head: bytes }, name, upload)
    // Unrecognised bytes get the type of their name, as save() gives; never the browser's word alone.
    const stored = detected?.mime
    const { name: final, placeholder } = await target.claimFinalName(name, options.maxLength)
    let copied: CopyResult | undefined
    try {
      const params = target.uploadParams(final, stored)
      copied = await promote(target, key, params, size, etag)
      if (!copyMatches(etag, size, copied, params)) {
        throw new StorageError(`Upload '${name}' changed while it was being confirmed`, { code: 'ECHANGED', context: { name, upload } })
      }
      return {
        name: final,
        size,
        modified: copied.modified ?? target.now(),
        contentType: stored,
        etag: unquote(copied.etag),
        detectedType: detected?.mime,
        width: facts.width,
        height: facts.height,
      }
    } catch (err) {
      // Delete only what this confirmation put at the final name: its placeholder, or a copy
      // whose bytes are not the ones validated. A copy that failed left an `overwrite`
      // storage's file there as it was (and, without conditional writes, the name may be
      // someone else's by now): deleting it would lose a file nothing replaced.
      if (placeholder || copied !== undefined) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: target.key(final) })).catch(() => undefined)
      }
      if (isPreconditionFailed(err))
        throw new StorageError(`Upload '${name}' changed while it was being confirmed`, { code: 'ECHANGED', cause: err, context: { name, upload } })
      throw err
    }
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined)
  }
}

/**
 * Copies the object under `key` (`size` bytes, ETag `etag`) over
 * `params.Key` inside the bucket, with the headers in `params`
 * (`MetadataDirective: 'REPLACE'`): one CopyObject up to 5 GiB,
 * UploadPartCopy in parts above. Both are conditional on `etag` (honoured by
 * AWS and MinIO; Ceph ignores it, so callers check the result with
 * `copyMatches`). Used by `confirmUpload` to promote a validated
 * upload and by `S3Storage.copy`.
 * @returns the copy's ETag, its size when the ETag cannot vouch for the
 *   bytes, and whether it was made in parts; `copyMatches` judges it.
 * @throws the SDK's error: 412 when the source no longer has `etag`, 404 when it is gone.
 */
export async function promote(
  target: DirectUploadTarget,
  key: string,
  params: UploadParams,
  size: number,
  etag: string | undefined,
  signal?: AbortSignal,
): Promise<CopyResult> {
  const multipart = isMultipartEtag(etag)
  if (size > (target.maxCopySize ?? MAX_DIRECT_UPLOAD_SIZE)) {
    const copied = await copyInParts(target, key, params, size, etag, target.copyPartSize ?? DEFAULT_COPY_PART_SIZE, signal)
    return { etag: copied, size: await objectSize(target, params.Key), inParts: true }
  }
  const copy = await target.client.send(
    new CopyObjectCommand({
      ...params,
      CopySource: `${target.bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`,
      CopySourceIfMatch: etag,
      MetadataDirective: 'REPLACE',
    }),
    signal ? { abortSignal: signal } : undefined,
  )
  const result = copy.CopyObjectResult
  // A multipart ETag is not the MD5 of the bytes, so the copy's cannot match it:
  // compare sizes instead. What is left on Ceph (copy conditions ignored) is a
  // replacement of the same size, and nothing can write a completed multipart
  // pending key (its part URLs died with the upload id, no PUT is signed for it).
  return multipart ? { size: await objectSize(target, params.Key), modified: result?.LastModified } : { etag: result?.ETag, modified: result?.LastModified }
}

/**
 * Marks the upload confirmed, once: a second confirmation of the same token
 * (a replayed form, a double-clicked button) is refused even across servers.
 */
async function claimOnce(target: DirectUploadTarget, id: string, upload: string): Promise<void> {
  const Key = target.key(pendingMarker(id, target.pendingPrefix))
  if (!target.conditionalWrites) {
    // Best effort without conditional writes: a check, then the write.
    const seen = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key })).then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false
        throw err
      },
    )
    if (seen) throw new FileExistsError(upload, { context: { reason: 'already confirmed' } })
  }
  try {
    await target.client.send(
      new PutObjectCommand({ Bucket: target.bucket, Key, Body: Buffer.alloc(0), ContentLength: 0, IfNoneMatch: target.conditionalWrites ? '*' : undefined }),
    )
  } catch (err) {
    if (isPreconditionFailed(err)) throw new FileExistsError(upload, { cause: err, context: { reason: 'already confirmed' } })
    throw err
  }
}

/**
 * Writes upload `id`'s confirmation marker whether or not it exists, so the
 * upload can no longer be confirmed (`abortUpload`: a PUT or form that lands
 * after the abort leaves a pending object for cleanup, never a file).
 * @throws the SDK's error when the marker cannot be written.
 */
export async function spendUpload(target: DirectUploadTarget, id: string): Promise<void> {
  const Key = target.key(pendingMarker(id, target.pendingPrefix))
  // Unconditional: an existing marker (confirmed, or aborted before) is as good, and rewriting an empty one changes nothing.
  await target.client.send(new PutObjectCommand({ Bucket: target.bucket, Key, Body: Buffer.alloc(0), ContentLength: 0 }))
}

/** The first `length` bytes of the object, refused (412) if it is no longer the one measured. */
async function readHead(target: DirectUploadTarget, key: string, etag: string | undefined, length: number): Promise<Uint8Array> {
  try {
    const res = await target.client.send(new GetObjectCommand({ Bucket: target.bucket, Key: key, IfMatch: etag, Range: `bytes=0-${length - 1}` }))
    const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0)
    return bytes.subarray(0, length)
  } catch (err) {
    if (isPreconditionFailed(err)) throw new StorageError(`Upload changed while it was being confirmed`, { code: 'ECHANGED', cause: err, context: { key } })
    throw err
  }
}

async function runCustomCheck(validate: NonNullable<ConfirmUploadOptions['validate']>, upload: UploadedObject, name: string, token: string): Promise<void> {
  let failures: ValidationFailure[] = []
  try {
    const message = await validate(upload)
    if (message) failures = [{ rule: 'validate', message }]
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    failures = err.failures
  }
  if (failures.length) throw new ValidationError(failures, { context: { name, upload: token } })
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^"|"$/g, '')
}

/** What `promote` made. */
export interface CopyResult {
  etag?: string
  /** Measured after the copy, when the ETag cannot vouch for the bytes. */
  size?: number
  modified?: Date
  /** Made with UploadPartCopy: its ETag is one of parts (Ceph sends none), never the source's. */
  inParts?: boolean
}

/**
 * Whether a copy made by `promote` holds the source's bytes (`etag`,
 * `size`), as far as the server lets us tell: its ETag where that is the
 * MD5 of the bytes, else its size. Servers that ignore the copy's
 * `CopySourceIfMatch` (Ceph) are caught here.
 */
export function copyMatches(etag: string | undefined, size: number, copied: CopyResult, params: UploadParams): boolean {
  if (copied.size !== undefined && copied.size !== size) return false
  return copied.inParts === true || sameBytes(etag, copied.etag, params)
}

/**
 * Whether the copy holds the bytes that were validated (or, for a copy,
 * measured). For a single-part
 * object without KMS or customer keys the ETag is the MD5 of the bytes, so a
 * copy of the same bytes has the same ETag; under those encryptions it is
 * not, and the server-side `CopySourceIfMatch` is the only guard.
 */
function sameBytes(validated: string | undefined, copied: string | undefined, params: UploadParams): boolean {
  // Multipart sources (and copies made in parts) are checked by size instead, in `promote`.
  if (isMultipartEtag(validated) || isMultipartEtag(copied)) return true
  const sse = params.ServerSideEncryption
  if (sse === 'aws:kms' || sse === 'aws:kms:dsse' || params.SSECustomerAlgorithm) return true
  return unquote(validated) === unquote(copied)
}

/** Whether `rest` (a key under the pending prefix) is a confirmation marker, `<id>.done`: uploads are `<id>/<name>`. */
function isMarker(rest: string): boolean {
  return !rest.includes('/') && rest.endsWith('.done')
}

/**
 * The instant before which a clean-up deletes: `olderThan` seconds (default a day) before `now` (ms).
 * @returns it in milliseconds.
 * @throws InvalidArgumentError (`olderThan`) for a negative, non-finite or non-number `olderThan`.
 */
export function cutoffFor(olderThan: number = 86_400, now: number): number {
  if (typeof olderThan !== 'number' || !(Number.isFinite(olderThan) && olderThan >= 0)) {
    throw new InvalidArgumentError(`olderThan must be a non-negative number of seconds, got ${String(olderThan)}`, { argument: 'olderThan' })
  }
  return now - olderThan * 1000
}

/**
 * Deletes pending uploads and confirmation markers older than `olderThan`
 * (markers not before the storage's `uploadExpiresIn` has passed too),
 * and aborts multipart uploads under the pending prefix started before then:
 * abandoned uploads and replays that nobody will confirm.
 * @returns how many objects were deleted plus how many multipart uploads were aborted.
 * @throws InvalidArgumentError for a negative `olderThan`; StorageError for backend failures.
 */
export async function cleanupPendingUploads(target: DirectUploadTarget, options: CleanupPendingOptions = {}): Promise<number> {
  const now = target.now().getTime()
  const cutoff = cutoffFor(options.olderThan, now)
  // A marker is what refuses a replayed form or URL a second confirmation, so it outlives the
  // storage's forms and URLs (`uploadExpiresIn`), however short `olderThan` is: deleted sooner,
  // a form still valid could fill the pending key again and be confirmed again.
  const markerCutoff = Math.min(cutoff, now - target.defaultExpiresIn * 1000)
  const prefix = target.key(`${target.pendingPrefix}/`)
  let deleted = 0
  let token: string | undefined
  do {
    const res = await target.client.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ContinuationToken: token }))
    const old = (res.Contents ?? []).filter(
      (o) => o.Key && o.LastModified && o.LastModified.getTime() <= (isMarker(o.Key.slice(prefix.length)) ? markerCutoff : cutoff),
    )
    // One request per object: DeleteObjects needs a Content-MD5 that some servers want as a checksum the SDK only adds WHEN_SUPPORTED.
    await Promise.all(old.map((o) => target.client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: o.Key! }))))
    deleted += old.length
    token = res.IsTruncated ? res.NextContinuationToken : undefined
  } while (token)
  // Browsers that went away mid-upload leave multipart uploads: invisible to listings, billed until aborted.
  return deleted + (await abortStaleMultipartUploads(target, cutoff))
}
