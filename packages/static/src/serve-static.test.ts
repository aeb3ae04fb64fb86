import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeUrlPath, MemoryStorage } from '@stowage/core'
import { hostileRequestPaths, rawGet } from '@stowage/core/testing'
import { collectstatic } from './collectstatic.js'
import { createFinders } from './finders.js'
import { createManifest, serializeManifest } from './manifest.js'
import { ManifestStaticStorage } from './manifest-static-storage.js'
import { serveStatic, IMMUTABLE_CACHE_CONTROL, type StaticMiddleware } from './serve-static.js'
import { FileSystemStorage } from '@stowage/local'
import { acceptedEncodings } from './precompress.js'
import { ASSET_TREE_DIRS, writeAssetTree } from './testing/asset-tree.js'
import { runServeCompressedSuite } from './testing/serve-compressed-suite.js'

const servers: Server[] = []
const roots: string[] = []

/** A fresh copy of the asset tree: each block serves its own, so one block's edits never reach another. */
async function assetRoot(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'stowage-serve-'))
  roots.push(root)
  await writeAssetTree(root)
  return root
}

async function serve(mw: StaticMiddleware, options: { next?: boolean } = {}): Promise<string> {
  const server = createServer(
    (req, res) =>
      void mw(
        req,
        res,
        options.next === false
          ? undefined
          : () => {
              res.statusCode = 418
              res.end('next')
            },
      ),
  )
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

afterAll(async () => {
  const closed = (s: Server) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections()
      s.close(() => resolve())
    })
  await Promise.all(servers.splice(0).map(closed))
  await Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true })))
})

