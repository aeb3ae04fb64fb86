import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3'
import { readAll, StorageError } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { describe, expect, it } from 'vitest'
import { s3Storages } from '../../../test/s3.js'
import { choosePartSize, PartPool, PartReader } from './multipart.js'
import { MAX_PART_SIZE, MIN_PART_SIZE } from './options.js'
import { readUpTo } from './read-up-to.js'
import { S3Storage } from './s3-storage.js'

const MIB = 1024 * 1024

/** Every part `reader` gives, released at once (as an upload would once done). */
const drainParts = async (reader: PartReader) => {
  const parts: { data: Buffer; last: boolean }[] = []
  for (let part = await reader.next(); part; part = await reader.next()) {
    parts.push({ data: Buffer.from(part.data), last: part.last })
    reader.release(part)
  }
  return parts
}

describe('PartReader', () => {
  it('cuts chunks of any size into parts of exactly partSize, the last one shorter and marked last', async () => {
    const data = randomBytes(10_000)
    const sizes = [1, 999, 3000, 7, 4000, 1993]
    let at = 0
    const chunks = sizes.map((n) => data.subarray(at, (at += n)))
    const parts = await drainParts(new PartReader(Readable.from(chunks), new PartPool(2048, 2)))
    expect(parts.map((p) => p.data.length)).toEqual([2048, 2048, 2048, 2048, 1808])
    expect(parts.map((p) => p.last)).toEqual([false, false, false, false, true])
    expect(Buffer.concat(parts.map((p) => p.data)).equals(data)).toBe(true)
  })

  it('knows a full part is the last when the body ends exactly on a part boundary', async () => {
    const parts = await drainParts(new PartReader(Readable.from([Buffer.alloc(30, 1), Buffer.alloc(10, 2)]), new PartPool(20, 1)))
    expect(parts.map((p) => [p.data.length, p.last])).toEqual([
      [20, false],
      [20, true],
    ])
  })

  it('yields nothing for an empty body, and takes strings as UTF-8', async () => {
    expect(await drainParts(new PartReader(Readable.from([new Uint8Array(0)]), new PartPool(10, 1)))).toEqual([])
    const parts = await drainParts(new PartReader(Readable.from(['héllo', 'wörld']), new PartPool(4, 1)))
    expect(Buffer.concat(parts.map((p) => p.data)).toString()).toBe('héllowörld')
  })

  it('allocates no more than the pool capacity for a body many times larger, reusing the buffers', async () => {
    let allocated = 0
    const pool = new PartPool(1000, 3, (n) => {
      allocated++
      return Buffer.alloc(n)
    })
    const data = randomBytes(100_000) // 100 parts
    const chunks = Array.from({ length: 400 }, (_, i) => data.subarray(i * 250, (i + 1) * 250))
    const parts = await drainParts(new PartReader(Readable.from(chunks), pool))
    expect(parts).toHaveLength(100)
    expect(Buffer.concat(parts.map((p) => p.data)).equals(data)).toBe(true)
    expect(allocated).toBe(1)
    expect(pool.allocated).toBe(1)
  })

  it('stops reading the source while every buffer is out, and resumes on release', async () => {
    let pulled = 0
    const source = new Readable({
      highWaterMark: 0,
      read() {
        pulled++
        this.push(pulled <= 10 ? Buffer.alloc(10, pulled) : null)
      },
    })
    const reader = new PartReader(source, new PartPool(10, 2))
    const first = (await reader.next())!
    await reader.next()
    let third: unknown
    const waiting = reader.next().then((p) => (third = p))
    await new Promise((resolve) => setImmediate(resolve))
    expect(third).toBeUndefined() // no third buffer: held back
    const pulledWhileHeld = pulled
    await new Promise((resolve) => setImmediate(resolve))
    expect(pulled).toBe(pulledWhileHeld) // and the source is not drained meanwhile
    reader.release(first)
    await waiting
    expect((third as { data: Buffer }).data.equals(Buffer.alloc(10, 3))).toBe(true)
  })
})

describe('readUpTo', () => {
  const reader = (...sizes: number[]) => new PartReader(Readable.from(sizes.map((n, i) => Buffer.alloc(n, i + 1))), new PartPool(10, 3))

  it('returns a body of at most the limit whole, from the pooled parts', async () => {
    expect((await readUpTo(reader(7, 8), 15)).bytes).toEqual(Buffer.concat([Buffer.alloc(7, 1), Buffer.alloc(8, 2)]))
    expect((await readUpTo(reader(10), 10)).bytes).toEqual(Buffer.alloc(10, 1))
    expect((await readUpTo(reader(), 10)).bytes).toEqual(Buffer.alloc(0))
  })

  it('puts back what it read from a longer body, so the upload sends every byte once', async () => {
    const r = reader(10, 1, 9, 5)
    expect(await readUpTo(r, 10)).toEqual({})
    const parts = await drainParts(r)
    expect(parts.map((p) => p.data.length)).toEqual([10, 10, 5])
    expect(Buffer.concat(parts.map((p) => p.data))).toEqual(Buffer.concat([Buffer.alloc(10, 1), Buffer.alloc(1, 2), Buffer.alloc(9, 3), Buffer.alloc(5, 4)]))
  })
})

