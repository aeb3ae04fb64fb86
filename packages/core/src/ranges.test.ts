import { describe, expect, it } from 'vitest'
import { notModified } from './ranges.js'

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
  ] as const)('%s → %s', (_, headers, expected) => {
    expect(notModified(headers, file)).toBe(expected)
  })
})
