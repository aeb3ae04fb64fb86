/**
 * Resumable direct uploads of big files: a multipart upload into a pending
 * key, whose parts the browser sends through presigned `UploadPart` URLs.
 *
 * The quarantine of `direct-upload.ts` holds unchanged: the multipart upload
 * targets a fresh `<pendingPrefix>/<id>/<name>` key, private and stored as an
 * attachment, and becomes a file only through `confirmUpload` (validators,
 * one-shot marker, free final name). The server keeps no state: the upload
 * token and the upload id are all it needs, and S3 refuses an upload id that
 * does not belong to the pending key the token names, so a client cannot
 * point these calls at anything outside the pending prefix.
 *
 * Once completed, no URL can write the pending key any more: part URLs die
 * with their upload id, and no PUT or POST is ever signed for a multipart
 * pending key. That is what keeps `confirmUpload` honest on servers that
 * ignore copy conditions (Ceph), where the ETag comparison of a single-part
 * upload does not apply to a multipart ETag.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { InvalidArgumentError, StorageError } from '@stowage/core'
import { expiry, parseToken, pending, PENDING_DISPOSITION, spendUpload, uploadIdMetadata, type DirectUploadTarget, type UploadParams } from './direct-upload.js'
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE } from './options.js'
import { isNotFound } from './s3-errors.js'

/** S3's largest object: 10,000 parts of at most 5 GiB, capped at 5 TiB. */
export const MAX_MULTIPART_UPLOAD_SIZE = 5 * 1024 ** 4
/** Default part size of browser multipart uploads: small enough that a retried part costs little. */
export const DEFAULT_UPLOAD_PART_SIZE = 8 * 1024 * 1024

/** Options for `createMultipartUpload`. */
export interface MultipartUploadOptions {
  /** The file's size in bytes (required: it decides the parts). At most 5 TiB. */
  size: number
  /** Bytes per part (the last may be smaller). Default 8 MiB, raised to fit 10,000 parts; at least 5 MiB. */
  partSize?: number
  /** Content-Type of the pending object; default guessed from the name. */
  contentType?: string
  /** Seconds the part URLs stay valid. Default: the storage's `uploadExpiresIn`. Ask `presignUploadParts` for fresh ones on resume. */
  expiresIn?: number
}

/** Options for `presignUploadParts`. */
export interface PresignUploadPartsOptions {
  /**
   * The file's size in bytes, as `createMultipartUpload` was given it
   * (required): each URL signs its part's exact length, so the parts cannot
   * add up to more than the file, and part numbers past its last are refused.
   */
  size: number
  /**
   * The `partSize` option `createMultipartUpload` was given, or the part size
   * it returned (both give the same parts). Default 8 MiB, raised as there.
   * Take it from your own configuration, not from the client: it decides how
   * long each signed part is.
   */
  partSize?: number
  /** Seconds the URLs stay valid. Default: the storage's `uploadExpiresIn`. */
  expiresIn?: number
}

/** One presigned part URL. */
export interface PresignedPart {
  partNumber: number
  /**
   * PUT the part's bytes here, with no extra headers. Its length is signed:
   * `partSize` bytes, the last part the rest of the file. A body of another
   * length fails the signature (403).
   */
  url: string
}

/** A started multipart upload. */
export interface PresignedMultipartUpload {
  /** The pending upload's token: hand it back to `confirmUpload` (and to the calls below). */
  upload: string
  /** The name asked for, validated; the confirmed name may differ. */
  name: string
  /** S3's id of the multipart upload. */
  uploadId: string
  partSize: number
  /** How many parts the file makes: parts 1..partCount, each `partSize` bytes but the last. */
  partCount: number
  /** A URL per part. */
  parts: PresignedPart[]
  expiresAt: Date
}

/** A part the server already has. */
export interface UploadedPart {
  partNumber: number
  size: number
  etag: string
}

