/**
 * Multipart upload of a stream of any length, written against the bare
 * commands rather than `@aws-sdk/lib-storage` for one guarantee: a failed or
 * aborted upload is always aborted on the server *after* every in-flight part
 * has settled, so no part lands after the abort and no multipart upload is
 * left dangling (they are billed and invisible to listings).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3'
import { InvalidArgumentError, StorageError } from '@stowage/core'
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE } from './options.js'

/** What `multipartUpload` needs. */
export interface MultipartUploadInput {
  client: S3Client
  /** Bucket, Key, ContentType, ACL and object parameters for CreateMultipartUpload. */
  params: CreateMultipartUploadCommandInput & { Bucket: string; Key: string }
  /** The body, already cut into parts (`PartReader` for a stream, `bytesParts` for bytes in memory). */
  parts: PartSource
  /** Parts uploaded at once. */
  queueSize: number
  signal?: AbortSignal
}

/**
 * Part size for a body of `size` bytes (unknown: `undefined`): the configured
 * size, raised to the next MiB that keeps the upload within 10,000 parts.
 * @returns the part size in bytes.
 * @throws StorageError when the body cannot fit in 10,000 parts of 5 GiB (S3's 48.8 TiB limit).
 */
export function choosePartSize(partSize: number, size?: number): number {
  let chosen = Math.max(partSize, MIN_PART_SIZE)
  if (size !== undefined && Math.ceil(size / chosen) > MAX_PARTS) {
    const mib = 1024 * 1024
    chosen = Math.ceil(size / MAX_PARTS / mib) * mib
  }
  if (chosen > MAX_PART_SIZE)
    throw new InvalidArgumentError(`A body of ${size} bytes exceeds S3's largest object (10,000 parts of 5 GiB)`, { argument: 'content' })
  return chosen
}

/**
 * Parts of a stream of unknown length stay at `first` bytes for the first
 * 1,000 parts; then a part is always at least 1/`GROWTH_PARTS` of the bytes
 * sent before it, in doublings of `first`. So a short stream holds small
 * buffers (memory is `capacity × part size`), while 10,000 parts still reach
 * S3's 5 TiB object: from 5 MiB, 1,000 parts and then 500 per doubling, about
 * 6,000 parts in all.
 */
export const GROWTH_PARTS = 1000

/**
 * The size of the next part of a stream of unknown length, `sent` bytes into it.
 * @returns `first` × 2^k bytes for the smallest k that makes it at least
 *   `sent / GROWTH_PARTS`, capped at S3's 5 GiB part.
 */
export function growingPartSize(first: number, sent: number): number {
  let size = first
  while (size * GROWTH_PARTS < sent && size < MAX_PART_SIZE) size *= 2
  return Math.min(size, MAX_PART_SIZE)
}

/** One part of a body: `data` is what to upload. */
export interface Part {
  data: Buffer
  /** Whether no part follows (known as soon as the part is full: the source is read one chunk ahead). */
  last: boolean
}

/** Where `multipartUpload` takes its parts from. */
export interface PartSource {
  /** @returns the next part, or undefined at the end of the body. @throws what the body threw. */
  next(): Promise<Part | undefined>
  /** Hands a part back once its upload settled: its memory may then hold another part. */
  release(part: Part): void
  /** Stops reading the body (after a failure). */
  close(): Promise<void>
}

/**
 * A fixed number of part buffers, allocated on first need and then reused:
 * no more than `capacity` buffers ever exist at once, each the size of the
 * part it was made for. `acquire` waits while every buffer is out, which is
 * what holds back a source faster than the uploads. Parts only grow, so a
 * buffer too small for the size asked is dropped and replaced by one of that
 * size (the pool then holds at most `capacity × the current part size`).
 */
export class PartPool {
  private readonly free: Buffer[] = []
  private readonly waiting: { size: number; resolve: (buffer: Buffer) => void }[] = []
  private count = 0

  /**
   * @param size bytes per buffer when `acquire` is given no size (the first part size).
   * @param capacity the most buffers that will ever exist at once.
   * @param allocate makes one buffer of n bytes; injectable so tests can count.
   */
  constructor(
    readonly size: number,
    readonly capacity: number,
    private readonly allocate: (size: number) => Buffer = (n) => Buffer.allocUnsafeSlow(n),
  ) {}

  /** @returns how many buffers exist (never above `capacity`). */
  get allocated(): number {
    return this.count
  }

  /** @returns a buffer of at least `size` bytes, reused or new; waits for a `release` when all `capacity` are out. */
  acquire(size: number = this.size): Promise<Buffer> {
    for (let buffer = this.free.pop(); buffer; buffer = this.free.pop()) {
      if (buffer.length >= size) return Promise.resolve(buffer)
      this.count-- // outgrown: let it go
    }
    if (this.count < this.capacity) {
      this.count++
      return Promise.resolve(this.allocate(size))
    }
    return new Promise((resolve) => this.waiting.push({ size, resolve }))
  }

  /** Gives a buffer back (the whole buffer `acquire` returned, not a slice of it). */
  release(buffer: Buffer): void {
    const waiter = this.waiting.shift()
    if (!waiter) this.free.push(buffer)
    // An outgrown buffer is replaced one for one: the count stays.
    else if (buffer.length >= waiter.size) waiter.resolve(buffer)
    else waiter.resolve(this.allocate(waiter.size))
  }
}

/** The pooled buffer each part of a `PartReader` was copied into. */
const poolBuffers = new WeakMap<Part, Buffer>()

