/**
 * Part sizes of streams of unknown length: small first, growing so that
 * 10,000 parts still reach S3's 5 TiB object; and the pool of part buffers
 * bounded by its capacity times the current part size while they grow.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { GROWTH_PARTS, growingPartSize, PartPool, PartReader } from './multipart.js'
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, resolveS3Options, type S3StorageOptions } from './options.js'

const MIB = 1024 * 1024
const TIB = 1024 ** 4

/** The part sizes `growingPartSize(first, ·)` cuts a stream of `total` bytes into. */
function schedule(first: number, total: number): number[] {
  const sizes: number[] = []
  for (let sent = 0; sent < total;) {
    const size = Math.min(growingPartSize(first, sent), total - sent)
    sizes.push(size)
    sent += size
  }
  return sizes
}

describe('growingPartSize', () => {
  it('keeps the first size for the first 1,000 parts, so a 1 GiB stream is all 5 MiB parts', () => {
    expect(new Set(schedule(MIN_PART_SIZE, 1024 * MIB).slice(0, -1))).toEqual(new Set([MIN_PART_SIZE]))
    expect(growingPartSize(MIN_PART_SIZE, GROWTH_PARTS * MIN_PART_SIZE)).toBe(MIN_PART_SIZE)
    expect(growingPartSize(MIN_PART_SIZE, GROWTH_PARTS * MIN_PART_SIZE + 1)).toBe(2 * MIN_PART_SIZE)
  })

  it('fits a stream needing more than 10,000 parts of 5 MiB (60 GiB) within 10,000 parts', () => {
    const sizes = schedule(MIN_PART_SIZE, 60 * 1024 * MIB)
    expect(10_001 * MIN_PART_SIZE).toBeLessThan(60 * 1024 * MIB)
    expect(sizes.length).toBeLessThanOrEqual(MAX_PARTS)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(60 * 1024 * MIB)
  })

  it('reaches S3 5 TiB object within 10,000 parts, every part but the last between 5 MiB and 5 GiB', () => {
    for (const first of [MIN_PART_SIZE, 8 * MIB, 7 * MIB + 3]) {
      const sizes = schedule(first, 5 * TIB)
      expect(sizes.length).toBeLessThanOrEqual(MAX_PARTS)
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_PART_SIZE)
      expect(Math.min(...sizes.slice(0, -1))).toBeGreaterThanOrEqual(MIN_PART_SIZE)
      // Parts only grow: a pool buffer outgrown is never needed again.
      expect(sizes.slice(0, -1).every((s, i) => i === 0 || s >= sizes[i - 1]!)).toBe(true)
    }
  })
})

describe('PartPool with growing parts', () => {
  it('never holds more than capacity × the current part size, and the body comes out intact', async () => {
    const sizes: number[] = []
    const allocations: number[] = []
    const pool = new PartPool(10, 2, (n) => {
      allocations.push(n)
      return Buffer.alloc(n)
    })
    // Scaled down: doubles every 5 parts' worth of bytes, as growingPartSize does every 1,000.
    const sizing = (sent: number) => {
      let size = 10
      while (size * 5 < sent) size *= 2
      sizes.push(size)
      return size
    }
    const data = randomBytes(5_000)
    const chunks = Array.from({ length: 50 }, (_, i) => data.subarray(i * 100, (i + 1) * 100))
    const reader = new PartReader(Readable.from(chunks), pool, sizing)
    const out: Buffer[] = []
    const inFlight: NonNullable<Awaited<ReturnType<PartReader['next']>>>[] = []
    for (let part = await reader.next(); part; part = await reader.next()) {
      out.push(Buffer.from(part.data))
      expect(part.data.length === sizes.at(-1) || part.last).toBe(true)
      // At most 2 buffers, none larger than the current part: 2 × the current part size.
      expect(pool.allocated).toBeLessThanOrEqual(2)
      expect(Math.max(...allocations)).toBeLessThanOrEqual(sizes.at(-1)!)
      // Two in flight at most, as an upload with queueSize 2 would hold them.
      inFlight.push(part)
      if (inFlight.length === 2) reader.release(inFlight.shift()!)
    }
    expect(Buffer.concat(out).equals(data)).toBe(true)
    expect(new Set(sizes)).toEqual(new Set([10, 20, 40, 80, 160, 320, 640, 1280]))
    // Buffers are replaced only when outgrown: two per size at most.
    expect(allocations.length).toBeLessThanOrEqual(2 * new Set(sizes).size)
  })

  it('a waiter for a larger part gets a new buffer of its size when a small one is released', async () => {
    const allocations: number[] = []
    const pool = new PartPool(10, 1, (n) => {
      allocations.push(n)
      return Buffer.alloc(n)
    })
    const small = await pool.acquire(10)
    const waiting = pool.acquire(40)
    pool.release(small)
    const big = await waiting
    expect(big.length).toBe(40)
    // The small buffer was let go, not kept beside the new one.
    expect(pool.allocated).toBe(1)
    expect(allocations).toEqual([10, 40])
  })
})

describe('uniformParts: servers that need every non-trailing part the same size', () => {
  const base = { bucket: 'b', credentials: { accessKeyId: 'k', secretAccessKey: 's' } }
  it('is the default for r2 and unknown servers (with 8 MiB parts, so a stream may reach 78 GiB), not for aws, minio and ceph (5 MiB parts that grow)', () => {
    const resolved = (o: Partial<S3StorageOptions>) => {
      const { uniformParts, partSize } = resolveS3Options({ ...base, ...o })
      return { uniformParts, partSize }
    }
    expect(resolved({ provider: 'r2', endpoint: 'https://a.r2.cloudflarestorage.com' })).toEqual({ uniformParts: true, partSize: 8 * 1024 * 1024 })
    expect(resolved({ endpoint: 'http://127.0.0.1:9000' })).toEqual({ uniformParts: true, partSize: 8 * 1024 * 1024 })
    for (const provider of ['aws', 'minio', 'ceph'] as const) {
      expect(resolved({ provider, ...(provider !== 'aws' && { endpoint: 'http://127.0.0.1:9000' }) })).toEqual({
        uniformParts: false,
        partSize: 5 * 1024 * 1024,
      })
    }
    expect(resolved({ provider: 'minio', endpoint: 'http://127.0.0.1:9000', uniformParts: true, partSize: 16 * 1024 * 1024 })).toEqual({
      uniformParts: true,
      partSize: 16 * 1024 * 1024,
    })
    expect(() => resolveS3Options({ ...base, uniformParts: 'yes' as never })).toThrow(expect.objectContaining({ key: 'uniformParts' }))
  })
})
