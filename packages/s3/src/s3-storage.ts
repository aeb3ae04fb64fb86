/**
 * `S3Storage`: the Stowage contract on AWS S3 and S3-compatible stores
 * (MinIO, Ceph RGW, Cloudflare R2). It implements only the primitives;
 * naming, path safety and abort handling come from `BaseStorage`.
 *
 * Collision safety: a name is claimed with a conditional create
 * (`If-None-Match: *`), which the server refuses with 412 when the key
 * exists; we then ask the pipeline for the next name and retry. Small bodies
 * are buffered (up to `multipartThreshold`) so they can be sent again under
 * the new name. Large bodies are streamed through a multipart upload, and
 * since Ceph (and older MinIO) ignore `If-None-Match` on
 * CompleteMultipartUpload, their name is claimed *first* with an empty
 * placeholder object, then the upload replaces it; a failed upload deletes
 * the placeholder. The cost is that a reader may see a 0-byte object under
 * that name while a large upload is in progress.
 */
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { MIMEType } from 'node:util'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import {
  BaseStorage,
  readAll,
  candidateNames,
  contentDisposition as dispositionHeader,
  encodeUrlPath,
  FileExistsError,
  isInlineSafe,
  MAX_CLAIM_ATTEMPTS,
  overwriteName,
  safeName,
  splitName,
  InvalidArgumentError,
  StorageError,
  type ByteRange,
  type CopyRequest,
  type DirectoryListing,
  type FileStat,
  type StorageDescription,
  type UrlOptions,
  type WriteRequest,
} from '@stowage/core'
import { guessContentType } from './content-types.js'
import { readUpTo } from './read-up-to.js'
import {
  cleanupPendingUploads,
  confirmUpload,
  cutoffFor,
  presignPost,
  presignPut,
  type CleanupPendingOptions,
  type ConfirmUploadOptions,
  type ConfirmedUpload,
  type DirectUploadTarget,
  copyMatches,
  promote,
  type PresignedPost,
  type PresignedPostOptions,
  type PresignedPut,
  type PresignedPutOptions,
  type UploadParams,
} from './direct-upload.js'
import { bytesParts, choosePartSize, growingPartSize, multipartUpload, PartPool, PartReader, type PartSource } from './multipart.js'
import { createGetPresigner, type GetPresigner } from './presign.js'
import {
  abortUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listUploadedParts,
  presignUploadParts,
  resumeMultipartUpload,
  type CompleteMultipartOptions,
  type MultipartUploadOptions,
  type PresignedMultipartUpload,
  type PresignedPart,
  type PresignUploadPartsOptions,
  type ResumedMultipartUpload,
  type UploadedPart,
} from './multipart-upload.js'
import { clientRegion, MAX_EXPIRES_IN, resolveS3Options, type ResolvedS3Options, type S3StorageOptions } from './options.js'
import { httpStatus, isNotFound, isPreconditionFailed, mapS3Error, optionError, s3Code } from './s3-errors.js'
import { applyHints, type ObjectHints } from './save-hints.js'

/** User-metadata key (`x-amz-meta-stowage-write-id`) marking which save wrote an object. */
const WRITE_ID = 'stowage-write-id'

/**
 * Storage on an S3 bucket. See `S3StorageOptions` for configuration.
 * @throws ConfigurationError from the constructor for invalid options.
 */
export class S3Storage extends BaseStorage {
  /** The SDK client, for operations Stowage does not wrap. */
  readonly client: S3Client
  /** The resolved options (defaults applied). */
  readonly options: Readonly<ResolvedS3Options>
  private presignClient: S3Client | undefined
  private presigner: Promise<GetPresigner | undefined> | undefined
  private readonly ownsClient: boolean
  /** The bucket answered a HEAD once: a 404 from then on is a missing key. */
  private bucketSeen = false
  // With conditional writes a taken name shows up as 412 on the claim itself,
  // so save() need not HEAD each name first (one request per save, as raw PUTs).
  protected override readonly atomicClaims: boolean