/** Options for `completeMultipartUpload`. */
export interface CompleteMultipartOptions {
  /** The number of parts expected; refused (`EINCOMPLETE`) when the server has fewer. */
  partCount?: number
  /** The total expected; refused (`EINCOMPLETE`) when the parts add up to another size. */
  size?: number
}

/**
 * The part size for `size` bytes: `partSize` (default 8 MiB), raised to the
 * next MiB that keeps the file within 10,000 parts.
 * @returns the part size in bytes.
 * @throws InvalidArgumentError (`EINVAL`, naming `size` or `partSize`) for a size or part size out of S3's limits.
 */
export function uploadPartSize(size: number, partSize = DEFAULT_UPLOAD_PART_SIZE): number {
  if (!(Number.isSafeInteger(size) && size > 0 && size <= MAX_MULTIPART_UPLOAD_SIZE)) {
    throw new InvalidArgumentError(`size must be an integer between 1 and ${MAX_MULTIPART_UPLOAD_SIZE}, got ${size}`, { argument: 'size' })
  }
  if (!(Number.isSafeInteger(partSize) && partSize >= MIN_PART_SIZE && partSize <= MAX_PART_SIZE)) {
    throw new InvalidArgumentError(`partSize must be an integer between ${MIN_PART_SIZE} and ${MAX_PART_SIZE}, got ${partSize}`, { argument: 'partSize' })
  }
  const MIB = 1024 * 1024
  const needed = Math.ceil(size / MAX_PARTS / MIB) * MIB
  return Math.max(partSize, needed)
}

/**
 * Starts a multipart upload into a new pending key for `name`, and signs a
 * URL for every part.
 * @throws SuspiciousFileOperationError for an unsafe name (before any request);
 *   InvalidArgumentError for a bad size, part size or expiry.
 */
export async function createMultipartUpload(target: DirectUploadTarget, name: string, options: MultipartUploadOptions): Promise<PresignedMultipartUpload> {
  const { size } = options ?? ({} as MultipartUploadOptions)
  const partSize = uploadPartSize(size, options.partSize)
  const expiresIn = expiry(target, options.expiresIn)
  const { upload, id, name: clean } = pending(target, name)
  const contentType = options.contentType ?? target.uploadParams(clean, undefined).ContentType
  const created = await target.client.send(
    new CreateMultipartUploadCommand({
      Bucket: target.bucket,
      Key: target.key(upload),
      ContentType: contentType,
      ContentDisposition: PENDING_DISPOSITION,
      // What confirmUpload checks that the completed object was written by this upload.
      Metadata: uploadIdMetadata(target, id),
    }),
  )
  const uploadId = created.UploadId!
  const partCount = Math.ceil(size / partSize)
  const numbers = Array.from({ length: partCount }, (_, i) => i + 1)
  const signingDate = target.now()
  const parts = await signParts(target, upload, uploadId, numbers, { size, partSize }, expiresIn, signingDate)
  return { upload, name: clean, uploadId, partSize, partCount, parts, expiresAt: new Date(signingDate.getTime() + expiresIn * 1000) }
}

function checkUploadId(uploadId: string): void {
  // S3 ids are opaque but printable; anything else is a confused or hostile client.
  if (typeof uploadId !== 'string' || !/^[\x21-\x7e]{1,1024}$/.test(uploadId)) {
    throw new InvalidArgumentError('uploadId must be the id createMultipartUpload returned', { argument: 'uploadId' })
  }
}

/** @throws InvalidArgumentError unless every number is a part of the file (1..`partCount`). */
function checkPartNumbers(numbers: readonly number[], partCount: number): void {
  if (!Array.isArray(numbers) || numbers.some((n) => !(Number.isSafeInteger(n) && n >= 1 && n <= partCount))) {
    throw new InvalidArgumentError(`part numbers must be integers between 1 and ${partCount}, the file's part count`, { argument: 'partNumbers' })
  }
}

