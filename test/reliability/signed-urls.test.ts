/**
 * Signed URLs on the local backend: a URL verifies until it expires, and a
 * tampered, expired, or replayed-after-expiry URL is refused. The clock is
 * injected; nothing sleeps. Checked on the verifier and over real HTTP
 * through `serveMedia`. (The S3 side runs against the gateway in
 * s3-reliability.test.ts.)
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError, signUrl, verifySignedUrl } from '@stowage/core'
import { serveMedia } from '@stowage/http'
import { createLocalBackend } from './helpers/backends.js'

const SECRET = 'reliability-test-secret-0123456789'
const T0 = Date.UTC(2030, 0, 1)
let clock = T0
const now = () => clock
const verify = (url: string, secret = SECRET) => verifySignedUrl(url, { secret, now })

let backend: Awaited<ReturnType<typeof createLocalBackend>>
let url: string
let withDownload: string
beforeAll(async () => {
  backend = await createLocalBackend({ signingSecret: SECRET, now })
  const name = await backend.storage.save('private/report 2030.pdf', 'secret report')
  url = await backend.storage.url(name, { expiresIn: 600 })
  withDownload = await backend.storage.url(name, { expiresIn: 600, download: 'report.pdf' })
})
afterAll(async () => backend?.destroy())

/** The parts a signature covers, as a server parses them. */
function signedParts(u: string) {
  const p = new URL(u, 'http://x')
  const q = p.searchParams
  return JSON.stringify([p.pathname, q.get('expires'), q.get('download') ?? '', q.get('signature')])
}

