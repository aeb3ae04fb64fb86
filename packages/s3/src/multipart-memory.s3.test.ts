/**
 * Bounded memory of streamed saves, against the real S3 gateway: counted
 * (buffers allocated, bytes read ahead of the server), not timed, so it holds
 * whatever the machine's load.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { randomPrefix } from '@stowage/core/testing'
import { describe, expect, it, vi } from 'vitest'
import { s3Storages } from '../../../test/s3.js'
import { multipartUpload, PartPool, PartReader } from './multipart.js'

const MIB = 1024 * 1024
const CHUNK = 256 * 1024

/** A stream of `size` bytes in fresh 256 KiB chunks, made as it is read; `onPull` sees the bytes handed out so far. */
function generated(size: number, onPull: (pulled: number) => void = () => undefined) {
  const md5 = createHash('md5')
  let pulled = 0
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (pulled >= size) return void this.push(null)
      const chunk = Buffer.alloc(Math.min(CHUNK, size - pulled), pulled / CHUNK)
      md5.update(chunk)
      pulled += chunk.length
      onPull(pulled)
      this.push(chunk)
    },
  })
  return { stream, digest: () => md5.digest('hex') }
}

describe('streamed multipart saves hold a bounded number of parts', () => {
  const storageWith = s3Storages('s3-mem', { multipartThreshold: 5 * MIB, partSize: 5 * MIB, queueSize: 2 })

  it('a stream known to be small (a Blob) is read at its own size: no part buffer is allocated for it', async () => {
    const storage = storageWith()
    const big: number[] = []
    const allocate = Buffer.allocUnsafeSlow.bind(Buffer)
    const spy = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((n: number) => {
      if (n >= MIB) big.push(n)
      return allocate(n)
    })
    try {
      const name = await storage.save(`${randomPrefix()}/small.txt`, new Blob(['x'.repeat(1024)]))
      expect(await storage.size(name)).toBe(1024)
    } finally {
      spy.mockRestore()
    }
    expect(big).toEqual([])
  })

  it('allocates at most queueSize part buffers for a stream of many parts, and stores it intact', async () => {
    const storage = storageWith()
    const key = storage.key(`${randomPrefix()}/many-parts.bin`)
    let allocations = 0
    const pool = new PartPool(5 * MIB, 2, (n) => {
      allocations++
      return Buffer.allocUnsafeSlow(n)
    })
    const { stream, digest } = generated(12 * 5 * MIB + 123) // 13 parts
    const sent = await multipartUpload({
      client: storage.client,
      params: { Bucket: storage.options.bucket, Key: key },
      parts: new PartReader(stream, pool),
      queueSize: 2,
    })
    expect(sent).toBe(12 * 5 * MIB + 123)
    expect(allocations).toBe(2)
    const name = key.slice(storage.options.location.length + 1)
    const md5 = createHash('md5')
    for await (const c of await storage.open(name)) md5.update(c as Buffer)
    expect(md5.digest('hex')).toBe(digest())
  })

  it('S3Storage reads no more than queueSize parts (and one chunk) ahead of what the server acknowledged', async () => {
    const storage = storageWith()
    // Counts the bytes of every UploadPart the server acknowledged.
    let acked = 0
    storage.client.middlewareStack.add(
      (next, context) => async (args) => {
        const res = await next(args)
        if (context.commandName === 'UploadPartCommand') acked += (args.input as { ContentLength: number }).ContentLength
        return res
      },
      { step: 'initialize' },
    )
    let ahead = 0
    const { stream, digest } = generated(60 * MIB, (pulled) => (ahead = Math.max(ahead, pulled - acked)))
    const name = await storage.save(`${randomPrefix()}/bounded.bin`, stream)
    // 2 part buffers, the chunk read ahead to know whether a part is the last,
    // and the chunk the source stream itself buffers (its highWaterMark).
    expect(ahead).toBeLessThanOrEqual(2 * 5 * MIB + 2 * CHUNK)
    expect(ahead).toBeGreaterThan(5 * MIB) // it did run parts concurrently
    const md5 = createHash('md5')
    for await (const c of await storage.open(name)) md5.update(c as Buffer)
    expect(md5.digest('hex')).toBe(digest())
  })

  it('a body in memory over the threshold goes up in slices of itself', async () => {
    const storage = storageWith()
    const data = Buffer.alloc(11 * MIB, 7)
    const bodies: Buffer[] = []
    storage.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand') bodies.push((args.input as { Body: Buffer }).Body)
        return next(args)
      },
      { step: 'initialize' },
    )
    const name = await storage.save(`${randomPrefix()}/bytes.bin`, data)
    expect((await storage.stat(name)).etag).toMatch(/-3"?$/)
    // Views of the caller's own memory, not copies.
    expect(bodies.map((b) => b.buffer === data.buffer)).toEqual([true, true, true])
    expect(Buffer.from(await storage.read(name)).equals(data)).toBe(true)
  })
})
