/**
 * Direct browser uploads: the server signs, the browser sends the bytes to
 * the bucket, the server confirms. The signature bounds what the bucket
 * accepts (a POST policy limits size and type; a PUT signature pins the
 * content type and, with conditional writes, refuses to replace an object),
 * and `confirmUpload` checks what actually arrived, because a browser can
 * lie about the type. An upload that fails the check is deleted.
 */
import { PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3'
import { createPresignedPost } from '@aws-sdk/s3-presigned-post'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { readAll, safeName, InvalidArgumentError, StorageError, ValidationError, type FileStat, type Storage, type ValidationFailure } from '@stowage/core'
import { fileTypeFromBuffer } from 'file-type'
import { MAX_EXPIRES_IN } from './options.js'

/** What the direct-upload helpers need from an `S3Storage` (internal). */
export interface DirectUploadTarget {
  client: S3Client
  storage: Storage
  bucket: string
  key(name: string): string
  uploadParams(name: string, contentType: string | undefined): Omit<PutObjectCommandInput, 'Body'> & { Bucket: string; Key: string }
  conditionalWrites: boolean
  defaultExpiresIn: number
  now(): Date
  deleteKey(name: string): Promise<void>
}

/** Options for `presignPost`. */
export interface PresignedPostOptions {
  /** Largest body accepted, in bytes (required: an unbounded upload form is a liability). */
  maxSize: number
  /** Smallest body accepted, in bytes. Default 1 (an empty upload is refused). */
  minSize?: number
  /** The exact Content-Type the form must send (it is put in the fields). */
  contentType?: string
  /** A prefix the Content-Type must start with, e.g. `image/`; the browser sets the field. */
  contentTypePrefix?: string
  /** Seconds the form stays valid. Default: the storage's `expiresIn`. */
  expiresIn?: number
  /** Longest name allowed (a database column). */
  maxLength?: number
}

/** A presigned POST form. */
export interface PresignedPost {
  /** The name reserved for the upload; store it, then call `confirmUpload(name)`. */
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
  /** Seconds the URL stays valid. Default: the storage's `expiresIn`. */
  expiresIn?: number
  /** Longest name allowed (a database column). */
  maxLength?: number
}

/** A presigned PUT. */
export interface PresignedPut {
  /** The name reserved for the upload. */
  name: string
  url: string
  method: 'PUT'
  /** Headers the upload must send exactly as given (they are part of the signature). */
  headers: Record<string, string>
  expiresAt: Date
}

/** Facts about an uploaded object, for your own check in `confirmUpload`. */
export interface UploadedObject {
  name: string
  size: number
  /** The Content-Type stored with the object (what the browser claimed). */
  contentType?: string
  /** The type read from the magic bytes, when `file-type` recognises it. */
  detectedType?: string
  /** Up to the first 4100 bytes. */
  head: Uint8Array
}

/** Options for `confirmUpload`. */
export interface ConfirmUploadOptions {
  maxSize?: number
  /** Default 1: an empty object fails. */
  minSize?: number
  /** MIME types accepted, judged by magic bytes (binary formats only: text types cannot be told by their bytes). */
  allowedTypes?: string[]
  /** Your own check: return a message (or throw a ValidationError) to refuse the upload. */
  validate?: (upload: UploadedObject) => string | undefined | void | Promise<string | undefined | void>
}

/** What `confirmUpload` returns for an accepted upload. */
export interface ConfirmedUpload extends FileStat {
  detectedType?: string
}

/** Bytes `file-type` needs to recognise every format it knows. */
const SNIFF_BYTES = 4100

function expiry(target: DirectUploadTarget, expiresIn: number | undefined): number {
  const seconds = expiresIn ?? target.defaultExpiresIn
  if (!(Number.isSafeInteger(seconds) && seconds > 0 && seconds <= MAX_EXPIRES_IN)) {
    throw new InvalidArgumentError(`expiresIn must be an integer between 1 and ${MAX_EXPIRES_IN}, got ${seconds}`)
  }
  return seconds
}

async function reserve(target: DirectUploadTarget, name: string, maxLength: number | undefined): Promise<string> {
  return target.storage.getAvailableName(target.storage.generateFilename(name), { maxLength })
}

/** Object parameters that travel as request headers (PUT) or form fields (POST), with their header names. */
const HEADER_PARAMS = [
  ['CacheControl', 'Cache-Control'],
  ['ContentDisposition', 'Content-Disposition'],
  ['ContentEncoding', 'Content-Encoding'],
  ['ContentLanguage', 'Content-Language'],
] as const

/** Form fields for the object parameters a POST policy can carry. */
function postFields(params: Omit<PutObjectCommandInput, 'Body'>): Record<string, string> {
  const f: Record<string, string> = {}
  if (params.ACL) f.acl = params.ACL
  for (const [param, header] of HEADER_PARAMS) if (params[param]) f[header] = params[param]
  if (params.StorageClass) f['x-amz-storage-class'] = params.StorageClass
  if (params.ServerSideEncryption) f['x-amz-server-side-encryption'] = params.ServerSideEncryption
  for (const [k, v] of Object.entries(params.Metadata ?? {})) f[`x-amz-meta-${k}`] = v
  return f
}

/**
 * Signs a POST form for `name` (or a free variant of it).
 * @throws InvalidArgumentError (`EINVAL`) for bad size limits or expiry.
 */
export async function presignPost(target: DirectUploadTarget, name: string, options: PresignedPostOptions): Promise<PresignedPost> {
  const { maxSize, minSize = 1 } = options
  if (!(Number.isSafeInteger(maxSize) && maxSize >= 0) || !(Number.isSafeInteger(minSize) && minSize >= 0 && minSize <= maxSize)) {
    throw new InvalidArgumentError(`Invalid size limits: minSize ${minSize}, maxSize ${maxSize}`)
  }
  const expiresIn = expiry(target, options.expiresIn)
  const stored = await reserve(target, name, options.maxLength)
  const params = target.uploadParams(stored, options.contentType)
  const fields = postFields(params)
  const conditions: (string[] | [string, number, number] | Record<string, string>)[] = [['content-length-range', minSize, maxSize]]
  if (options.contentType) fields['Content-Type'] = options.contentType
  else if (options.contentTypePrefix !== undefined) conditions.push(['starts-with', '$Content-Type', options.contentTypePrefix])
  else if (params.ContentType) fields['Content-Type'] = params.ContentType
  const expiresAt = new Date(Date.now() + expiresIn * 1000) // createPresignedPost signs with the real clock
  const post = await createPresignedPost(target.client, {
    Bucket: target.bucket,
    Key: target.key(stored),
    Conditions: conditions as never,
    Fields: fields,
    Expires: expiresIn,
  })
  return { name: stored, url: post.url, fields: post.fields, expiresAt }
}

/**
 * Signs a PUT URL for `name` (or a free variant of it).
 * @throws InvalidArgumentError (`EINVAL`) for a bad expiry.
 */
export async function presignPut(target: DirectUploadTarget, name: string, options: PresignedPutOptions): Promise<PresignedPut> {
  const expiresIn = expiry(target, options.expiresIn)
  const stored = await reserve(target, name, options.maxLength)
  const params = target.uploadParams(stored, options.contentType)
  const input: PutObjectCommandInput = { ...params, IfNoneMatch: target.conditionalWrites ? '*' : undefined }
  const signingDate = target.now()
  // The presigner leaves Content-Type unsigned by default; signing it pins the type the browser may send.
  const url = await getSignedUrl(target.client, new PutObjectCommand(input), { expiresIn, signingDate, signableHeaders: new Set(['content-type']) })
  // Headers left in the request (not hoisted into the query) are signed and must be sent as is.
  const headers: Record<string, string> = {}
  if (input.ContentType) headers['Content-Type'] = input.ContentType
  for (const [param, header] of HEADER_PARAMS) if (input[param]) headers[header] = input[param]
  if (input.IfNoneMatch) headers['If-None-Match'] = input.IfNoneMatch
  return { name: stored, url, method: 'PUT', headers, expiresAt: new Date(signingDate.getTime() + expiresIn * 1000) }
}

/**
 * Checks an uploaded object; deletes it and throws when it fails.
 * @throws ValidationError listing every failed rule (the object is deleted first);
 *   FileNotFoundError when no object was uploaded.
 */
export async function confirmUpload(target: DirectUploadTarget, rawName: string, options: ConfirmUploadOptions): Promise<ConfirmedUpload> {
  const { maxSize, minSize = 1, allowedTypes, validate } = options
  // Normalised up front: the delete below must hit the very key that was checked.
  const name = safeName(rawName)
  const stat = await target.storage.stat(name)
  const head = stat.size > 0 ? await readAll(await target.storage.open(name, { start: 0, end: SNIFF_BYTES - 1 })) : new Uint8Array(0)
  const detected = head.length > 0 ? await fileTypeFromBuffer(head) : undefined
  const failures: ValidationFailure[] = []
  if (maxSize !== undefined && stat.size > maxSize) {
    failures.push({ rule: 'maxSize', message: `File is ${stat.size} bytes; the limit is ${maxSize}`, params: { size: stat.size, limit: maxSize } })
  }
  if (stat.size < minSize) {
    failures.push({ rule: 'minSize', message: `File is ${stat.size} bytes; at least ${minSize} required`, params: { size: stat.size, limit: minSize } })
  }
  if (allowedTypes && !(detected && allowedTypes.includes(detected.mime))) {
    failures.push({
      rule: 'allowedTypes',
      message: `File content is ${detected?.mime ?? 'of an unrecognised type'}; allowed: ${allowedTypes.join(', ')}`,
      params: { detected: detected?.mime, claimed: stat.contentType, allowed: allowedTypes },
    })
  }
  if (validate && failures.length === 0) {
    try {
      const message = await validate({ name, size: stat.size, contentType: stat.contentType, detectedType: detected?.mime, head })
      if (message) failures.push({ rule: 'validate', message })
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      failures.push(...err.failures)
    }
  }
  if (failures.length > 0) {
    await target.deleteKey(name)
    throw new ValidationError(failures, { context: { name } })
  }
  return { ...stat, detectedType: detected?.mime }
}