/**
 * Signs a URL per part number, each with its part's length (`Content-Length`
 * is a signed header): without it a URL holder could send up to 5 GiB per
 * part, and with `presignUploadParts` any of 10,000 parts, whatever size the
 * field allowed, and the bucket would keep it until confirmation or clean-up.
 */
async function signParts(
  target: DirectUploadTarget,
  upload: string,
  uploadId: string,
  numbers: readonly number[],
  layout: { size: number; partSize: number },
  expiresIn: number,
  signingDate: Date,
): Promise<PresignedPart[]> {
  const Key = target.key(upload)
  const signableHeaders = new Set(['content-length'])
  return Promise.all(
    numbers.map(async (partNumber) => {
      // `partSize`, the last part the rest (every caller keeps the numbers within the file's parts).
      const length = Math.min(layout.partSize, layout.size - (partNumber - 1) * layout.partSize)
      const command = new UploadPartCommand({ Bucket: target.bucket, Key, UploadId: uploadId, PartNumber: partNumber, ContentLength: length })
      return { partNumber, url: await getSignedUrl(target.presignClient, command, { expiresIn, signingDate, signableHeaders }) }
    }),
  )
}

/**
 * Fresh part URLs for a multipart upload (a resume after the first ones
 * expired), each signed with its part's length as `createMultipartUpload`
 * signs them.
 * @returns one URL per part number asked for.
 * @throws SuspiciousFileOperationError for a token that is not a pending upload;
 *   InvalidArgumentError for a missing or bad `size` or `partSize`, a part
 *   number past the file's last part, or a bad id or expiry.
 */
export async function presignUploadParts(
  target: DirectUploadTarget,
  token: string,
  uploadId: string,
  partNumbers: readonly number[],
  options: PresignUploadPartsOptions,
): Promise<PresignedPart[]> {
  const { upload } = parseToken(target, token)
  checkUploadId(uploadId)
  // Without options (the call before `size` was required): InvalidArgumentError naming `size`, not a TypeError.
  const { size, partSize: asked, expiresIn } = options ?? ({} as PresignUploadPartsOptions)
  const partSize = uploadPartSize(size, asked)
  checkPartNumbers(partNumbers, Math.ceil(size / partSize))
  return signParts(target, upload, uploadId, partNumbers, { size, partSize }, expiry(target, expiresIn), target.now())
}

/** What `resumeMultipartUpload` returns. */
export interface ResumedMultipartUpload {
  /** The parts the server already holds. */
  parts: UploadedPart[]
  /** A fresh URL for every other part of the file, each signed with its length. */
  urls: PresignedPart[]
  /** The upload's part size: every part is this long but the last. */
  partSize: number
  /** How many parts the file makes with `partSize`: parts 1..partCount. */
  partCount: number
}

/**
 * What a resuming client needs: the parts the server holds, and fresh URLs
 * for the rest of the file. The part size is the one the upload began with
 * where the server shows it (part 1, unless it is the whole file, was signed
 * with exactly that length), else `options.partSize` raised as
 * `createMultipartUpload` raises it: a resume after the configured part size
 * changed still fits the parts already sent, and no client says what the
 * parts are.
 * @returns the uploaded parts, the URLs for the missing ones, the part size and count.
 * @throws SuspiciousFileOperationError for a token that is not a pending upload;
 *   InvalidArgumentError for a missing or bad `size` or `partSize`, or a bad id or expiry;
 *   FileNotFoundError (ENOENT) when the upload was completed or aborted.
 */
export async function resumeMultipartUpload(
  target: DirectUploadTarget,
  token: string,
  uploadId: string,
  options: PresignUploadPartsOptions,
): Promise<ResumedMultipartUpload> {
  const { upload } = parseToken(target, token)
  const { size, partSize: configured, expiresIn } = options ?? ({} as PresignUploadPartsOptions)
  // Every option is checked before the request, the expiry too (even when no part is missing).
  const planned = uploadPartSize(size, configured)
  const seconds = expiry(target, expiresIn)
  const parts = await listUploadedParts(target, upload, uploadId)
  const first = parts[0]?.partNumber === 1 ? parts[0] : undefined
  const partSize = first && first.size < size ? uploadPartSize(size, first.size) : planned
  const partCount = Math.ceil(size / partSize)
  const have = new Set(parts.map((p) => p.partNumber))
  const missing = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !have.has(n))
  const urls = await signParts(target, upload, uploadId, missing, { size, partSize }, seconds, target.now())
  return { parts, urls, partSize, partCount }
}

