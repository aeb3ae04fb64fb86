/**
 * Buffering the start of a body of unknown length. A body held whole can be
 * sent again under another name after losing a claim (a stream can be read
 * only once), and its length decides between a single PUT and multipart.
 */
import type { Readable } from 'node:stream'

/**
 * Reads `stream` until more than `limit` bytes arrived or it ended.
 * @returns the whole body as `bytes` when it fits, else `rest`: an iterable
 *   replaying what was read, then the remainder of the stream.
 */
export async function readUpTo(stream: Readable, limit: number): Promise<{ bytes: Buffer; rest?: AsyncIterable<Uint8Array> }> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | string>
  const chunks: Buffer[] = []
  let total = 0
  for (;;) {
    const r = await it.next()
    if (r.done) return { bytes: Buffer.concat(chunks) }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength)
    chunks.push(chunk)
    total += chunk.length
    if (total > limit) break
  }
  const rest = async function* () {
    try {
      yield* chunks
      for (;;) {
        const r = await it.next()
        if (r.done) return
        yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value
      }
    } finally {
      await it.return?.()
    }
  }
  return { bytes: Buffer.alloc(0), rest: rest() }
}
