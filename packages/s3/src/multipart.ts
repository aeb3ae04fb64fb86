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
  /** The body, in chunks of any size. */
  body: AsyncIterable<Uint8Array>
  /** Total size when known: lets the part size grow so files over 80 GB still fit in 10,000 parts. */
  size?: number
  partSize: number
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
  if (chosen > MAX_PART_SIZE) throw new InvalidArgumentError(`A body of ${size} bytes exceeds S3's largest object (10,000 parts of 5 GiB)`, { argument: 'content' })
  return chosen
}

/**
 * Cuts a stream of arbitrary chunks into parts of exactly `partSize` bytes
 * (the last may be shorter; nothing is yielded for an empty body). Each chunk
 * is copied once, straight into a part buffer from `acquire`, so a caller
 * that recycles part buffers bounds the memory of an upload of any size.
 */
export async function* cutParts(
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  partSize: number,
  acquire: () => Buffer = () => Buffer.allocUnsafeSlow(partSize),
): AsyncGenerator<Buffer> {
  let part: Buffer | undefined
  let filled = 0
  for await (const chunk of body) {
    let offset = 0
    while (offset < chunk.byteLength) {
      part ??= acquire()
      const n = Math.min(partSize - filled, chunk.byteLength - offset)
      part.set(chunk.subarray(offset, offset + n), filled)
      filled += n
      offset += n
      if (filled === partSize) {
        yield part
        part = undefined
        filled = 0
      }
    }
  }
  if (part && filled > 0) yield part.subarray(0, filled)
}

/**
 * Uploads `body` to `params.Key` with a multipart upload, `queueSize` parts at a time.
 * @returns the number of bytes uploaded.
 * @throws whatever the body or the SDK threw; the multipart upload is then
 *   aborted on the server (best effort, after in-flight parts settle) and no object is created.
 */
export async function multipartUpload(input: MultipartUploadInput): Promise<number> {
  const { client, params, signal } = input
  const partSize = choosePartSize(input.partSize, input.size)
  const { Bucket, Key } = params
  const created = await client.send(new CreateMultipartUploadCommand(params), { abortSignal: signal })
  const UploadId = created.UploadId
  if (!UploadId) throw new StorageError(`CreateMultipartUpload for '${Key}' returned no UploadId`)
  const parts: CompletedPart[] = []
  const inFlight = new Set<Promise<void>>()
  // Part buffers are recycled once their upload settles: the loop below keeps
  // at most queueSize parts in flight, so at most queueSize + 1 buffers exist.
  const free: Buffer[] = []
  const acquire = () => free.pop() ?? Buffer.allocUnsafeSlow(partSize)
  let failure: unknown
  let total = 0
  try {
    let partNumber = 0
    for await (const part of cutParts(input.body, partSize, acquire)) {
      if (failure !== undefined) break
      partNumber++
      if (partNumber > MAX_PARTS) {
        throw new InvalidArgumentError(`Upload of '${Key}' needs more than ${MAX_PARTS} parts of ${partSize} bytes; raise partSize`, { argument: 'partSize' })
      }
      total += part.length
      const n = partNumber
      const p: Promise<void> = client
        .send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: part, ContentLength: part.length }), { abortSignal: signal })
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
          // Only after the upload settled (retries included) may the bytes be overwritten.
          if (failure === undefined) free.push(Buffer.from(part.buffer, 0, partSize))
        })
      inFlight.add(p)
      if (inFlight.size >= input.queueSize) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure
    if (partNumber === 0) {
      // S3 refuses a multipart upload without parts; an empty part 1 is allowed.
      const res = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(0), ContentLength: 0 }), { abortSignal: signal })
      parts.push({ PartNumber: 1, ETag: res.ETag })
    }
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: signal })
    return total
  } catch (err) {
    // Parts still uploading would otherwise land after the abort and resurrect the upload.
    await Promise.allSettled(inFlight)
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined)
    throw err
  }
}