/**
 * The parts the server holds for a multipart upload: a resuming client
 * sends only the others.
 * @returns the parts, by part number.
 * @throws FileNotFoundError (ENOENT, from the S3 error) when the upload was completed or aborted.
 */
export async function listUploadedParts(target: DirectUploadTarget, token: string, uploadId: string): Promise<UploadedPart[]> {
  const { upload } = parseToken(target, token)
  checkUploadId(uploadId)
  const parts: UploadedPart[] = []
  let marker: string | undefined
  do {
    const res = await target.client.send(new ListPartsCommand({ Bucket: target.bucket, Key: target.key(upload), UploadId: uploadId, PartNumberMarker: marker }))
    for (const p of res.Parts ?? []) parts.push({ partNumber: p.PartNumber!, size: p.Size ?? 0, etag: p.ETag ?? '' })
    marker = res.IsTruncated ? res.NextPartNumberMarker : undefined
  } while (marker)
  return parts.sort((a, b) => a.partNumber - b.partNumber)
}

/**
 * Completes a multipart upload from the parts the server lists (the browser
 * need not read ETags, which CORS hides by default). The result is still a
 * pending object: `confirmUpload` it.
 * @returns the size of the pending object.
 * @throws StorageError (`EINCOMPLETE`) when parts are missing or the size differs (the upload stays open, so the client can send them);
 *   FileNotFoundError (ENOENT) when the upload is unknown, completed or aborted.
 */
export async function completeMultipartUpload(
  target: DirectUploadTarget,
  token: string,
  uploadId: string,
  options: CompleteMultipartOptions = {},
): Promise<{ size: number }> {
  const { upload, name } = parseToken(target, token)
  const parts = await listUploadedParts(target, upload, uploadId)
  const size = parts.reduce((sum, p) => sum + p.size, 0)
  const gap = parts.findIndex((p, i) => p.partNumber !== i + 1)
  const missing =
    gap >= 0 ||
    parts.length === 0 ||
    (options.partCount !== undefined && parts.length !== options.partCount) ||
    (options.size !== undefined && size !== options.size)
  if (missing) {
    throw new StorageError(`Upload '${name}' is incomplete: the server has ${parts.length} part(s), ${size} bytes`, {
      code: 'EINCOMPLETE',
      context: { upload, parts: parts.map((p) => p.partNumber), size, expected: options },
    })
  }
  const completed: CompletedPart[] = parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag }))
  await target.client.send(
    new CompleteMultipartUploadCommand({ Bucket: target.bucket, Key: target.key(upload), UploadId: uploadId, MultipartUpload: { Parts: completed } }),
  )
  return { size }
}

/**
 * Cancels a pending upload: spends its token (a confirmation after the abort
 * is `EEXIST`, as after a confirmation), aborts its multipart upload (when
 * `uploadId` is given) and deletes the pending object, so nothing of it is
 * left or billed. Aborting what is already gone is not an error.
 * @throws SuspiciousFileOperationError for a token that is not a pending upload; InvalidArgumentError for a bad `uploadId`.
 */
export async function abortUpload(target: DirectUploadTarget, token: string, uploadId?: string): Promise<void> {
  const { upload, id } = parseToken(target, token)
  const Key = target.key(upload)
  if (uploadId !== undefined) checkUploadId(uploadId)
  // Spent first: the URL or form stays valid until it expires, and a body landing after
  // the delete (a retry in flight, a replay) must not become a file by a later confirm.
  await spendUpload(target, id)
  if (uploadId !== undefined) {
    try {
      await target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key, UploadId: uploadId }))
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }
  await target.client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key }))
}

