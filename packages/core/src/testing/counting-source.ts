import { Readable } from 'node:stream'

/** A stream made by `countingSource`, and how much of it was pulled. */
export interface CountingSource {
  stream: Readable
  /** @returns the bytes handed out so far: what the consumer pulled, read-ahead included. Never throws. */
  produced(): number
}

/**
 * A stream of `total` bytes (of `fill`), made in `chunkSize` chunks only as
 * the consumer pulls them, so a test can prove an oversized upload was cut
 * off early (`produced()` stays near the limit) instead of read to the end.
 * With `fail`, the stream errors with it after the last byte, as a client
 * that goes away mid-upload.
 * @returns the stream and its counter. Never throws.
 */
export function countingSource(total: number, options: { chunkSize?: number; fill?: number; fail?: Error } = {}): CountingSource {
  const { chunkSize = 64 * 1024, fill = 0x41, fail } = options
  let produced = 0
  const stream = new Readable({
    read() {
      if (produced >= total) return void (fail ? this.destroy(fail) : this.push(null))
      const n = Math.min(chunkSize, total - produced)
      produced += n
      this.push(Buffer.alloc(n, fill))
    },
  })
  return { stream, produced: () => produced }
}
