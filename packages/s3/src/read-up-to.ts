/**
 * Reading the start of a body of unknown length, to decide between a single
 * PUT and a multipart upload. A body held whole can be sent again under
 * another name after losing a claim (a stream can be read only once).
 */
import type { Part, PartReader } from './multipart.js'

/**
 * Reads parts from `reader` until more than `limit` bytes arrived or the body ended.
 * The parts are the reader's pooled buffers, so the read-ahead costs no memory
 * beyond them: it needs `ceil(limit / partSize)` of them at most.
 * @returns the whole body as `bytes` when it is at most `limit` bytes (a slice
 *   of the one part, or one copy when it spans several); otherwise `{}`, with
 *   every part read put back into `reader` for the multipart upload.
 * @throws what the body threw.
 */
export async function readUpTo(reader: PartReader, limit: number): Promise<{ bytes?: Buffer }> {
  const parts: Part[] = []
  let total = 0
  for (;;) {
    const part = await reader.next()
    // Only an empty body ends without a last part.
    if (!part) return { bytes: Buffer.alloc(0) }
    parts.push(part)
    total += part.data.length
    if (part.last && total <= limit)
      return {
        bytes:
          parts.length === 1
            ? part.data
            : Buffer.concat(
                parts.map((p) => p.data),
                total,
              ),
      }
    if (total >= limit) break
  }
  reader.unshift(parts)
  return {}
}
