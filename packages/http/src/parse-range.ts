/** A satisfiable byte range; `end` inclusive. */
export interface ResolvedRange {
  start: number
  end: number
}

/**
 * Parses a `Range` header against a file of `size` bytes. Only a single
 * range is honoured; a multi-range request gets the whole file (RFC 9110
 * lets a server ignore Range), which spares us multipart/byteranges.
 * @returns the range; `'unsatisfiable'` for a range wholly past the end; `undefined` to send everything. Never throws.
 */
export function parseRange(header: string | undefined, size: number): ResolvedRange | 'unsatisfiable' | undefined {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable'
  if (end < start) return undefined
  return { start, end }
}