describe('choosePartSize', () => {
  it('keeps the configured size while 10,000 parts suffice, then grows by whole MiB', () => {
    expect(choosePartSize(8 * MIB)).toBe(8 * MIB)
    expect(choosePartSize(8 * MIB, 6 * 1024 ** 3)).toBe(8 * MIB) // a 6 GB file: 768 parts
    expect(choosePartSize(8 * MIB, 200 * 1024 ** 3)).toBe(21 * MIB) // 200 GB
    expect(choosePartSize(1, 10)).toBe(MIN_PART_SIZE)
    expect(() => choosePartSize(8 * MIB, 10_001 * MAX_PART_SIZE)).toThrow(StorageError)
  })

  it('the threshold cannot exceed 5 GiB, so every body over 5 GB goes through multipart', () => {
    expect(() => new S3Storage({ bucket: 'b', multipartThreshold: MAX_PART_SIZE + 1 })).toThrow(expect.objectContaining({ key: 'multipartThreshold' }))
  })
})

describe('S3Storage: multipart uploads', () => {
  // Smallest thresholds S3 allows, so the multipart path runs on ~12 MB bodies.
  const storageWith = s3Storages('s3-mp', { multipartThreshold: 5 * MIB, partSize: 5 * MIB, queueSize: 2 })
  const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex')
  /** A stream of unknown length: `count` chunks of 256 KiB, optionally failing after `failAt`. */
  const chunked = (count: number, failAt?: number, onChunk?: (i: number) => void) => {
    const chunks = Array.from({ length: count }, () => randomBytes(256 * 1024))
    let i = 0
    const stream = new Readable({
      read() {
        onChunk?.(i)
        if (failAt !== undefined && i === failAt) this.destroy(new Error('connection reset by peer'))
        else if (i < chunks.length) this.push(chunks[i++])
        else this.push(null)
      },
    })
    return { stream, data: Buffer.concat(chunks) }
  }
  const danglingUploads = async (storage: S3Storage, prefix: string) => {
    const res = await storage.client.send(new ListMultipartUploadsCommand({ Bucket: storage.options.bucket, Prefix: storage.key(prefix) }))
    return res.Uploads ?? []
  }

  it('streams a body of unknown length over the threshold through a multipart upload, intact', async () => {
    const storage = storageWith()
    const p = randomPrefix()
    const { stream, data } = chunked(48) // 12 MiB: parts of 5, 5 and 2 MiB
    const name = await storage.save(`${p}/big.bin`, stream, { contentType: 'application/x-test' })
    const st = await storage.stat(name)
    expect(st.size).toBe(data.length)
    expect(st.contentType).toBe('application/x-test')
    expect(st.etag).toMatch(/-3$/) // S3's multipart ETag: md5 of part md5s, dash, part count
    expect(md5(await readAll(await storage.open(name)))).toBe(md5(data))
    expect(await danglingUploads(storage, p)).toEqual([])
  })

  it('works with the SDK flexible checksums (the aws profile) too: every part has a known length', async () => {
    const storage = storageWith({ requestChecksumCalculation: 'WHEN_SUPPORTED', responseChecksumValidation: 'WHEN_SUPPORTED' })
    const { stream, data } = chunked(24)
    const name = await storage.save(`${randomPrefix()}/crc.bin`, stream)
    expect(md5(await storage.read(name))).toBe(md5(data))
  })

  it('sends a Blob of known size over the threshold through multipart too', async () => {
    const storage = storageWith()
    const data = randomBytes(6 * MIB)
    const name = await storage.save(`${randomPrefix()}/blob.bin`, new Blob([data]))
    expect((await storage.stat(name)).etag).toMatch(/-2$/)
    expect(md5(await storage.read(name))).toBe(md5(data))
  })

  it('a stream failing after several parts leaves no object, no placeholder and no multipart upload', async () => {
    const storage = storageWith()
    const p = randomPrefix()
    const { stream } = chunked(48, 44) // fails at 11 MiB, after two parts went up
    const err = await storage.save(`${p}/broken.bin`, stream).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(StorageError)
    expect(await storage.exists(`${p}/broken.bin`)).toBe(false)
    expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
    expect(await danglingUploads(storage, p)).toEqual([])
  })

  it('an abort during a multipart upload rejects with EABORTED and leaves nothing, no multipart upload either', async () => {
    const storage = storageWith()
    const p = randomPrefix()
    const controller = new AbortController()
    const { stream } = chunked(48, undefined, (i) => {
      if (i === 30) controller.abort(new Error('user cancelled'))
    })
    const err = await storage.save(`${p}/aborted.bin`, stream, { signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ code: 'EABORTED' })
    expect(await storage.listdir(p)).toEqual({ dirs: [], files: [] })
    expect(await danglingUploads(storage, p)).toEqual([])
  })

  it('concurrent large saves of one name claim distinct names and keep every body', async () => {
    const storage = storageWith()
    const p = randomPrefix()
    const bodies = Array.from({ length: 4 }, () => chunked(24)) // 6 MiB each
    const names = await Promise.all(bodies.map((b) => storage.save(`${p}/same.bin`, b.stream)))
    expect(new Set(names).size).toBe(4)
    for (let i = 0; i < 4; i++) expect(md5(await storage.read(names[i]!))).toBe(md5(bodies[i]!.data))
    expect(await danglingUploads(storage, p)).toEqual([])
  })

  it('overwrite replaces an existing object with a large one', async () => {
    const storage = storageWith()
    const p = randomPrefix()
    await storage.save(`${p}/o.bin`, 'small')
    const { stream, data } = chunked(24)
    expect(await storage.save(`${p}/o.bin`, stream, { overwrite: true })).toBe(`${p}/o.bin`)
    expect(md5(await storage.read(`${p}/o.bin`))).toBe(md5(data))
  })
})
