import { describe, expect, it } from 'vitest'
import { parseHttpDate } from './http-date.js'

const RFC_EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37)

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  it.each([
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT'],
    ['RFC 850', 'Sunday, 06-Nov-94 08:49:37 GMT'],
    ['asctime, one-digit day after two spaces', 'Sun Nov  6 08:49:37 1994'],
    ['IMF-fixdate with surrounding spaces', '  Sun, 06 Nov 1994 08:49:37 GMT '],
  ])('reads the %s form', (_, value) => {
    expect(parseHttpDate(value)).toBe(RFC_EXAMPLE)
  })

  it('reads a two-digit asctime day, and round-trips what Date#toUTCString writes (Last-Modified)', () => {
    expect(parseHttpDate('Wed Nov 16 08:49:37 1994')).toBe(Date.UTC(1994, 10, 16, 8, 49, 37))
    for (const at of [0, Date.UTC(2026, 1, 28, 23, 59, 59), Date.UTC(2000, 1, 29, 12, 0, 0), Date.UTC(2099, 11, 31, 0, 0, 0)]) {
      expect(parseHttpDate(new Date(at).toUTCString())).toBe(at)
    }
  })

  it('reads a leap second as the second before it', () => {
    expect(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT')).toBe(Date.UTC(2016, 11, 31, 23, 59, 59))
  })

  it('puts an RFC 850 year within 50 years ahead of now, else in the century before', () => {
    const now = Date.UTC(2026, 5, 1)
    expect(parseHttpDate('Thursday, 01-Jan-70 00:00:00 GMT', now)).toBe(Date.UTC(2070, 0, 1))
    expect(parseHttpDate('Wednesday, 01-Jan-80 00:00:00 GMT', now)).toBe(Date.UTC(1980, 0, 1))
    expect(parseHttpDate('Sunday, 01-Jan-10 00:00:00 GMT', Date.UTC(2090, 0, 1))).toBe(Date.UTC(2110, 0, 1))
  })

  it.each([
    // What Date.parse takes and HTTP does not.
    '0',
    '1',
    '2020',
    '9999',
    '2020-01-01T00:00:00Z',
    '2026-01-02T03:04:05.000Z',
    'foo 2030',
    'Mar 1 2031',
    '',
    ' ',
    // Days, months and times that do not exist.
    'Sun, 31 Nov 1994 08:49:37 GMT',
    'Sun, 00 Nov 1994 08:49:37 GMT',
    'Sun, 29 Feb 2026 08:49:37 GMT',
    'Sun, 29 Feb 1900 08:49:37 GMT',
    'Sun, 06 Foo 1994 08:49:37 GMT',
    'Sun, 06 nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 24:00:00 GMT',
    'Sun, 06 Nov 1994 08:60:37 GMT',
    'Sun, 06 Nov 1994 08:49:61 GMT',
    'Sunday, 31-Apr-94 08:49:37 GMT',
    'Sun Feb 30 08:49:37 1994',
    // Almost one of the forms.
    'Foo, 06 Nov 1994 08:49:37 GMT',
    'Sunday, 06 Nov 1994 08:49:37 GMT',
    'Sun, 06-Nov-94 08:49:37 GMT',
    'Sun, 6 Nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 94 08:49:37 GMT',
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 06 Nov 1994 08:49:37 gmt',
    'Sun, 06 Nov 1994 08:49:37',
    'Sun, 06 Nov 1994 08:49 GMT',
    'Sun, 06 Nov 1994 8:49:37 GMT',
    'Sun, 06 Nov 1994 08:49:37 GMT junk',
    'Sun, 06 Nov 1994  08:49:37 GMT',
    'Sun,06 Nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 08:49:37 GMT+0100',
    'Sun, 06 Nov 1994 08:49:37.5 GMT',
    'Sun Nov 6 08:49:37 1994',
    'Sun Nov  06 08:49:37 1994',
    'Sun Nov  6 08:49:37 1994 GMT',
    'Sunday, 06-Nov-1994 08:49:37 GMT',
    '\tSun, 06 Nov 1994 08:49:37 GMT\u0000',
  ])('refuses %j', (value) => {
    expect(parseHttpDate(value)).toBeUndefined()
  })

  it('refuses what is not a string', () => {
    expect(parseHttpDate(undefined)).toBeUndefined()
    expect(parseHttpDate(0 as unknown as string)).toBeUndefined()
  })
})
