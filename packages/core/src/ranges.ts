/**
 * Conditional requests (RFC 9110 §13) and byte ranges of a response (§14):
 * what `serveMedia` and `serveStatic` answer `If-None-Match`,
 * `If-Modified-Since` and `Range` requests with. `Range` is read by
 * `range-parser`, the parser Express and `send` use.
 */
import rangeParser from 'range-parser'
import { parseHttpDate } from './http-date.js'
import { etagMatches } from './media.js'

/**
 * Whether a GET or HEAD can be answered 304: `If-None-Match` decides when
 * sent (weak comparison); else `If-Modified-Since`, against `Last-Modified`
 * to the second (RFC 9110 §13.2.2). A value that is not an HTTP-date
 * (`parseHttpDate`: `0`, `2030`, an ISO string) is ignored, as if not sent.
 * @returns true when the client's copy is current. Never throws.
 */
export function notModified(headers: { 'if-none-match'?: string; 'if-modified-since'?: string }, file: { modified: Date; etag: string }): boolean {
  const inm = headers['if-none-match']
  if (inm) return etagMatches(inm, file.etag)
  const since = parseHttpDate(headers['if-modified-since'])
  return since !== undefined && toSecond(file.modified) <= since
}

/** `date` to the whole second, as HTTP dates (`Last-Modified`) carry it. */
const toSecond = (date: Date): number => Math.floor(date.getTime() / 1000) * 1000

/** A satisfiable byte range; `end` inclusive. */
export interface ResolvedRange {
  start: number
  end: number
}

/**
 * Parses a `Range` header against a file of `size` bytes. Only a single
 * range is honoured (overlapping ones are combined first); a request for
 * several gets the whole file, as RFC 9110 lets a server ignore Range, which
 * spares us multipart/byteranges.
 * @returns the range; `'unsatisfiable'` when no range of it lies within the
 *   file (answer 416); `undefined` to send everything (no header, a malformed
 *   one, another unit, several ranges). Never throws.
 */
export function parseRange(header: string | undefined, size: number): ResolvedRange | 'unsatisfiable' | undefined {
  if (!header) return undefined
  const ranges = rangeParser(size, header, { combine: true })
  if (ranges === -1) return 'unsatisfiable'
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return undefined
  return { start: ranges[0]!.start, end: ranges[0]!.end }
}

/**
 * The range a request asks for, when its `If-Range` still names this version
 * of the file: an entity tag compared strongly (a weak one never matches), or
 * the file's `Last-Modified` date to the second. A stale `If-Range` means the
 * client's partial copy is of another version: it gets the whole file, as it
 * does for a date that is not an HTTP-date (`parseHttpDate`). An
 * empty file has no byte to range over: it is sent whole (empty), not refused.
 * @returns as `parseRange`, or `undefined` when `If-Range` does not match or the file is empty. Never throws.
 */
export function requestedRange(
  headers: { range?: string; 'if-range'?: string | string[] },
  file: { size: number; modified: Date; etag: string },
): ResolvedRange | 'unsatisfiable' | undefined {
  if (file.size === 0) return undefined
  const ifRange = String(headers['if-range'] ?? '')
  if (ifRange) {
    const current = ifRange.startsWith('"') ? !file.etag.startsWith('W/') && ifRange === file.etag : toSecond(file.modified) === parseHttpDate(ifRange)
    if (!current) return undefined
  }
  return parseRange(headers.range, file.size)
}