/**
 * Cuts a stream of chunks of any size into parts of exactly `partSize(sent)`
 * bytes (`pool.size` by default; the last may be shorter; none for an empty
 * body), copying each chunk once, straight into a buffer of `pool`. Nothing
 * is read from the stream while no buffer is free, and at most one chunk is
 * held beyond the parts (read ahead to know whether a full part is the last).
 *
 * Copying is deliberate: sending the source's own chunks would keep each of
 * them alive until its part is acknowledged, long enough for V8 to move them
 * to the old generation, whose garbage is only collected once external
 * memory has grown by 64 MB. Copied, a chunk dies young and the pooled
 * buffers are reused.
 */
export class PartReader implements PartSource {
  private readonly it: AsyncIterator<Uint8Array | string>
  private pending: Uint8Array | undefined
  private ended = false
  private readonly unread: Part[] = []

  /** Bytes cut into parts so far (before any `unshift`). */
  private sent = 0

  /**
   * @param partSize the size of the next part, given the bytes already cut (default: always `pool.size`).
   */
  constructor(
    body: AsyncIterable<Uint8Array | string>,
    readonly pool: PartPool,
    private readonly partSize: (sent: number) => number = () => pool.size,
  ) {
    this.it = body[Symbol.asyncIterator]()
  }

  async next(): Promise<Part | undefined> {
    const again = this.unread.shift()
    if (again) return again
    this.pending ??= await this.pull()
    if (!this.pending) return undefined
    const size = this.partSize(this.sent)
    const buffer = await this.pool.acquire(size)
    let filled = 0
    while (this.pending && filled < size) {
      const n = Math.min(size - filled, this.pending.byteLength)
      buffer.set(n === this.pending.byteLength ? this.pending : this.pending.subarray(0, n), filled)
      filled += n
      this.pending = n < this.pending.byteLength ? this.pending.subarray(n) : await this.pull()
    }
    this.sent += filled
    const part = { data: buffer.subarray(0, filled), last: this.pending === undefined }
    poolBuffers.set(part, buffer)
    return part
  }

  /** Puts parts back, to be returned again (in order) by the next calls of `next`. */
  unshift(parts: readonly Part[]): void {
    this.unread.unshift(...parts)
  }

  release(part: Part): void {
    const buffer = poolBuffers.get(part)
    if (!buffer) return
    poolBuffers.delete(part)
    this.pool.release(buffer)
  }

  async close(): Promise<void> {
    if (this.ended) return
    this.ended = true
    this.pending = undefined
    await this.it.return?.()
  }

  /** @returns the next non-empty chunk, or undefined at the end. */
  private async pull(): Promise<Uint8Array | undefined> {
    while (!this.ended) {
      const r = await this.it.next()
      if (r.done) {
        this.ended = true
        return undefined
      }
      const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value
      if (chunk.byteLength > 0) return chunk
    }
    return undefined
  }
}

/**
 * Parts of a body already in memory: slices of it, no copy.
 * @returns a part source over `bytes`, in parts of `partSize` bytes.
 */
export function bytesParts(bytes: Uint8Array, partSize: number): PartSource {
  const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  return {
    next: () => {
      if (at >= whole.length) return Promise.resolve(undefined)
      const data = whole.subarray(at, (at += partSize))
      return Promise.resolve({ data, last: at >= whole.length })
    },
    release: () => undefined,
    close: () => Promise.resolve(),
  }
}

/**
 * Uploads the parts of `input.parts` to `params.Key` with a multipart upload,
 * at most `queueSize` at a time. Each part is handed back to its source once
 * its upload settled (retries included), never before: the SDK may resend it.
 * @returns the number of bytes uploaded.
 * @throws whatever the body or the SDK threw; the multipart upload is then
 *   aborted on the server (best effort, after in-flight parts settle) and no object is created.
 */
export async function multipartUpload(input: MultipartUploadInput): Promise<number> {
  const { client, params, signal, parts: source } = input
  const { Bucket, Key } = params
  let created
  try {
    created = await client.send(new CreateMultipartUploadCommand(params), { abortSignal: signal })
  } catch (err) {
    await source.close()
    throw err
  }
  const UploadId = created.UploadId
  if (!UploadId) {
    await source.close()
    throw new StorageError(`CreateMultipartUpload for '${Key}' returned no UploadId`)
  }
  const parts: CompletedPart[] = []
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  let total = 0
  try {
    let partNumber = 0
    while (failure === undefined) {
      // Waits here for a free buffer while the source is ahead of the uploads.
      const part = await source.next()
      if (!part) break
      if (failure !== undefined) {
        source.release(part)
        break
      }
      partNumber++
      if (partNumber > MAX_PARTS) {
        throw new InvalidArgumentError(`Upload of '${Key}' needs more than ${MAX_PARTS} parts of ${part.data.length} bytes; raise partSize`, {
          argument: 'partSize',
        })
      }
      total += part.data.length
      const n = partNumber
      const p: Promise<void> = client
        .send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: part.data, ContentLength: part.data.length }), { abortSignal: signal })
        .then(
          (res) => {
            parts.push({ PartNumber: n, ETag: res.ETag })
          },
          (err: unknown) => {
            failure ??= err
          },
        )
        .finally(() => {
          inFlight.delete(p)
          // Released even after a failure: a reader waiting for a buffer must wake up to see it.
          source.release(part)
        })
      inFlight.add(p)
      if (inFlight.size >= input.queueSize) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure
    if (partNumber === 0) {
      // S3 refuses a multipart upload without parts; an empty part 1 is allowed.
      const res = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(0), ContentLength: 0 }), {
        abortSignal: signal,
      })
      parts.push({ PartNumber: 1, ETag: res.ETag })
    }
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: signal })
    return total
  } catch (err) {
    // Parts still uploading would otherwise land after the abort and resurrect the upload.
    await Promise.allSettled(inFlight)
    await source.close().catch(() => undefined)
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined)
    throw err
  }
}