/**
 * Aborts the multipart uploads under the pending prefix started more than
 * `cutoff` ago: browsers that went away mid-upload.
 * @returns how many were aborted.
 */
export async function abortStaleMultipartUploads(target: DirectUploadTarget, cutoff: number): Promise<number> {
  const Prefix = target.key(`${target.pendingPrefix}/`)
  let aborted = 0
  let keyMarker: string | undefined
  let idMarker: string | undefined
  do {
    const res = await target.client.send(new ListMultipartUploadsCommand({ Bucket: target.bucket, Prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }))
    const stale = (res.Uploads ?? []).filter((u) => u.Key && u.UploadId && u.Initiated && u.Initiated.getTime() <= cutoff)
    await Promise.all(
      stale.map((u) =>
        target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: u.Key!, UploadId: u.UploadId! })).catch((err: unknown) => {
          if (!isNotFound(err)) throw err
        }),
      ),
    )
    aborted += stale.length
    const more = res.IsTruncated && (res.NextKeyMarker !== keyMarker || res.NextUploadIdMarker !== idMarker)
    keyMarker = more ? res.NextKeyMarker : undefined
    idMarker = more ? res.NextUploadIdMarker : undefined
  } while (keyMarker)
  return aborted
}

/** Whether an ETag is a multipart one (`"<md5 of md5s>-<parts>"`): it is not the MD5 of the bytes. */
export function isMultipartEtag(etag: string | undefined): boolean {
  return /-\d+"?$/.test(etag ?? '')
}

/**
 * Copies `sourceKey` (`size` bytes, ETag `etag`) over `params.Key` with
 * UploadPartCopy, for sources past CopyObject's 5 GiB. Each part copy is
 * conditional on the source ETag (servers that honour it refuse a replaced
 * source); the upload is aborted on any failure, `signal` included.
 * @returns the ETag of the copy.
 * @throws the SDK's error (412 when a server honours the condition and the source changed; AbortError when `signal` fires).
 */
export async function copyInParts(
  target: DirectUploadTarget,
  sourceKey: string,
  params: UploadParams,
  size: number,
  etag: string | undefined,
  partSize: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const { client } = target
  const options = signal ? { abortSignal: signal } : undefined
  const created = await client.send(new CreateMultipartUploadCommand(params as CreateMultipartUploadCommandInput), options)
  const UploadId = created.UploadId!
  const CopySource = `${target.bucket}/${encodeURIComponent(sourceKey).replace(/%2F/g, '/')}`
  try {
    const count = Math.ceil(size / partSize)
    const parts: CompletedPart[] = []
    // A few at a time: each is a server-side copy, cheap for us but not for the server.
    for (let first = 1; first <= count; first += 4) {
      const batch = Array.from({ length: Math.min(4, count - first + 1) }, (_, i) => first + i)
      parts.push(
        ...(await Promise.all(
          batch.map(async (PartNumber) => {
            const start = (PartNumber - 1) * partSize
            const end = Math.min(size, start + partSize) - 1
            const res = await client.send(
              new UploadPartCopyCommand({
                Bucket: params.Bucket,
                Key: params.Key,
                UploadId,
                PartNumber,
                CopySource,
                CopySourceRange: `bytes=${start}-${end}`,
                CopySourceIfMatch: etag,
              }),
              options,
            )
            return { PartNumber, ETag: res.CopyPartResult?.ETag }
          }),
        )),
      )
    }
    const done = await client.send(
      new CompleteMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId, MultipartUpload: { Parts: parts } }),
      options,
    )
    return done.ETag
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId })).catch(() => undefined)
    throw err
  }
}

/** @returns the size of the object under `key`. */
export async function objectSize(target: DirectUploadTarget, key: string): Promise<number | undefined> {
  const head = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }))
  return head.ContentLength
}