describe('FileSystemStorage signed URLs', () => {
  it('a fresh URL verifies, carrying its download name', () => {
    clock = T0
    expect(url).toMatch(/^\/media\/private\/report%202030\.pdf\?expires=\d+&signature=/)
    expect(verify(url)).toEqual({ ok: true })
    expect(verify(withDownload)).toEqual({ ok: true, download: 'report.pdf' })
  })

  const tamperings: [string, (u: string) => string][] = [
    ['another file', (u) => u.replace('report%202030.pdf', 'other.pdf')],
    ['a path one character longer', (u) => u.replace('.pdf?', '.pdfx?')],
    ['a directory above', (u) => u.replace('/media/private/', '/media/')],
    ['a later expiry', (u) => u.replace(/expires=(\d+)/, (_, e: string) => `expires=${Number(e) + 86_400}`)],
    ['an expiry given twice, the forged one first', (u) => u.replace('?', `?expires=${Math.floor(T0 / 1000) + 999_999}&`)],
    ['a download name added', (u) => u.replace('&signature', '&download=evil.html&signature')],
    ['a download name changed', (u) => u.replace('download=report.pdf', 'download=report.html')],
    ['the download name removed', (u) => u.replace(/download=[^&]*&/, '')],
    ['a signature character flipped', (u) => u.replace(/signature=(.)/, (_, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)],
    ['a truncated signature', (u) => u.slice(0, -3)],
  ]
  for (const [what, tamper] of tamperings) {
    it(`refuses ${what}`, () => {
      clock = T0
      const source = what.includes('download name changed') || what.includes('removed') ? withDownload : url
      const forged = tamper(source)
      expect(forged).not.toBe(source)
      expect(verify(forged)).toEqual({ ok: false, reason: 'invalid' })
    })
  }

  it('refuses a URL with no signature or no expiry as missing', () => {
    clock = T0
    expect(verify(url.replace(/&signature=.*/, ''))).toEqual({ ok: false, reason: 'missing' })
    expect(verify(url.replace(/expires=\d+&/, ''))).toEqual({ ok: false, reason: 'missing' })
    expect(verify('/media/private/report%202030.pdf')).toEqual({ ok: false, reason: 'missing' })
    expect(verify(url.replace(/signature=.*/, 'signature='))).toEqual({ ok: false, reason: 'missing' })
  })

  it('refuses a URL it cannot parse as invalid, and signs neither such a URL nor one that could never be used', () => {
    expect(verify('//[x?expires=1&signature=x')).toEqual({ ok: false, reason: 'invalid' })
    for (const expiresIn of [NaN, 0, -60, Infinity, '600' as unknown as number, 1e21]) {
      expect(() => signUrl('/media/a.pdf', { secret: SECRET, expiresIn, now }), String(expiresIn)).toThrow(InvalidArgumentError)
    }
    expect(() => signUrl('//[x', { secret: SECRET, expiresIn: 60, now })).toThrow(InvalidArgumentError)
    expect(verify(signUrl('/media/a.pdf', { secret: SECRET, expiresIn: 60, now }))).toEqual({ ok: true })
  })

  it("signs no URL holding a '#': the signature would cover only the path before it, another file", () => {
    clock = T0
    // A name pasted into a path unencoded: `private/report#2.pdf` is not the file `private/report`.
    for (const raw of ['/media/private/report#2.pdf', 'https://cdn.example/media/private/report#x', '/media/a.pdf#page=2']) {
      expect(() => signUrl(raw, { secret: SECRET, expiresIn: 60, now }), raw).toThrow(expect.objectContaining({ code: 'EINVAL', context: { argument: 'url' } }))
    }
    // Encoded, the '#' is part of the name, and the signature covers it.
    const signed = signUrl('/media/private/report%232.pdf', { secret: SECRET, expiresIn: 60, now })
    expect(verify(signed)).toEqual({ ok: true })
    expect(verify(signed.replace('report%232.pdf', 'report'))).toEqual({ ok: false, reason: 'invalid' })
  })

  it('signs no path a URL parser reads as another (dot segments, backslashes, tabs, newlines): the signature would cover that other file', () => {
    clock = T0
    // An application that checks the name it was given (`u1/...` is the user's own) and pastes it into a path:
    // `/media/u1/../u2/secret.pdf` is, to a URL parser, `/media/u2/secret.pdf`, and so was the signature.
    for (const raw of [
      '/media/u1/../u2/secret.pdf',
      '/media/u1/%2e%2e/u2/secret.pdf',
      '/media/u1/.%2E/u2/secret.pdf',
      '/media/u1/..\\u2/secret.pdf',
      '/media/private\\report.pdf',
      '/media/./private/report.pdf',
      '/media/a\tb.pdf',
      '/media/a\nb.pdf',
      'https://cdn.example/media/u1/../u2/secret.pdf',
      '//cdn.example/media/u1/%2e%2e/u2/secret.pdf',
      '/media/100%.pdf',
    ]) {
      expect(() => signUrl(raw, { secret: SECRET, expiresIn: 60, now }), JSON.stringify(raw)).toThrow(
        expect.objectContaining({ code: 'EINVAL', context: { argument: 'url' } }),
      )
    }
    // What a parser only spells differently is the same file, and signed: each verifies as a browser sends it.
    for (const raw of [
      '/media/a b.pdf',
      '/media/\u00e9t\u00e9.pdf',
      '/media/a%2Fb.pdf',
      '/media/..%2Fx.pdf',
      'media/relative.pdf',
      'https://cdn.example:8443/media/a%20b.pdf',
      'HTTPS://CDN.example/media/x.pdf',
      '//cdn.example/media/x.pdf',
    ]) {
      const signed = signUrl(raw, { secret: SECRET, expiresIn: 60, now })
      const sent = new URL(signed, 'https://app.example/')
      expect(verify(sent.pathname + sent.search), raw).toEqual({ ok: true })
    }
  })

  it('refuses a URL signed with another secret', () => {
    clock = T0
    expect(verify(url, 'another-secret-of-enough-length')).toEqual({ ok: false, reason: 'invalid' })
  })

  it('expires at the stated second, and a URL that worked is refused when replayed after expiry', () => {
    clock = T0 + 599_999
    expect(verify(url)).toEqual({ ok: true })
    clock = T0 + 600_000
    expect(verify(url)).toEqual({ ok: false, reason: 'expired' })
    clock = T0 + 30 * 86_400_000
    expect(verify(url)).toEqual({ ok: false, reason: 'expired' })
    expect(verify(withDownload)).toEqual({ ok: false, reason: 'expired' })
  })

  it('a tampered URL is refused as invalid, not expired, so forgers learn nothing about expiry', () => {
    clock = T0 + 30 * 86_400_000
    expect(verify(url.replace(/expires=(\d+)/, 'expires=99999999999'))).toEqual({ ok: false, reason: 'invalid' })
  })

  it('no single-character edit of a URL verifies unless it changes nothing the signature covers (3,000 edits)', () => {
    clock = T0
    const edit = fc.tuple(
      fc.constantFrom(url, withDownload),
      fc.nat(),
      fc.constantFrom('replace', 'insert', 'delete'),
      fc.constantFrom(...'aA0/.%?&=_-~+ #\u00e9'.split('')),
    )
    fc.assert(
      fc.property(edit, ([source, at, how, ch]) => {
        const i = at % source.length
        const forged = how === 'delete' ? source.slice(0, i) + source.slice(i + 1) : source.slice(0, i) + ch + source.slice(how === 'replace' ? i + 1 : i)
        const result = verify(forged)
        // Accepted only if a server would read exactly the same signed parts (e.g. an appended duplicate).
        if (result.ok) expect(signedParts(forged)).toBe(signedParts(source))
      }),
      { numRuns: 3_000 },
    )
  })
})

describe('FileSystemStorage signed URLs served over HTTP by serveMedia', () => {
  let server: Server
  let origin: string
  beforeAll(async () => {
    const handler = serveMedia({ storage: backend.storage, prefix: '/media/', signingSecret: SECRET, private: true, now })
    server = createServer((req, res) => handler(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const get = async (path: string) => {
    const res = await fetch(origin + path)
    return { status: res.status, body: await res.text() }
  }

  it('serves a fresh URL, refuses it tampered, refuses it replayed after expiry, and never leaks the file', async () => {
    clock = T0
    expect(await get(url)).toEqual({ status: 200, body: 'secret report' })
    const forged = [
      url.replace(/expires=(\d+)/, (_, e: string) => `expires=${Number(e) + 86_400}`),
      url.replace(/signature=(.)/, (_, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`),
      url.replace('&signature', '&download=x.html&signature'),
      url.replace(/\?.*/, ''),
    ]
    for (const f of forged) {
      const r = await get(f)
      expect(r.status, f).toBe(403)
      expect(r.body).not.toContain('secret')
    }
    clock = T0 + 600_000
    const replay = await get(url)
    expect(replay.status).toBe(403)
    expect(replay.body).not.toContain('secret')
  })

  it('answers 404 to traversal through the URL and never serves the file beside the root', async () => {
    clock = T0
    for (const p of [
      '/media/../sentinel.txt',
      '/media/..%2fsentinel.txt',
      '/media/%2e%2e/sentinel.txt',
      '/media/%2e%2e%2fsentinel.txt',
      '/media/..%5csentinel.txt',
      '/media/%252e%252e/sentinel.txt',
    ]) {
      const r = await get(`${p}?expires=9999999999&signature=x`)
      expect([403, 404], p).toContain(r.status)
      expect(r.body, p).not.toContain('outside the root')
    }
  })
})