  /**
   * Builds the client (unless `client` is given); sends no request.
   * @throws ConfigurationError naming the first bad option (see `resolveS3Options`).
   */
  constructor(options: S3StorageOptions) {
    super(options)
    const opts = resolveS3Options(options)
    this.options = opts
    this.atomicClaims = opts.conditionalWrites
    this.ownsClient = !options.client
    // Bounded by default: the SDK alone waits forever on a stalled socket.
    const transport = {
      maxAttempts: opts.maxAttempts,
      requestHandler: {
        connectionTimeout: opts.connectionTimeout,
        socketTimeout: opts.socketTimeout,
        httpsAgent: { maxSockets: opts.maxSockets },
        httpAgent: { maxSockets: opts.maxSockets },
      },
    }
    // Everything but the checksum settings is shared, so the presign client
    // below signs for the very region (and endpoint, credentials) the main
    // client sends requests to: `clientRegion` decides the region once.
    const shared = {
      ...transport,
      ...options.clientConfig,
      region: clientRegion(opts, options.clientConfig),
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: options.credentials ?? options.clientConfig?.credentials,
    }
    this.client =
      options.client ??
      new S3Client({
        ...shared,
        requestChecksumCalculation: opts.requestChecksumCalculation,
        responseChecksumValidation: opts.responseChecksumValidation,
      })
    // Presigned PUTs must not carry the SDK's checksum of an empty body (the
    // browser's real body would then fail it), whatever the upload setting is.
    if (!options.client && opts.requestChecksumCalculation !== 'WHEN_REQUIRED') {
      this.presignClient = new S3Client({ ...shared, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
    }
  }

  /** @returns the S3 key of a (validated) storage name: `location` + `/` + name. The name is not checked here. Never throws. */
  key(name: string): string {
    return this.options.location ? `${this.options.location}/${name}` : name
  }

  /**
   * Headers of every stored object: ACL, object parameters, content type
   * (given or guessed), and `Content-Disposition: attachment` for active
   * types, so the bucket serves HTML or SVG as a download, not as a page;
   * and the save's own header hints (`SaveOptions.cacheControl` and the
   * rest), which the storage's object parameters override.
   */
  private uploadParams(name: string, contentType: string | undefined, hints?: ObjectHints): UploadParams {
    // Assigned onto a fresh object, not spread first into a literal: V8 gave
    // each object made that way a hidden class of its own once the object
    // parameters had any key, about 5 µs per save, copy or presign.
    // An own `__proto__` key (JSON configuration can have one) stays a plain
    // key as the spread made it: Object.assign would set the prototype with it.
    const own = this.options.objectParameters(name)
    const params = (own != null && Object.hasOwn(own, '__proto__') ? { ...own } : Object.assign({}, own)) as UploadParams
    params.Bucket = this.options.bucket
    params.Key = this.key(name)
    const type = contentType ?? guessContentType(name)
    if (type) params.ContentType = type
    if (!params.ContentDisposition && !this.deliversInline(type)) params.ContentDisposition = 'attachment'
    const acl = applyHints(params, hints)
    if (this.options.defaultAcl && acl) params.ACL = this.options.defaultAcl
    return params
  }

  /**
   * Whether `type` may be shown inline from the bucket: passive, or opted in
   * by `inlineTypes`, read as `isInlineSafe` reads a type. A browser takes a
   * comma-separated Content-Type as a list and uses its last member, so
   * `application/x-listed; x=a,text/html` is a page, whatever its first
   * member is; and the WHATWG parser decides the essence, not a split at `;`.
   */
  private deliversInline(type: string | undefined): boolean {
    if (isInlineSafe(type)) return true
    if (!type || type.includes(',')) return false
    try {
      return this.options.inlineTypes.has(new MIMEType(type.trim()).essence)
    } catch {
      return false
    }
  }

  // ---- primitives -------------------------------------------------------

  protected async _write(req: WriteRequest): Promise<string> {
    const { source, signal } = req
    const conditional = !req.overwrite && this.options.conditionalWrites
    const threshold = this.options.multipartThreshold
    let small: Buffer | undefined
    let parts: PartSource | undefined
    if (source.bytes && source.bytes.byteLength <= threshold) {
      small = Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength)
    } else if (source.bytes) {
      // Already in memory: the parts are slices of it, no copy and no pool.
      parts = bytesParts(source.bytes, choosePartSize(this.options.partSize, source.bytes.byteLength))
    } else if (source.size !== undefined && source.size <= threshold) {
      // A stream known to be small: read it whole, at its own size (a pooled
      // part buffer would reserve `partSize` for a few kilobytes).
      small = await readAll(source.stream)
    } else {
      // A stream is copied into a fixed pool of part buffers, reused from part
      // to part: memory stays at `capacity × partSize` whatever its length.
      // The read-ahead that decides PUT vs multipart fills the same buffers.
      const partSize = choosePartSize(this.options.partSize, source.size)
      const capacity = Math.max(this.options.queueSize, Math.ceil(threshold / partSize))
      // Unknown length: `partSize` parts first, growing as the stream proves
      // long, so a short stream holds small buffers and a long one still
      // fits S3's 10,000 parts (up to 5 TiB); not where the server needs
      // parts of one size (`uniformParts`: R2).
      const sizing = source.size === undefined && !this.options.uniformParts ? (sent: number) => growingPartSize(partSize, sent) : undefined
      const reader = new PartReader(source.stream, new PartPool(partSize, capacity), sizing)
      if (source.size !== undefined) {
        parts = reader
      } else {
        // Unknown length: read up to the threshold to decide. A body we hold
        // whole can be resent under a new name after losing a claim.
        const head = await readUpTo(reader, threshold)
        if (head.bytes) small = head.bytes
        else parts = reader
      }
    }

    let name = req.name
    // Marks our conditional writes: when the SDK retries a PUT whose response
    // was lost, the retry gets 412 for the object we wrote ourselves, and
    // this id tells that apart from a name taken by someone else.
    const writeId = conditional ? randomUUID() : undefined
    if (small) {
      for (;;) {
        const params = this.uploadParams(name, req.contentType, req)
        try {
          await this.client.send(
            new PutObjectCommand({
              ...params,
              Body: small,
              ContentLength: small.length,
              IfNoneMatch: conditional ? '*' : undefined,
              Metadata: writeId ? { ...params.Metadata, [WRITE_ID]: writeId } : params.Metadata,
            }),
            sendOptions(signal),
          )
          return name
        } catch (err) {
          if (!conditional) throw err
          if (await this.landedDespite(err, name, writeId!, signal)) return name
          name = await req.nextName()
        }
      }
    }

    let claimed = false
    if (conditional) {
      name = await this.claimPlaceholder(name, () => req.nextName(), writeId!, signal)
      claimed = true
    }
    try {
      await multipartUpload({
        client: this.client,
        params: this.uploadParams(name, req.contentType, req),
        parts: parts!,
        queueSize: this.options.queueSize,
        signal,
      })
      return name
    } catch (err) {
      if (claimed) await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) })).catch(() => undefined)
      throw err
    }
  }

  /**
   * Claims `name`, or the next candidate after a 412, with an empty
   * placeholder object written with `If-None-Match: *`; the caller then
   * replaces it with the real body (multipart, or a copy) or deletes it.
   * @returns the name claimed.
   */
  private async claimPlaceholder(first: string, next: () => Promise<string>, writeId: string, signal?: AbortSignal): Promise<string> {
    let name = first
    for (;;) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.options.bucket,
            Key: this.key(name),
            Body: Buffer.alloc(0),
            ContentLength: 0,
            IfNoneMatch: '*',
            Metadata: { 'stowage-upload': 'pending', [WRITE_ID]: writeId },
          }),
          sendOptions(signal),
        )
        return name
      } catch (err) {
        if (await this.landedDespite(err, name, writeId, signal)) return name
        name = await next()
      }
    }
  }

  /**
   * After a conditional PUT under `name` failed. A 412 is a retry refused for
   * the object an earlier attempt stored (it carries `writeId`) or a name
   * taken by someone else. Any other failure: the server may have stored it
   * all the same, its answer lost (a reset on every attempt, each retry
   * refused with a 412 nobody heard) or no longer awaited (the save aborted
   * while the PUT was in flight). Left there, a save that failed would have
   * stored an object, or a large save a 0-byte placeholder. An object
   * carrying `writeId` is this write's: kept when the save goes on (it is
   * complete: S3 stores a PUT whole or not at all), deleted when the save was
   * aborted. Best effort: a PUT the server finishes only after this look is
   * not seen.
   * @returns true when the write landed and the caller should go on with `name`; false after a 412 for a name taken by another.
   * @throws `err` for any other failure.
   */
  private async landedDespite(err: unknown, name: string, writeId: string, signal: AbortSignal | undefined): Promise<boolean> {
    if (isPreconditionFailed(err)) return this.writtenBy(name, writeId)
    // Asked on every failure, 4xx included: the error is the last attempt's, and an earlier one may have landed.
    if (await this.writtenBy(name, writeId).catch(() => false)) {
      if (!signal?.aborted) return true
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) })).catch(() => undefined)
    }
    throw err
  }

  /**
   * The final name of a confirmed direct upload, claimed as `save()` claims
   * one: the name or a free variant (every candidate held to `safeName`), or
   * the name itself on an `overwrite` storage.
   */
  private async claimFinalName(name: string, maxLength: number | undefined): Promise<{ name: string; placeholder: boolean }> {
    if (this.allowOverwrite) return { name: safeName(overwriteName(name, maxLength)), placeholder: false }
    if (!this.options.conditionalWrites) return { name: await this.getAvailableName(name, { maxLength }), placeholder: false }
    const candidates = candidateNames(name, { random: this.randomSuffix, maxLength })
    let attempts = 0
    const next = async (): Promise<string> => {
      if (++attempts >= MAX_CLAIM_ATTEMPTS) throw new FileExistsError(name, { context: { attempts } })
      return safeName(candidates.next().value)
    }
    return { name: await this.claimPlaceholder(safeName(candidates.next().value), next, randomUUID()), placeholder: true }
  }

  /**
   * Where copies switch from one CopyObject to UploadPartCopy (S3's 5 GiB
   * limit) and the part size there; tests lower them to reach that path.
   */
  protected copyLimits: Pick<DirectUploadTarget, 'maxCopySize' | 'copyPartSize'> = {}

  /**
   * Copies inside the bucket (CopyObject, or UploadPartCopy past 5 GiB): the
   * bytes never pass through this process. The copy is stored as `save()`
   * would store it: the request's content type (else the source's), the
   * `Content-Disposition` rule for active types and `inlineTypes`, the
   * request's header hints, `objectParameters` and `defaultAcl`. Without
   * `overwrite` the name is claimed first with an empty placeholder, as a
   * large save claims it, so the copy never replaces someone else's object.
   * @throws FileNotFoundError naming `from` when it is missing; StorageError
   *   (`ECHANGED`) when `from` was replaced while it was copied (nothing is kept).
   */
  protected override async _copy(from: string, req: CopyRequest): Promise<string> {
    const { signal } = req
    const sourceKey = this.key(from)
    const target = this.target()
    // Replacing is asked for, or (no conditional writes) the pipeline found the name free, as for save().
    const replacing = req.overwrite || !this.options.conditionalWrites
    const head = () => this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: sourceKey }), sendOptions(signal))
    // The source's size, ETag and type come from one HeadObject, skipped when
    // replacing with the type given: one CopyObject then. A source past
    // CopyObject's 5 GiB answers 400 InvalidRequest, and is looked at after
    // all, to be copied in parts.
    let source = replacing && req.contentType !== undefined ? undefined : await head().catch((err: unknown) => this.copyError(err, from))
    const name = replacing ? req.name : await this.claimPlaceholder(req.name, () => req.nextName(), randomUUID(), signal)
    const changed = (cause?: unknown) =>
      new StorageError(`'${from}' changed while it was being copied`, { code: 'ECHANGED', ...(cause !== undefined && { cause }), context: { name: from } })
    try {
      // Once: the HEAD is skipped only when the type is given, so a late HEAD never changes these.
      const params = this.uploadParams(name, req.contentType ?? source?.ContentType, req)
      const copy = () => promote(target, sourceKey, params, source?.ContentLength ?? 0, source?.ETag, signal)
      const copied = await copy().catch(async (err: unknown) => {
        if (source || s3Code(err) !== 'InvalidRequest') throw err
        source = await head()
        return copy()
      })
      // Ceph ignores CopySourceIfMatch: a source replaced since the HEAD shows in the copy's ETag (or size).
      if (!replacing && !copyMatches(source!.ETag, source!.ContentLength ?? 0, copied, params)) throw changed()
      return name
    } catch (err) {
      // Ours: the placeholder, or the copy over it.
      if (!replacing) await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) })).catch(() => undefined)
      if (isPreconditionFailed(err)) throw changed(err)
      return this.copyError(err, from)
    }
  }

  /** @throws `err` as a copy's error: a missing source (or bucket) named as such, anything else mapped for `from`. */
  private async copyError(err: unknown, from: string): Promise<never> {
    if (isNotFound(err)) await this.assertBucket(err)
    throw this.mapError(err, 'copy', from) // names the missing source, not the target
  }

  /** @returns whether the object under `name` carries our write id (our own write, answered 412 on a retry). */
  private async writtenBy(name: string, writeId: string | undefined): Promise<boolean> {
    if (!writeId) return false
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) }))
      return head.Metadata?.[WRITE_ID] === writeId
    } catch (err) {
      if (isNotFound(err)) return false
      throw err
    }
  }

  protected async _open(name: string, range: ByteRange): Promise<Readable> {
    const { start, end } = range
    const header = start === undefined && end === undefined ? undefined : `bytes=${start ?? 0}-${end ?? ''}`
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(name), Range: header }))
      return res.Body instanceof Readable ? res.Body : Readable.from([])
    } catch (err) {
      // A range past the end of an existing object: nothing to read, as on disk.
      if (header && (httpStatus(err) === 416 || s3Code(err) === 'InvalidRange')) return Readable.from([])
      throw err
    }
  }

  protected override async _read(name: string): Promise<Uint8Array> {
    // One GET collected by the SDK: cheaper than a stream we concatenate.
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) }))
    return res.Body ? res.Body.transformToByteArray() : new Uint8Array()
  }

  protected async _delete(name: string): Promise<void> {
    // S3 answers 204 for missing keys too, which is the contract's "not an error".
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) }))
  }

  protected override async _exists(name: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) }))
      return true
    } catch (err) {
      if (!isNotFound(err)) throw err
      await this.assertBucket(err)
      return false
    }
  }

  protected async _stat(name: string): Promise<FileStat> {
    const res = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) })).catch(async (err: unknown) => {
      if (isNotFound(err)) await this.assertBucket(err)
      throw err
    })
    return {
      size: res.ContentLength ?? 0,
      modified: res.LastModified ?? new Date(0),
      contentType: res.ContentType,
      etag: res.ETag?.replace(/^"|"$/g, ''),
    }
  }

  /**
   * A HEAD answers 404 with no body for a missing key and for a missing
   * bucket alike; a mistyped bucket would make every file look absent. So on
   * a 404 ask once whether the bucket exists, and remember a yes.
   * @throws ConfigurationError naming `bucket` when it does not exist.
   */
  private async assertBucket(cause: unknown): Promise<void> {
    if (this.bucketSeen) return
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }))
      this.bucketSeen = true
    } catch (err) {
      if (httpStatus(err) === 404 || s3Code(err) === 'NoSuchBucket' || s3Code(err) === 'NotFound') {
        throw optionError(`'${this.options.bucket}' does not exist`, 'bucket', this.options.alias, { cause: err, context: { headObject: cause } })
      }
      throw err
    }
  }

  protected async _listdir(dir: string): Promise<DirectoryListing> {
    const prefix = this.key(dir ? `${dir}/` : '')
    const dirs: string[] = []
    const files: string[] = []
    let token: string | undefined
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token, MaxKeys: this.options.listPageSize }),
      )
      for (const o of res.Contents ?? []) {
        const rest = o.Key?.slice(prefix.length)
        // `prefix` itself is a "folder" marker some consoles create, not a file.
        if (rest) files.push(rest)
      }
      for (const p of res.CommonPrefixes ?? []) {
        const rest = p.Prefix?.slice(prefix.length).replace(/\/$/, '')
        if (rest) dirs.push(rest)
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined
    } while (token)
    return { dirs: dirs.sort(), files: files.sort() }
  }

  protected async _url(name: string, options: UrlOptions): Promise<string> {
    const { customDomain, urlProtocol, querystringAuth } = this.options
    const key = this.key(name)
    if (options.download === undefined && customDomain) return `${urlProtocol}//${customDomain}/${encodeUrlPath(key)}`
    if (options.download === undefined && !querystringAuth) return this.plainUrl(key)
    // Forcing a download needs signed response-header overrides, even for public objects.
    const expiresIn = options.expiresIn ?? this.options.expiresIn
    if (expiresIn > MAX_EXPIRES_IN) {
      throw new InvalidArgumentError(`expiresIn must be at most ${MAX_EXPIRES_IN} seconds (7 days), got ${expiresIn}`, { argument: 'expiresIn' })
    }
    // An active type (judged by the name, as nothing else is known without a
    // request) is forced to download even when stored without the header,
    // unless the storage's own object parameters chose a disposition for it.
    const forced = !this.deliversInline(guessContentType(name)) && !this.options.objectParameters(name).ContentDisposition
    const download = options.download ?? (forced ? splitName(name)[1] : undefined)
    const disposition = download === undefined ? undefined : dispositionHeader('attachment', download)
    const signingDate = this.options.now()
    const client = this.presignClient ?? this.client
    const presigner = await this.getPresigner()
    if (presigner) {
      const credentials = await client.config.credentials()
      if (typeof credentials?.accessKeyId === 'string' && typeof credentials.secretAccessKey === 'string') {
        return presigner.presign(key, { credentials, expiresIn, signingDate, responseContentDisposition: disposition })
      }
    }
    // A client of the caller's own, a URL shape presign.ts does not make, or
    // credentials the SDK will refuse with its own error.
    const command = new GetObjectCommand({ Bucket: this.options.bucket, Key: key, ResponseContentDisposition: disposition })
    return getSignedUrl(client, command, { expiresIn, signingDate })
  }

  /**
   * The direct SigV4 presigner for GET URLs, checked once against the SDK
   * (see presign.ts). Only for clients Stowage built: a caller's own client
   * may carry middleware that changes URLs, so it keeps `getSignedUrl`.
   */
  private getPresigner(): Promise<GetPresigner | undefined> | undefined {
    if (!this.ownsClient) return undefined
    this.presigner ??= createGetPresigner(this.presignClient ?? this.client, this.options.bucket).catch(() => {
      // Failed for a reason the SDK will report on this very call (no
      // credentials yet, say): fall back now and try again next time.
      this.presigner = undefined
      return undefined
    })
    return this.presigner
  }

  /**
   * @returns `s3://bucket/location` (and the endpoint), `presigned` signing, and the
   *   prefix of plain URLs when `url()` gives them (`customDomain`, or
   *   `querystringAuth: false`), so static files are linked straight to the bucket.
   * @throws ConfigurationError (key `region`) when a plain AWS URL needs the region and the SDK's chain finds none, as `url()` does.
   */
  override async describe(): Promise<StorageDescription> {
    const { bucket, location, endpoint, customDomain, urlProtocol, querystringAuth } = this.options
    const prefix = location ? `${location}/` : ''
    const baseUrl = customDomain
      ? `${urlProtocol}//${customDomain}/${encodeUrlPath(prefix)}`
      : querystringAuth
        ? undefined
        : await this.guard('describe', prefix, () => this.plainUrl(prefix))
    const where = `s3://${bucket}/${prefix}${endpoint ? ` at ${endpoint}` : ''}`
    return { backend: this.constructor.name, location: where, ...(baseUrl !== undefined && { baseUrl }), signing: 'presigned' }
  }

  private async plainUrl(key: string): Promise<string> {
    const { endpoint, bucket, forcePathStyle } = this.options
    const path = encodeUrlPath(key)
    if (!endpoint) {
      const region = this.options.region ?? (await this.client.config.region())
      return forcePathStyle ? `https://s3.${region}.amazonaws.com/${bucket}/${path}` : `https://${bucket}.s3.${region}.amazonaws.com/${path}`
    }
    const u = new URL(endpoint)
    const base = u.pathname.replace(/\/+$/, '')
    return forcePathStyle ? `${u.protocol}//${u.host}${base}/${bucket}/${path}` : `${u.protocol}//${bucket}.${u.host}${base}/${path}`
  }

  /**
   * Asks the server whether it honours `If-None-Match: *` on PutObject, by
   * writing a probe object twice under `location` (then deleting it). Run it
   * once against a new kind of server: when it answers false, set
   * `conditionalWrites: false` and know that concurrent saves of one name can
   * overwrite each other there.
   * @returns true when the second write was refused (412), so names are claimed atomically.
   * @throws PermissionDeniedError (EACCES) when the credentials cannot write.
   */
  async supportsConditionalWrites(): Promise<boolean> {
    const name = `.stowage-probe-${randomUUID()}`
    const put = () =>
      this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.key(name), Body: Buffer.alloc(0), ContentLength: 0, IfNoneMatch: '*' }))
    try {
      await put()
      try {
        await put()
        return false
      } catch (err) {
        if (isPreconditionFailed(err)) return true
        throw err
      }
    } catch (err) {
      throw this.mapError(err, 'supportsConditionalWrites', name)
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) })).catch(() => undefined)
    }
  }

  protected override mapError(err: unknown, operation: string, name: string): StorageError {
    return mapS3Error(err, operation, name, this.options.bucket, this.options.alias)
  }

  // ---- direct browser uploads ------------------------------------------

  private target(): DirectUploadTarget {
    return {
      client: this.client,
      presignClient: this.presignClient ?? this.client,
      bucket: this.options.bucket,
      key: (name) => this.key(name),
      pendingPrefix: this.options.pendingPrefix,
      uploadParams: (name, contentType) => this.uploadParams(name, contentType),
      conditionalWrites: this.options.conditionalWrites,
      // Verified on Ceph; AWS refuses unsigned x-amz-* headers itself, MinIO and R2 have no object ACLs.
      pinPendingAcl: this.options.provider === 'ceph',
      defaultExpiresIn: this.options.uploadExpiresIn,
      now: this.options.now,
      claimFinalName: (name, maxLength) => this.claimFinalName(name, maxLength),
      ...this.copyLimits,
    }
  }

  /**
   * A presigned POST form for a browser to upload straight to the bucket,
   * into a pending key of its own (see `confirmUpload`). The policy limits
   * size and content type; the server refuses anything else.
   * @returns the upload token, the validated name, the URL and the form fields.
   * @throws SuspiciousFileOperationError for an unsafe name or one holding `${filename}` (before any request);
   *   InvalidArgumentError (`EINVAL`) for bad limits or expiry.
   */
  async presignPost(name: string, options: PresignedPostOptions): Promise<PresignedPost> {
    return this.guard('presignPost', name, () => presignPost(this.target(), name, options))
  }

  /**
   * A presigned PUT URL for a browser to upload straight to the bucket, into
   * a pending key of its own. With conditional writes the URL also requires
   * `If-None-Match: *`, so it cannot replace what it uploaded. Give `size` to
   * sign the body's exact length; on Ceph (`provider: 'ceph'`) the URL also
   * signs `x-amz-acl: private`, so no header added to it can publish the upload,
   * and `x-amz-metadata-directive: COPY`, so an added `x-amz-copy-source` (which
   * Ceph honours unsigned) makes a copy `confirmUpload` refuses.
   * @returns the upload token, the validated name, the URL, and the headers the upload must send.
   * @throws SuspiciousFileOperationError for an unsafe name (before any request); InvalidArgumentError for a bad expiry or size.
   */
  async presignPut(name: string, options: PresignedPutOptions = {}): Promise<PresignedPut> {
    return this.guard('presignPut', name, () => presignPut(this.target(), name, options))
  }

  /**
   * Checks a browser's upload with a field's validators, then moves it to a
   * free final name (`options.name` when given, else the signed one; never
   * replacing an existing object) and deletes the pending object, except
   * after `EEXIST` (the confirmation that claimed it deletes it). Each upload
   * can be confirmed once.
   * @returns the stored name (keep it), size, stored and detected type, image dimensions.
   * @throws ValidationError (EVALIDATION) listing every failed rule (nothing is kept);
   *   FileNotFoundError (ENOENT) when nothing was uploaded yet; FileExistsError
   *   (EEXIST) when this upload was already confirmed; SuspiciousFileOperationError
   *   for a token that is not a pending upload or an unsafe `options.name` (before
   *   any request), and for a pending object its URL or form did not write (with `provider: 'ceph'`: a copy of
   *   another object, which a PUT URL's holder can make on Ceph: deleted, the token spent);
   *   StorageError (`ECHANGED`) when the object was replaced while it was checked.
   */
  async confirmUpload(upload: string, options: ConfirmUploadOptions = {}): Promise<ConfirmedUpload> {
    return this.guard('confirmUpload', upload, () => confirmUpload(this.target(), upload, options))
  }

  /**
   * Deletes pending uploads nobody confirmed (abandoned, refused mid-way,
   * replayed forms) older than `olderThan` seconds, and aborts multipart
   * uploads under the pending prefix started before then; a confirmation marker is kept
   * for `uploadExpiresIn` at least (it refuses a replayed form a second confirmation). Run it daily, or
   * give the bucket a lifecycle rule expiring `<location>/<pendingPrefix>/`
   * (and aborting its incomplete multipart uploads) after a day.
   * @returns the number of objects deleted plus multipart uploads aborted.
   * @throws InvalidArgumentError for a bad `olderThan`; StorageError for backend failures.
   */
  async cleanupPendingUploads(options: CleanupPendingOptions = {}): Promise<number> {
    return this.guard('cleanupPendingUploads', this.options.pendingPrefix, () => cleanupPendingUploads(this.target(), options))
  }

  /**
   * Deletes the empty placeholders that large saves and direct-upload
   * confirmations left behind when their process died between claiming a
   * name and writing it (a 0-byte object marked `stowage-upload: pending`,
   * see `save()`), last modified more than `olderThan` seconds ago (default
   * a day: longer than any save runs). Without it such a name keeps an empty
   * file for good. It lists the storage (one request per 1,000 keys) and asks
   * only about empty objects (one HEAD each). Run it with the pending-upload
   * clean-up.
   * @returns the names of the placeholders deleted, sorted.
   * @throws InvalidArgumentError for a negative or non-finite `olderThan`; StorageError for backend failures.
   */
  async cleanupPlaceholders(options: { olderThan?: number } = {}): Promise<string[]> {
    const cutoff = cutoffFor(options.olderThan, this.options.now().getTime())
    return this.guard('cleanupPlaceholders', '', async () => {
      const prefix = this.key('')
      const deleted: string[] = []
      let token: string | undefined
      do {
        const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }))
        const empty = (res.Contents ?? []).filter((o) => o.Key && o.Size === 0 && o.LastModified && o.LastModified.getTime() <= cutoff)
        for (const o of empty) {
          const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: o.Key! })).catch(() => undefined)
          // Only Stowage's own claim, still empty: a file a user saved empty has no such mark,
          // and a placeholder replaced since (the save finished) has a body.
          if (head?.Metadata?.['stowage-upload'] !== 'pending' || head.ContentLength !== 0) continue
          await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: o.Key! }))
          deleted.push(o.Key!.slice(prefix.length))
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined
      } while (token)
      return deleted.sort()
    })
  }

  /**
   * Starts a resumable upload of a big file into a pending key of its own:
   * a multipart upload with a presigned URL per part. Complete it with
   * `completeMultipartUpload`, then `confirmUpload` it like any other.
   * @returns the upload token, upload id, part size and count, and the part URLs.
   * @throws SuspiciousFileOperationError for an unsafe name (before any request);
   *   InvalidArgumentError for a bad size, part size or expiry.
   */
  async createMultipartUpload(name: string, options: MultipartUploadOptions): Promise<PresignedMultipartUpload> {
    return this.guard('createMultipartUpload', name, () => createMultipartUpload(this.target(), name, options))
  }

  /**
   * Fresh URLs for some parts of a multipart upload (on resume, when the first
   * ones may have expired). `options.size` and `partSize`, as given to
   * `createMultipartUpload`, say how long each part is: every URL signs its
   * part's length, as the first ones did.
   * @returns a URL per part number.
   * @throws SuspiciousFileOperationError for a foreign token; InvalidArgumentError for a missing
   *   or bad size or part size, a part number past the file's last part, or a bad `uploadId` or
   *   `expiresIn` (all before any request).
   */
  async presignUploadParts(upload: string, uploadId: string, partNumbers: readonly number[], options: PresignUploadPartsOptions): Promise<PresignedPart[]> {
    return this.guard('presignUploadParts', upload, () => presignUploadParts(this.target(), upload, uploadId, partNumbers, options))
  }

  /**
   * What a resuming client needs (`ListParts`, then fresh part URLs): the
   * parts the server holds, and a URL for every other part of the file,
   * signed with its length. The part size is the one the upload began with
   * where the server shows it, else `options.partSize` as
   * `createMultipartUpload` was given it.
   * @returns the uploaded parts, the URLs for the missing ones, the part size and count.
   * @throws SuspiciousFileOperationError for a foreign token; InvalidArgumentError for a missing or bad size or part size,
   *   or a bad `uploadId` or `expiresIn` (before any request); FileNotFoundError (ENOENT) when the upload was completed or aborted.
   */
  async resumeMultipartUpload(upload: string, uploadId: string, options: PresignUploadPartsOptions): Promise<ResumedMultipartUpload> {
    return this.guard('resumeMultipartUpload', upload, () => resumeMultipartUpload(this.target(), upload, uploadId, options))
  }

  /**
   * The parts the server already holds (`ListParts`): a resuming client sends only the rest.
   * @returns parts by number with their sizes.
   * @throws FileNotFoundError (ENOENT) when the upload was completed or aborted.
   */
  async listUploadedParts(upload: string, uploadId: string): Promise<UploadedPart[]> {
    return this.guard('listUploadedParts', upload, () => listUploadedParts(this.target(), upload, uploadId))
  }

  /**
   * Assembles the parts into the pending object (still to be confirmed).
   * @returns its size.
   * @throws StorageError (`EINCOMPLETE`) when parts are missing (the upload stays open);
   *   FileNotFoundError (ENOENT) when it was completed or aborted.
   */
  async completeMultipartUpload(upload: string, uploadId: string, options: CompleteMultipartOptions = {}): Promise<{ size: number }> {
    return this.guard('completeMultipartUpload', upload, () => completeMultipartUpload(this.target(), upload, uploadId, options))
  }

  /**
   * Cancels a pending upload: spends its token (`confirmUpload` is then
   * `EEXIST`, even for bytes its still-valid URL or form sends later, which
   * wait for `cleanupPendingUploads`), aborts its multipart upload (given
   * `uploadId`) and deletes the pending object. Nothing of it is left; resolves once both are gone (a
   * multipart upload already gone is not an error).
   * @throws SuspiciousFileOperationError for a token that is not a pending upload; InvalidArgumentError
   *   (`EINVAL`) for an `uploadId` that is not one S3 could have given; StorageError for backend failures.
   */
  async abortUpload(upload: string, uploadId?: string): Promise<void> {
    return this.guard('abortUpload', upload, () => abortUpload(this.target(), upload, uploadId))
  }

  private async guard<T>(operation: string, name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw this.mapError(err, operation, name)
    }
  }
}

function sendOptions(signal: AbortSignal | undefined): { abortSignal: AbortSignal } | undefined {
  return signal ? { abortSignal: signal } : undefined
}
