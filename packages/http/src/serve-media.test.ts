import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileField, hostileUploads, InvalidArgumentError, MemoryStorage, samplePng, signUrl } from '@stowage/core'
import { hostileRequestPaths, rawGet, randomPrefix } from '@stowage/core/testing'
import { FileSystemStorage } from '@stowage/local'
import { MEDIA_CSP, serveMedia } from './serve-media.js'
// Runs on every backend in test-support/backends.ts, S3 (@stowage/s3) included.
import { backends, mediaPath, SECRET, serve, type TestBackend } from './test-support/backends.js'

describe.each(Object.keys(backends))('serveMedia on %s', (backendName) => {
  let backend: TestBackend
  let server: Awaited<ReturnType<typeof serve>>
  let clock = Date.now()
  const png = samplePng(4, 4)
  let dir: string

  beforeAll(async () => {
    backend = await backends[backendName]!()
    dir = randomPrefix('serve')
    server = await serve(
      serveMedia({
        storage: backend.storage,
        prefix: '/media/',
        signingSecret: SECRET,
        private: (name) => name.startsWith('private/'),
        now: () => clock,
      }),
    )
    await backend.storage.save(`${dir}/pic.png`, png, { contentType: 'image/png' })
    await backend.storage.save(`${dir}/a b ü.txt`, 'hello world')
  })
  afterAll(async () => {
    await server?.close()
    await backend?.destroy()
  })

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${server.url}${path}`, { headers, method })

  it('serves a file with safe headers and validators', async () => {
    const res = await get(`/media/${dir}/pic.png`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('content-security-policy')).toBe(MEDIA_CSP)
    expect(res.headers.get('content-disposition')).toBe('inline')
    expect(res.headers.get('accept-ranges')).toBe('bytes')
    expect(res.headers.get('etag')).toMatch(/^(W\/)?".+"$/)
    expect(Date.parse(res.headers.get('last-modified')!)).not.toBeNaN()
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true)
  })

  it('decodes percent-encoded names as url() produces them', async () => {
    const res = await get(mediaPath(`${dir}/a b ü.txt`))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('hello world')
    expect(res.headers.get('content-type')).toBe('text/plain')
  })

  it('answers conditional requests with 304', async () => {
    const first = await get(`/media/${dir}/pic.png`)
    const etag = first.headers.get('etag')!
    expect((await get(`/media/${dir}/pic.png`, { 'if-none-match': etag })).status).toBe(304)
    expect((await get(`/media/${dir}/pic.png`, { 'if-none-match': '"other"' })).status).toBe(200)
    expect((await get(`/media/${dir}/pic.png`, { 'if-modified-since': first.headers.get('last-modified')! })).status).toBe(304)
    expect((await get(`/media/${dir}/pic.png`, { 'if-modified-since': new Date(0).toUTCString() })).status).toBe(200)
  })

  it('ignores If-Modified-Since and If-Range values that are not HTTP-dates, as if they were not sent', async () => {
    const first = await get(`/media/${dir}/pic.png`)
    const lastModified = first.headers.get('last-modified')!
    const iso = new Date(lastModified).toISOString()
    // Date.parse reads these as 2000, 9999 and Last-Modified itself: 9999 and the ISO string earned a 304.
    for (const since of ['0', '9999', iso]) {
      const res = await get(`/media/${dir}/pic.png`, { 'if-modified-since': since })
      expect(res.status, since).toBe(200)
      expect(Buffer.from(await res.arrayBuffer()).equals(png), since).toBe(true)
    }
    // An If-Range that is not an HTTP-date does not name this version: the whole file, not the range.
    const ranged = await get(`/media/${dir}/pic.png`, { range: 'bytes=0-1', 'if-range': iso })
    expect(ranged.status).toBe(200)
    expect(Buffer.from(await ranged.arrayBuffer()).equals(png)).toBe(true)
    expect((await get(`/media/${dir}/pic.png`, { range: 'bytes=0-1', 'if-range': lastModified })).status).toBe(206)
  })

  it('serves byte ranges', async () => {
    const res = await get(`/media/${dir}/a b ü.txt`.replace(/ /g, '%20').replace('ü', '%C3%BC'), { range: 'bytes=6-10' })
    expect(res.status).toBe(206)
    expect(res.headers.get('content-range')).toBe('bytes 6-10/11')
    expect(await res.text()).toBe('world')
    const suffix = await get(`/media/${dir}/pic.png`, { range: 'bytes=-4' })
    expect(suffix.status).toBe(206)
    expect(Buffer.from(await suffix.arrayBuffer()).equals(png.subarray(png.length - 4))).toBe(true)
    const past = await get(`/media/${dir}/pic.png`, { range: `bytes=${png.length}-` })
    expect(past.status).toBe(416)
    expect(past.headers.get('content-range')).toBe(`bytes */${png.length}`)
    const stale = await get(`/media/${dir}/pic.png`, { range: 'bytes=0-1', 'if-range': '"stale"' })
    expect(stale.status).toBe(200)
    expect(Number(stale.headers.get('content-length'))).toBe(png.length)
    // An empty file is sent whole (empty), as serveStatic sends it: there is no byte to range over.
    await backend.storage.save(`${dir}/empty.txt`, '')
    const empty = await get(`/media/${dir}/empty.txt`, { range: 'bytes=0-' })
    expect([empty.status, empty.headers.get('content-length'), empty.headers.get('content-range'), await empty.text()]).toEqual([200, '0', null, ''])
  })

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await get(`/media/${dir}/pic.png`, {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(Number(head.headers.get('content-length'))).toBe(png.length)
    const post = await get(`/media/${dir}/pic.png`, {}, 'POST')
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })

  it('serves a name holding a percent escape from its encoded URL only, and decodes every request path exactly once', async () => {
    await backend.storage.save(`${dir}/test/%2F.txt`, 'literal %2F')
    // url() and mediaPath encode the `%`: `test/%252F.txt`, which decodes once to the stored name.
    expect(mediaPath(`${dir}/test/%2F.txt`)).toBe(`/media/${dir}/test/%252F.txt`)
    const literal = await get(`/media/${dir}/test/%252F.txt`)
    expect(literal.status).toBe(200)
    expect(await literal.text()).toBe('literal %2F')
    // Decoded once this is `test//.txt`, i.e. `test/.txt`: another (missing) file.
    expect((await get(`/media/${dir}/test/%2F.txt`)).status).toBe(404)
    // Decoded twice it would be the file again: a third encoding must not reach it either.
    expect((await get(`/media/${dir}/test/%25252F.txt`)).status).toBe(404)
  })

  it.each([`/media/${'missing.png'}`, '/media/..%2F..%2Fetc%2Fpasswd', '/media/%2e%2e/x', '/media/%E0%A4%A', '/elsewhere/x.png'])(
    'answers 404 for %s',
    async (path) => {
      const res = await get(path)
      expect(res.status).toBe(404)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    },
  )

  // How each hostile file is served: [type the field detected and the backend recorded, type from the extension alone (local disk records none)].
  // Markup goes out as a download; what is shown inline is a raster type a browser will not run under nosniff.
  const hostileServed: Record<string, [recorded: string, byExtension: string]> = {
    'HTML renamed .png': ['text/html attachment', 'image/png inline'],
    'HTML declared as octet-stream with no extension': ['text/html attachment', 'application/octet-stream attachment'],
    'SVG with script, named .svg': ['image/svg+xml attachment', 'image/svg+xml attachment'],
    'SVG with script renamed .png': ['image/svg+xml attachment', 'image/png inline'],
    'PNG/HTML polyglot (script in a tEXt chunk)': ['image/png inline', 'image/png inline'],
    'GIF/HTML polyglot': ['image/gif inline', 'image/gif inline'],
    'PNG declared as JPEG': ['image/png inline', 'image/jpeg inline'],
    'decompression bomb: PNG claiming 100000 × 100000 pixels': ['image/png inline', 'image/png inline'],
    'PNG header cut short': ['image/png inline', 'image/png inline'],
    'empty file named .png': ['image/png inline', 'image/png inline'],
  }

  it.each(hostileUploads().map((h) => [h.title, h] as const))('serves %s safely when an app stored it without validation', async (title, h) => {
    const field = fileField({ storage: backend.storage, uploadTo: `${dir}/hostile/` })
    const record: Record<string, unknown> = {}
    await field.bind(record, 'f').save(h.filename, h.bytes, { contentType: h.contentType })
    const res = await get(mediaPath(field.bind(record, 'f').name!))
    expect(res.status).toBe(200)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('content-security-policy')).toContain('sandbox')
    const [recorded, byExtension] = hostileServed[title]!
    const disposition = res.headers.get('content-disposition')!.split(';')[0]
    expect(`${res.headers.get('content-type')} ${disposition}`).toBe(backend.keepsContentType ? recorded : byExtension)
  })

  it("never serves Stowage's own names: a direct upload awaiting validation is 404 even to the uploader who knows its URL", async () => {
    const pending = `.stowage-pending/${'a'.repeat(32)}/${dir}-evil.html`
    await backend.storage.save(pending, '<script>alert(1)</script>', { contentType: 'text/html' })
    await backend.storage.save(`.stowage-probe-${dir}`, 'x')
    try {
      for (const name of [pending, `.stowage-probe-${dir}`]) {
        const res = await get(mediaPath(name))
        expect(res.status, name).toBe(404)
        expect(await res.text()).not.toContain('<script>')
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      }
      // Spelt so the storage normalises it to the same file: still Stowage's (sent raw: fetch() would resolve `./`).
      for (const raw of [`/media/./${encodeURI(pending)}`, `/media/%2e/${encodeURI(pending)}`, `/media/${dir}/../${encodeURI(pending)}`]) {
        const res = await rawGet(server.url, raw)
        expect(res.status, raw).toBe(404)
        expect(res.body).not.toContain('<script>')
      }
      // A name that only contains the word is the application's.
      await backend.storage.save(`${dir}/.stowage-notes.txt`, 'mine')
      expect((await get(mediaPath(`${dir}/.stowage-notes.txt`))).status).toBe(200)
    } finally {
      await backend.storage.delete(pending)
      await backend.storage.delete(`.stowage-probe-${dir}`)
    }
  })

  it('sends HTML, SVG, XML and JS stored under honest names as attachments', async () => {
    for (const [name, body] of [
      ['x.html', '<html></html>'],
      ['x.svg', '<svg/>'],
      ['x.xml', '<a/>'],
      ['x.js', 'alert(1)'],
    ] as const) {
      await backend.storage.save(`${dir}/${name}`, body)
      const res = await get(`/media/${dir}/${name}`)
      expect(res.headers.get('content-disposition'), name).toBe(`attachment; filename="${name}"; filename*=UTF-8''${name}`)
    }
  })

  describe('safety headers', () => {
    // Functions: `dir` is only known once the outer beforeAll has run.
    const privateName = () => `private/${dir}-headers.txt`
    const pic = () => `/media/${dir}/pic.png`
    const signedPath = (expiresIn: number, now = clock) => signUrl(mediaPath(privateName()), { secret: SECRET, expiresIn, now: () => now })
    // Always a different first character: replacing it with a fixed one was a no-op 1 time in 64.
    const tamper = (url: string) => url.replace(/signature=(.)/, (_, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)
    let validators: { etag: string; lastModified: string }

    beforeAll(async () => {
      await backend.storage.save(privateName(), 'top secret', { overwrite: true })
      const first = await get(`/media/${dir}/pic.png`)
      validators = { etag: first.headers.get('etag')!, lastModified: first.headers.get('last-modified')! }
    })

    type Row = [title: string, status: number, request: () => [path: string, headers?: Record<string, string>, method?: string]]
    const rows: Row[] = [
      ['GET', 200, () => [pic()]],
      ['HEAD', 200, () => [pic(), {}, 'HEAD']],
      ['a signed private file', 200, () => [signedPath(60)]],
      ['a byte range', 206, () => [pic(), { range: 'bytes=0-3' }]],
      ['a byte range by HEAD', 206, () => [pic(), { range: 'bytes=0-3' }, 'HEAD']],
      ['If-None-Match', 304, () => [pic(), { 'if-none-match': validators.etag }]],
      ['If-None-Match by HEAD', 304, () => [pic(), { 'if-none-match': validators.etag }, 'HEAD']],
      ['If-Modified-Since', 304, () => [pic(), { 'if-modified-since': validators.lastModified }]],
      ['a private file without a signature', 403, () => [mediaPath(privateName())]],
      ['a tampered signature', 403, () => [tamper(signedPath(60))]],
      ['an expired signature', 403, () => [signedPath(60, clock - 120_000)]],
      ['a missing file', 404, () => [`/media/${dir}/missing.png`]],
      ['a missing file by HEAD', 404, () => [`/media/${dir}/missing.png`, {}, 'HEAD']],
      ['an unsafe name', 404, () => ['/media/%2e%2e/x']],
      ['POST', 405, () => [pic(), {}, 'POST']],
      ['an unsatisfiable range', 416, () => [pic(), { range: `bytes=${png.length}-` }]],
    ]

    it.each(rows)('are sent for %s (%i)', async (_title, status, request) => {
      const [path, headers, method] = request()
      const res = await get(path, headers, method)
      expect(res.status).toBe(status)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('content-security-policy')).toBe(MEDIA_CSP)
    })
  })

  describe('signed URLs', () => {
    const signed = async (name: string, opts: { expiresIn: number; download?: string }) =>
      backend.signingSecret ? backend.storage.url(name, opts) : signUrl(mediaPath(name), { secret: SECRET, ...opts, now: () => clock })

    beforeAll(async () => {
      await backend.storage.save('private/' + dir + '.pdf', '%PDF-1.4 secret', { overwrite: true })
    })

    it('serves a private file only with a valid, unexpired signature', async () => {
      const name = `private/${dir}.pdf`
      expect((await get(`/media/${name}`)).status).toBe(403)
      const url = await signed(name, { expiresIn: 60 })
      const ok = await get(url)
      expect(ok.status).toBe(200)
      expect(ok.headers.get('cache-control')).toBe('private, no-store')
      expect(await ok.text()).toBe('%PDF-1.4 secret')
      // Tampered signatures get 403 in the table above; every kind of forgery: test/reliability/signed-urls.test.ts.
      const saved = clock
      clock = Date.now() + 120_000 // past the expiry whichever clock signed it
      try {
        const late = await get(url)
        expect(late.status).toBe(403)
        expect(await late.text()).toBe('Link expired')
      } finally {
        clock = saved
      }
    })

    // The predicate judges the stored name, not the request's spelling of it:
    // `./private/x` and `%2e/private/x` are the file `private/x` to the storage.
    it.each(['./private/', '%2e/private/', '%2E/private/', 'private/./', '.%2fprivate/', 'private//', './/./private/'])(
      'refuses a private file requested as /media/%s<name> without a signature',
      async (spelling) => {
        const res = await rawGet(server.url, `/media/${spelling}${dir}.pdf`)
        expect(res.status).toBe(403)
        expect(res.body).not.toContain('secret')
      },
    )

    it('reads the signature parameter as verifySignedUrl does: a bad one spelt %73ignature is refused, even on a public file', async () => {
      const name = `public-${dir}.txt`
      await backend.storage.save(name, 'public text', { overwrite: true })
      expect((await get(`/media/${name}`)).status).toBe(200)
      expect((await get(`/media/${name}?expires=9999999999&%73ignature=forged`)).status).toBe(403)
      expect((await get(`/media/${name}?expires=9999999999&signature=forged`)).status).toBe(403)
    })

    it('honours a signed download name with Content-Disposition: attachment', async () => {
      const url = await signed(`private/${dir}.pdf`, { expiresIn: 60, download: 'Année 2024.pdf' })
      const res = await get(url)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="Ann_e 2024.pdf"; filename*=UTF-8''Ann%C3%A9e%202024.pdf`)
    })
  })
})

describe('serveMedia prefix', () => {
  // `/media` served nothing (`/media/a.txt` was the name `/a.txt`) and mapped `/mediaa.txt` to `a.txt`.
  it.each(['/media', 'media', 'media/', '/media/'])('%j serves /media/<name> and nothing under /media<name>', async (prefix) => {
    const storage = new MemoryStorage()
    await storage.save('a.txt', 'hello')
    const server = await serve(serveMedia({ storage, prefix }))
    try {
      const res = await fetch(`${server.url}/media/a.txt`)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('hello')
      expect((await fetch(`${server.url}/mediaa.txt`)).status).toBe(404)
    } finally {
      await server.close()
    }
  })
})

describe('serveMedia safety headers on server errors', () => {
  it.each([
    ['the default policy', undefined, MEDIA_CSP],
    ['a custom policy', "default-src 'none'", "default-src 'none'"],
  ])('are sent on a 500 with %s', async (_title, contentSecurityPolicy, expected) => {
    const server = await serve(
      serveMedia({
        storage: () => {
          throw new Error('storage unavailable')
        },
        prefix: '/media/',
        ...(contentSecurityPolicy !== undefined && { contentSecurityPolicy }),
      }),
    )
    try {
      const res = await fetch(`${server.url}/media/x.png`)
      expect(res.status).toBe(500)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('content-security-policy')).toBe(expected)
    } finally {
      await server.close()
    }
  })

  it('answers a programming error (InvalidArgumentError) with a 500 that keeps its message to itself', async () => {
    const server = await serve(
      serveMedia({
        storage: () => {
          throw new InvalidArgumentError('expiresIn must be at most 604800 seconds')
        },
        prefix: '/media/',
      }),
    )
    try {
      const res = await fetch(`${server.url}/media/x.png`)
      expect(res.status).toBe(500)
      expect(await res.json()).toEqual({ error: 'EINTERNAL', message: 'Internal server error' })
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('content-security-policy')).toBe(MEDIA_CSP)
    } finally {
      await server.close()
    }
  })

  it('answers a private predicate that throws with a 500 (or next(err)), serving nothing and throwing nothing out of the handler', async () => {
    const storage = new MemoryStorage()
    await storage.save('users/7/id.pdf', 'SECRET')
    await storage.save('odd.pdf', 'SECRET too')
    // An application's predicate that assumes every name has a shape: `match()` is null for `odd.pdf`.
    const owner = (name: string) => name.match(/^users\/(\d+)\//)![1]
    const media = serveMedia({ storage, prefix: '/media/', signingSecret: SECRET, private: (name) => owner(name) !== 'public' })
    const thrown: unknown[] = []
    // Thrown out of a node:http 'request' listener, an error would end the process.
    const server = await serve((req, res) => {
      try {
        media(req, res)
      } catch (err) {
        thrown.push(err)
        res.writeHead(599).end()
      }
    })
    const handed: unknown[] = []
    const express = await serve((req, res) => {
      try {
        media(req, res, (err) => {
          handed.push(err)
          res.writeHead(502).end()
        })
      } catch (err) {
        thrown.push(err)
        res.writeHead(599).end()
      }
    })
    try {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(`${server.url}/media/odd.pdf`, { method })
        expect(res.status, method).toBe(500)
        expect(await res.text()).not.toContain('SECRET')
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
        expect(res.headers.get('content-security-policy')).toBe(MEDIA_CSP)
      }
      expect(await (await fetch(`${server.url}/media/odd.pdf`)).json()).toEqual({ error: 'EINTERNAL', message: 'Internal server error' })
      expect((await fetch(`${server.url}/media/users/7/id.pdf`)).status).toBe(403)
      expect((await fetch(`${express.url}/media/odd.pdf`)).status).toBe(502)
      expect(handed).toEqual([expect.any(TypeError)])
      expect(thrown).toEqual([])
    } finally {
      await server.close()
      await express.close()
    }
  })

  it('refuses a short signingSecret when it is made, private or not, naming the key', () => {
    const storage = new MemoryStorage()
    // Checked on the first signed request instead, it threw out of the handler: any `?signature=` ended a node:http process.
    for (const options of [{ signingSecret: 'short' }, { signingSecret: '' }, { signingSecret: 'short', private: true }, { private: true }]) {
      expect(() => serveMedia({ storage, ...options }), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'ECONFIG', key: 'signingSecret' }))
    }
    expect(() => serveMedia({ storage, signingSecret: SECRET })).not.toThrow()
  })

  it('leaves requests it hands on to the next handler untouched', async () => {
    const media = serveMedia({ storage: new MemoryStorage(), prefix: '/media/' })
    const server = await serve((req, res) =>
      media(req, res, () => {
        res.writeHead(200, { 'content-type': 'text/html' })
        res.end('<p>app</p>')
      }),
    )
    try {
      const res = await fetch(`${server.url}/elsewhere`)
      expect(await res.text()).toBe('<p>app</p>')
      expect(res.headers.get('content-security-policy')).toBeNull()
      expect(res.headers.get('x-content-type-options')).toBeNull()
    } finally {
      await server.close()
    }
  })
})

describe('serveMedia on local disk: hostile request paths', () => {
  // The root two levels down, with real files where a traversal from it would land.
  let base: string
  let server: Awaited<ReturnType<typeof serve>>
  let storage: FileSystemStorage
  const token = 'secret-outside'
  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'stowage-media-outside-'))
    await mkdir(path.join(base, 'p', 'root'), { recursive: true })
    await mkdir(path.join(base, 'p', 'a'), { recursive: true })
    for (const d of [base, path.join(base, 'p'), path.join(base, 'p', 'a')]) await writeFile(path.join(d, `${token}.txt`), 'SECRET outside the root')
    storage = new FileSystemStorage({ location: path.join(base, 'p', 'root'), baseUrl: '/media/' })
    // Inside the root, the literal name one double-encoded path decodes to once.
    await storage.save(`..%2f${token}.txt`, 'inside, literally named')
    server = await serve(serveMedia({ storage, prefix: '/media/' }))
  })
  afterAll(async () => {
    await server?.close()
    await rm(base, { recursive: true, force: true })
  })

  it.each(hostileRequestPaths(token))('serves nothing outside the root for /media/%s', async (p) => {
    const res = await rawGet(server.url, `/media/${p}`)
    expect(res.body).not.toContain('SECRET')
    // Decoded exactly once: `..%252f` is the literal `..%2f` inside the root; everything else is refused or missing.
    if (p === `..%252f${token}.txt`) expect(res).toEqual({ status: 200, body: 'inside, literally named' })
    else expect(res.status).toBe(404)
  })
})
