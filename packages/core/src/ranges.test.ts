import { describe, expect, it } from 'vitest'
import { notModified, requestedRange } from './ranges.js'

describe('notModified (what serveMedia and serveStatic answer 304)', () => {
  const file = { modified: new Date('2026-01-02T03:04:05.678Z'), etag: '"abc"' }
  const lastModified = file.modified.toUTCString() // to the second: 03:04:05

  it.each([
    ['no validator', {}, false],
    ['a matching If-None-Match', { 'if-none-match': 'W/"abc"' }, true],
    ['If-None-Match decides when sent, whatever the date says', { 'if-none-match': '"other"', 'if-modified-since': lastModified }, false],
    ['If-Modified-Since at Last-Modified (to the second)', { 'if-modified-since': lastModified }, true],
    ['a later If-Modified-Since', { 'if-modified-since': 'Sat, 03 Jan 2026 00:00:00 GMT' }, true],
    ['an earlier If-Modified-Since', { 'if-modified-since': 'Fri, 02 Jan 2026 03:04:04 GMT' }, false],
    ['an unparsable If-Modified-Since', { 'if-modified-since': 'yesterday' }, false],
    // Date.parse reads these as 2000, 9999 and the ISO instant: not HTTP-dates, so ignored.
    ['If-Modified-Since: 0', { 'if-modified-since': '0' }, false],
    ['If-Modified-Since: 9999', { 'if-modified-since': '9999' }, false],
    ['an ISO If-Modified-Since', { 'if-modified-since': new Date(file.modified.getTime() + 86_400_000).toISOString() }, false],
    ['an RFC 850 If-Modified-Since at Last-Modified', { 'if-modified-since': 'Friday, 02-Jan-26 03:04:05 GMT' }, true],
    ['an asctime If-Modified-Since at Last-Modified', { 'if-modified-since': 'Fri Jan  2 03:04:05 2026' }, true],
  ] as const)('%s → %s', (_, headers, expected) => {
    expect(notModified(headers, file)).toBe(expected)
  })
})

describe('requestedRange (what serveMedia and serveStatic answer 206 or 416)', () => {
  const file = { size: 100, modified: new Date('2026-01-02T03:04:05.678Z'), etag: '"abc"' }

  it.each([
    ['no Range', {}, file, undefined],
    ['one range', { range: 'bytes=10-19' }, file, { start: 10, end: 19 }],
    ['a range past the end', { range: 'bytes=100-' }, file, 'unsatisfiable'],
    ['a current strong If-Range', { range: 'bytes=0-9', 'if-range': '"abc"' }, file, { start: 0, end: 9 }],
    ['a weak ETag, never current for If-Range', { range: 'bytes=0-9', 'if-range': 'W/"abc"' }, { ...file, etag: 'W/"abc"' }, undefined],
    ['an If-Range date to the second', { range: 'bytes=0-9', 'if-range': file.modified.toUTCString() }, file, { start: 0, end: 9 }],
    // The same instant, but not an HTTP-date: the range is not honoured.
    ['an ISO If-Range date', { range: 'bytes=0-9', 'if-range': '2026-01-02T03:04:05Z' }, file, undefined],
    ['an empty file, which has no byte to range over: sent whole', { range: 'bytes=0-' }, { ...file, size: 0 }, undefined],
  ] as const)('%s', (_, headers, f, expected) => {
    expect(requestedRange(headers, f)).toEqual(expected)
  })
})