describe('serveStatic in development (from the finders)', () => {
  let base: string
  let root: string
  beforeAll(async () => {
    root = await assetRoot()
    base = await serve(serveStatic({ finders: createFinders({ root, dirs: ASSET_TREE_DIRS }) }))
  })

  it('serves files with their content type, no immutable caching, and edits right away', async () => {
    const css = await fetch(`${base}/static/css/app.css`)
    expect(css.status).toBe(200)
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(css.headers.get('cache-control')).toBe('no-cache')
    expect(css.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await css.text()).toContain('@import "base.css"')
    expect((await fetch(`${base}/static/fonts/inter.woff2`)).headers.get('content-type')).toBe('font/woff2')
    expect((await fetch(`${base}/static/vendor/jquery/jquery.min.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const png = await fetch(`${base}/static/img/hero%20bg.jpg`)
    expect(png.headers.get('content-type')).toBe('image/jpeg')
    expect((await png.arrayBuffer()).byteLength).toBe(4096)
    await writeFile(path.join(root, 'static/css/vendor/normalize.css'), 'html { color: red }')
    expect(await (await fetch(`${base}/static/css/vendor/normalize.css`)).text()).toBe('html { color: red }')
  })

  it('answers 404 for missing files and traversal, 304 for a matching ETag, and leaves other paths alone', async () => {
    expect((await fetch(`${base}/static/nope.css`)).status).toBe(404)
    // Raw requests: fetch() would normalise these paths before sending them.
    for (const raw of ['/static/..%2fpackage.json', '/static/%2e%2e/package.json', '/static/../package.json', '/static/css/%00.css']) {
      expect((await rawGet(base, raw)).status).toBe(404)
    }
    const first = await fetch(`${base}/static/css/base.css`)
    const again = await fetch(`${base}/static/css/base.css`, { headers: { 'if-none-match': first.headers.get('etag')! } })
    expect(again.status).toBe(304)
    expect((await fetch(`${base}/other`)).status).toBe(418)
    const head = await fetch(`${base}/static/css/base.css`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe(first.headers.get('content-length'))
  })
})

describe('serveStatic in production (from the collected storage)', () => {
  it('marks hashed names immutable and originals for revalidation', async () => {
    const storage = new ManifestStaticStorage({ storage: new MemoryStorage({ baseUrl: '/static/' }) })
    await collectstatic({ storage, finders: createFinders({ root: await assetRoot(), dirs: ASSET_TREE_DIRS }) })
    const hashed = (await storage.url('css/app.css')).slice('/static/'.length)
    const base = await serve(serveStatic({ storage: new ManifestStaticStorage({ storage: storage.storage }) }))
    const res = await fetch(`${base}/static/${hashed}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL)
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(await res.text()).toMatch(/url\(\.\.\/img\/logo\.[0-9a-f]{12}\.png\)/)
    const orig = await fetch(`${base}/static/css/app.css`)
    expect(orig.headers.get('cache-control')).toBe('no-cache')
    expect((await fetch(`${base}/static/css/nothing.css`)).status).toBe(404)
  })
})

describe('serveStatic handing a read error to the next handler', () => {
  it("takes the file's headers back first: an error page is not the immutable, validated file", async () => {
    // A hashed name (immutable, one year) whose bytes cannot be read once its headers are set.
    const inner = new UnreadableStorage({ baseUrl: '/static/' })
    const storage = new ManifestStaticStorage({ storage: inner })
    await inner.save('css/app.css', 'body {}')
    await inner.save('css/app.55e7cbb9ba48.css', 'body {}')
    await storage.saveManifest(createManifest({ 'css/app.css': 'css/app.55e7cbb9ba48.css' }))
    const mw = serveStatic({ storage })
    let handed: unknown
    const server = createServer((req, res) => {
      void mw(req, res, (err) => {
        handed = err
        // An error handler that sets only what it must (as many do): whatever else is left is ours.
        res.statusCode = 500
        res.end('error page, longer than the file')
      })
    })
    servers.push(server)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/static/css/app.55e7cbb9ba48.css`)
    expect(res.status).toBe(500)
    // The file's Content-Length (7) would cut the page short, or leave a client waiting for bytes never sent.
    expect(await res.text()).toBe('error page, longer than the file')
    expect((handed as Error).message).toBe('disk gone')
    // A shared cache keeps a response with an explicit lifetime, error or not: an immutable 500 would be served for the URL for a year.
    const left = ['cache-control', 'etag', 'last-modified', 'content-type', 'accept-ranges', 'vary', 'content-encoding', 'content-range']
    expect(Object.fromEntries(left.map((h) => [h, res.headers.get(h)]))).toEqual(Object.fromEntries(left.map((h) => [h, null])))
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  })
})

describe('serveStatic after the manifest failed to load once', () => {
  it('asks again on the next request, instead of answering 500 for every file until a restart', async () => {
    let failures = 1
    class FlakyManifest extends MemoryStorage {
      override async read(name: string): Promise<Uint8Array> {
        if (name === 'staticfiles.json' && failures-- > 0) throw new Error('connection reset')
        return super.read(name)
      }
    }
    const inner = new FlakyManifest({ baseUrl: '/static/' })
    await inner.save('css/app.55e7cbb9ba48.css', 'body {}')
    await inner.save('staticfiles.json', serializeManifest(createManifest({ 'css/app.css': 'css/app.55e7cbb9ba48.css' })))
    const base = await serve(serveStatic({ storage: new ManifestStaticStorage({ storage: inner }) }), { next: false })
    const url = `${base}/static/css/app.55e7cbb9ba48.css`
    expect((await fetch(url)).status).toBe(500)
    const again = await fetch(url)
    expect([again.status, again.headers.get('cache-control'), await again.text()]).toEqual([200, IMMUTABLE_CACHE_CONTROL, 'body {}'])
  })
})

describe.each(['dev', 'prod'] as const)('serveStatic answers byte ranges (%s)', (mode) => {
  let base: string
  let url: string
  let whole: Buffer
  beforeAll(async () => {
    const root = await assetRoot()
    const finders = createFinders({ root, dirs: ASSET_TREE_DIRS })
    if (mode === 'dev') {
      base = await serve(serveStatic({ finders }))
      url = `${base}/static/img/hero%20bg.jpg`
    } else {
      const storage = new ManifestStaticStorage({ storage: new MemoryStorage({ baseUrl: '/static/' }) })
      await collectstatic({ storage, finders })
      base = await serve(serveStatic({ storage }))
      url = `${base}${await storage.url('img/hero bg.jpg')}`
    }
    const res = await fetch(url)
    expect(res.headers.get('accept-ranges')).toBe('bytes')
    whole = Buffer.from(await res.arrayBuffer())
    expect(whole.length).toBe(4096)
  })

  it('sends one range with 206 and Content-Range, a suffix, and the rest from an offset', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=-100', 3996, 4095],
      ['bytes=4000-', 4000, 4095],
      ['bytes=4000-9999', 4000, 4095],
      ['bytes=0-9,5-19', 0, 19], // overlapping ranges are one
    ]
    for (const [range, start, end] of cases) {
      const res = await fetch(url, { headers: { range } })
      expect(res.status, range).toBe(206)
      expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/4096`)
      expect(res.headers.get('content-length'), range).toBe(String(end - start + 1))
      expect(Buffer.from(await res.arrayBuffer()).equals(whole.subarray(start, end + 1)), range).toBe(true)
    }
    const head = await fetch(url, { method: 'HEAD', headers: { range: 'bytes=10-19' } })
    expect([head.status, head.headers.get('content-length'), head.headers.get('content-range')]).toEqual([206, '10', 'bytes 10-19/4096'])
  })

  it('answers 416 past the end, and the whole file for several ranges, another unit or a stale If-Range', async () => {
    const past = await fetch(url, { headers: { range: 'bytes=4096-' } })
    expect([past.status, past.headers.get('content-range')]).toEqual([416, 'bytes */4096'])
    const { etag, modified } = await fetch(url, { method: 'HEAD' }).then((r) => ({ etag: r.headers.get('etag')!, modified: r.headers.get('last-modified')! }))
    const stale: Record<string, string>[] = [
      { range: 'bytes=0-9,100-109' },
      { range: 'items=0-9' },
      { range: 'bytes=0-9', 'if-range': '"another-version"' },
      { range: 'bytes=0-9', 'if-range': 'Thu, 01 Jan 1970 00:00:00 GMT' },
    ]
    for (const headers of stale) {
      const res = await fetch(url, { headers })
      expect(res.status, JSON.stringify(headers)).toBe(200)
      expect((await res.arrayBuffer()).byteLength).toBe(4096)
    }
    // A current If-Range: the date always; the ETag only when strong (RFC 9110 §13.1.5).
    expect((await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': modified } })).status).toBe(206)
    expect((await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': etag } })).status).toBe(etag.startsWith('W/') ? 200 : 206)
  })
})

describe('serveStatic and names holding percent escapes (Django’s test/%2F.txt)', () => {
  // Sources in <base>/p/src, collected to <base>/p/root; real files where a traversal from either would land.
  const token = 'secret-outside'
  const bases: Record<'dev' | 'prod', string> = { dev: '', prod: '' }
  let hashed: string
  beforeAll(async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'stowage-serve-escapes-'))
    roots.push(base)
    const p = path.join(base, 'p')
    await mkdir(path.join(p, 'a'), { recursive: true })
    for (const d of [base, p, path.join(p, 'a')]) await writeFile(path.join(d, `${token}.txt`), 'SECRET outside the root')
    await writeAssetTree(p, { 'src/test/%2F.txt': '%2F content', [`src/..%2f${token}.txt`]: 'inside, literally named' })
    const finders = createFinders({ root: p, dirs: ['src'] })
    const storage = new ManifestStaticStorage({ storage: new FileSystemStorage({ location: path.join(p, 'root'), baseUrl: '/static/' }) })
    expect((await collectstatic({ storage, finders: createFinders({ root: p, dirs: ['src'], packages: false }) })).errors).toEqual([])
    hashed = (await storage.loadManifest())!.paths['test/%2F.txt']!
    // collectstatic leaves hidden files out (Django's `.*` ignore pattern): stored directly, as a literal name.
    await storage.storage.save(`..%2f${token}.txt`, 'inside, literally named')
    bases.dev = await serve(serveStatic({ finders }), { next: false })
    bases.prod = await serve(serveStatic({ storage }), { next: false })
  })

  it.each(['dev', 'prod'] as const)(
    '%s: serves test/%%2F.txt from /static/test/%%252F.txt, and 404 for /static/test/%%2F.txt (that is test/.txt)',
    async (mode) => {
      expect(await rawGet(bases[mode], '/static/test/%252F.txt')).toEqual({ status: 200, body: '%2F content' })
      expect((await rawGet(bases[mode], '/static/test/%2F.txt')).status).toBe(404)
      expect((await rawGet(bases[mode], '/static/test/%25252F.txt')).status).toBe(404)
    },
  )

  it('prod: serves the hashed copy from its encoded URL, immutable, and not from the single-encoded one', async () => {
    expect(hashed).toMatch(/^test\/%2F\.[0-9a-f]{12}\.txt$/)
    const res = await fetch(`${bases.prod}/static/${encodeUrlPath(hashed)}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL)
    expect(await res.text()).toBe('%2F content')
    expect((await rawGet(bases.prod, `/static/${hashed}`)).status).toBe(404)
  })

  it.each(['dev', 'prod'] as const)('%s: no hostile request path, single- or double-encoded, serves a file outside the root', async (mode) => {
    for (const p of hostileRequestPaths(token)) {
      const res = await rawGet(bases[mode], `/static/${p}`)
      expect(res.body, p).not.toContain('SECRET')
      // Decoded exactly once: `..%252f` is the literal `..%2f` inside the root; the rest is refused or missing.
      if (p === `..%252f${token}.txt`) expect(res, p).toEqual({ status: 200, body: 'inside, literally named' })
      else expect(res.status, p).toBe(404)
    }
  })
})

/** A storage that knows its files but cannot read them: the way to a 500. */
class UnreadableStorage extends MemoryStorage {
  override async open(): Promise<Readable> {
    throw new Error('disk gone')
  }
}

describe.each([
  ['with no policy (the default)', undefined],
  ['with contentSecurityPolicy', "default-src 'self'"],
])('serveStatic safety headers %s', (_title, contentSecurityPolicy) => {
  const bases: Record<'dev' | 'unreadable' | 'fallthrough', string> = { dev: '', unreadable: '', fallthrough: '' }
  let validators: { etag: string; lastModified: string }

  beforeAll(async () => {
    const csp = contentSecurityPolicy === undefined ? {} : { contentSecurityPolicy }
    const root = await assetRoot()
    bases.dev = await serve(serveStatic({ finders: createFinders({ root, dirs: ASSET_TREE_DIRS }), ...csp }), { next: false })
    const unreadable = new UnreadableStorage()
    await unreadable.save('css/app.css', 'body {}')
    bases.unreadable = await serve(serveStatic({ storage: unreadable, ...csp }), { next: false })
    bases.fallthrough = await serve(serveStatic({ finders: createFinders({ root, dirs: ASSET_TREE_DIRS }), fallthrough: true, ...csp }))
    const first = await fetch(`${bases.dev}/static/css/base.css`)
    validators = { etag: first.headers.get('etag')!, lastModified: first.headers.get('last-modified')! }
  })

  // Every kind of answer (200, 206, 416, 304, 404, 500) must carry the headers.
  type Row = [title: string, status: number, server: keyof typeof bases, request: () => [path: string, headers?: Record<string, string>, method?: string]]
  const rows: Row[] = [
    ['GET', 200, 'dev', () => ['/static/css/base.css']],
    ['HEAD', 200, 'dev', () => ['/static/css/base.css', {}, 'HEAD']],
    ['a byte range', 206, 'dev', () => ['/static/css/base.css', { range: 'bytes=0-3' }]],
    ['a byte range past the end', 416, 'dev', () => ['/static/css/base.css', { range: 'bytes=999999-' }]],
    ['If-Modified-Since', 304, 'dev', () => ['/static/css/base.css', { 'if-modified-since': validators.lastModified }]],
    ['an older If-Modified-Since', 200, 'dev', () => ['/static/css/base.css', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }]],
    ['If-None-Match', 304, 'dev', () => ['/static/css/base.css', { 'if-none-match': validators.etag }]],
    ['If-None-Match by HEAD', 304, 'dev', () => ['/static/css/base.css', { 'if-none-match': validators.etag }, 'HEAD']],
    ['a missing file', 404, 'dev', () => ['/static/nope.css']],
    ['a missing file by HEAD', 404, 'dev', () => ['/static/nope.css', {}, 'HEAD']],
    ['a traversal', 404, 'dev', () => ['/static/..%2fpackage.json']],
    ['a path outside the prefix, with no next handler', 404, 'dev', () => ['/elsewhere.css']],
    ['POST, with no next handler', 404, 'dev', () => ['/static/css/base.css', {}, 'POST']],
    ['a file that cannot be read', 500, 'unreadable', () => ['/static/css/app.css']],
  ]

  it.each(rows)('are sent for %s (%i)', async (_t, status, server, request) => {
    const [path, headers, method] = request()
    const res = await fetch(`${bases[server]}${path}`, { headers, method })
    expect(res.status).toBe(status)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('content-security-policy')).toBe(contentSecurityPolicy ?? null)
    // An empty 500 must not claim the file's Content-Length: the client would wait for bytes that never come.
    if (status === 500) expect(res.headers.get('content-length') ?? '0').toBe('0')
    await res.arrayBuffer()
  })

  it('are not left on a request handed on to the next handler', async () => {
    for (const path of ['/static/nope.css', '/other']) {
      const res = await fetch(`${bases.fallthrough}${path}`)
      expect(res.status, path).toBe(418)
      expect(res.headers.get('x-content-type-options'), path).toBeNull()
      expect(res.headers.get('content-security-policy'), path).toBeNull()
    }
  })
})

runServeCompressedSuite({ name: 'MemoryStorage', create: () => new MemoryStorage({ baseUrl: '/static/' }) })
runServeCompressedSuite({
  name: 'FileSystemStorage',
  create: async () => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-serve-root-'))
    roots.push(location)
    return new FileSystemStorage({ location, baseUrl: '/static/' })
  },
})

describe('acceptedEncodings', () => {
  it.each([
    [undefined, []],
    ['gzip, deflate, br', ['br', 'gzip']],
    ['br;q=0.1, gzip;q=1', ['br', 'gzip']],
    ['br;q=0', []],
    ['gzip;q=0, *', ['br']],
    ['*;q=0', []],
    ['x-gzip', ['gzip']],
    ['BR , GZIP', ['br', 'gzip']],
    ['identity', []],
    ['br;q=0.5, *;q=0', ['br']],
    [['gzip', 'br;q=0.2'] as string[], ['br', 'gzip']],
    ['deflate, x-gzip;q=0.5', ['gzip']],
    // x-gzip is gzip (RFC 9110 §8.4.1.3): refused by that name, gzip is refused, whatever `*` says.
    ['x-gzip;q=0, *', ['br']],
    ['*, X-GZIP ;q=0', ['br']],
    ['br, x-gzip;q=0, *;q=0.5', ['br']],
    ['x-gzipped, br', ['br']],
  ] as const)('%s → %j', (header, expected) => {
    expect(acceptedEncodings(header)).toEqual(expected)
  })
})
