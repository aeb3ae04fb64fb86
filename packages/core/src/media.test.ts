import { describe, expect, it } from 'vitest'
import { contentDisposition, etagMatches, isInlineSafe, typeForName } from './media.js'

describe('typeForName', () => {
  it.each([
    ['css/app.css', 'text/css; charset=utf-8'],
    ['a/b.JS', 'text/javascript; charset=utf-8'],
    ['x.cjs', 'text/javascript; charset=utf-8'],
    ['app.js.map', 'application/json; charset=utf-8'],
    ['site.webmanifest', 'application/manifest+json; charset=utf-8'],
    ['logo.svg', 'image/svg+xml'],
    ['favicon.ico', 'image/vnd.microsoft.icon'],
    ['photo.jpeg', 'image/jpeg'],
    ['font.woff2', 'font/woff2'],
    ['mod.wasm', 'application/wasm'],
    ['a.tar.gz', 'application/gzip'],
  ])('%s → %s', (name, type) => {
    expect(typeForName(name)).toBe(type)
  })

  it.each(['README', '.bashrc', 'dir.d/file', 'x.unknownext', 'trailing.'])('%s has no type', (name) => {
    expect(typeForName(name)).toBeUndefined()
  })
})

describe('isInlineSafe', () => {
  it.each(['image/png', 'IMAGE/JPEG; x=1', 'video/mp4', 'audio/ogg', 'font/woff2', 'application/pdf', 'text/plain; charset=utf-8', 'application/json'])(
    '%s is passive',
    (type) => {
      expect(isInlineSafe(type)).toBe(true)
    },
  )
  it.each([
    'text/html',
    'image/svg+xml',
    'application/xml',
    'text/xml',
    'application/xhtml+xml',
    'text/javascript',
    'text/css',
    'application/octet-stream',
    'application/x-unknown',
    '',
    undefined,
    // Read by a browser as another type: a list (the last member wins) or a malformed type it would sniff.
    'video/mp4,text/html',
    'image/png, text/html',
    'image/png; x=a,text/html',
    'font/',
    'audio/',
    'video/mp4/x',
    'image/png x',
  ])('%s is active', (type) => {
    expect(isInlineSafe(type)).toBe(false)
  })
})

describe('contentDisposition', () => {
  it('keeps the exact UTF-8 name and a fallback that cannot break out of the header', () => {
    expect(contentDisposition('attachment', 'é "x"\\%.txt')).toBe(`attachment; filename="_ _x___.txt"; filename*=UTF-8''%C3%A9%20%22x%22%5C%25.txt`)
    expect(contentDisposition('inline')).toBe('inline')
  })

  it('sends a lone surrogate (no UTF-8 form) as U+FFFD instead of throwing', () => {
    expect(contentDisposition('attachment', 'a\ud800b.txt')).toBe(`attachment; filename="a_b.txt"; filename*=UTF-8''a%EF%BF%BDb.txt`)
    expect(contentDisposition('inline', '\udc00')).toBe(`inline; filename="_"; filename*=UTF-8''%EF%BF%BD`)
  })
})

describe('etagMatches', () => {
  it.each([
    ['"a"', '"a"', true],
    ['W/"a"', '"a"', true],
    ['"a"', 'W/"a"', true],
    ['"b", W/"a"', '"a"', true],
    ['*', '"a"', true],
    ['"b"', '"a"', false],
    ['"a-"', '"a"', false],
    ['', '"a"', false],
  ])('If-None-Match %s against %s: %s', (header, etag, match) => {
    expect(etagMatches(header, etag)).toBe(match)
  })
})
