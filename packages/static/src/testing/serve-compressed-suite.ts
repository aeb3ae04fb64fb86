/**
 * `serveStatic` in production over each backend (memory, local disk, S3):
 * content negotiation of the precompressed variants `collectstatic` wrote,
 * and the run record kept out of reach.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Storage } from '@stowage/core'
import { COLLECT_STATE_NAME } from '../collect-record.js'
import { collectstatic } from '../collectstatic.js'
import { createFinders } from '../finders.js'
import { listDeploys } from '../deploy-history.js'
import { ManifestStaticStorage } from '../manifest-static-storage.js'
import type { CompressOptions } from '../precompress.js'
import { IMMUTABLE_CACHE_CONTROL } from '../save-hints.js'
import { serveStatic } from '../serve-static.js'
import { fakeBytes, writeAssetTree } from './asset-tree.js'

interface Raw {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** A request with exactly these headers (fetch() would add and decode an Accept-Encoding of its own). */
function get(base: string, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${urlPath}`, { headers, method }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Registers the tests against the storage `create` returns. Call at the top level of a test file. */
export function runServeCompressedSuite({
  name,
  create,
  compress = true,
}: {
  name: string
  create: () => Promise<Storage> | Storage
  compress?: CompressOptions | true
}): void {
  describe(`serveStatic with precompressed variants on ${name}`, () => {
    let root: string
    let server: Server
    let base: string
    let hashed: { css: string; png: string; tiny: string }
    let css: Buffer
    let stored: Storage
    let deploy: string

    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'stowage-serve-compressed-'))
      await writeAssetTree(root, {
        'static/css/app.css': `${'.rule { color: red; margin: 0 auto }\n'.repeat(200)}`,
        'static/img/logo.png': fakeBytes('serve-logo', 2048),
        'static/tiny.js': '1\n',
      })
      const storage = new ManifestStaticStorage({ storage: await create(), staticUrl: '/static/', compress })
      const summary = await collectstatic({ storage, finders: createFinders({ root, dirs: ['static'], packages: false }) })
      expect(summary.errors).toEqual([])
      const manifest = (await storage.loadManifest())!
      hashed = { css: manifest.paths['css/app.css']!, png: manifest.paths['img/logo.png']!, tiny: manifest.paths['tiny.js']! }
      css = Buffer.from(await storage.read(hashed.css))
      stored = storage.storage
      deploy = (await listDeploys(storage.storage))[0]!
      // A new storage object, as a new process serving the collected files would have.
      const mw = serveStatic({ storage: new ManifestStaticStorage({ storage: storage.storage }) })
      server = createServer((req, res) => void mw(req, res))
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })
    afterAll(async () => {
      server?.close()
      await rm(root, { recursive: true, force: true })
    })

    it('sends br to clients that accept it, then gzip, else the file itself; always with Vary: Accept-Encoding', async () => {
      const br = await get(base, `/static/${hashed.css}`, { 'accept-encoding': 'gzip, deflate, br' })
      expect(br.status).toBe(200)
      expect(br.headers['content-encoding']).toBe('br')
      expect(br.headers.vary).toBe('Accept-Encoding')
      expect(br.headers['content-type']).toBe('text/css; charset=utf-8')
      expect(br.headers['cache-control']).toBe(IMMUTABLE_CACHE_CONTROL)
      expect(Number(br.headers['content-length'])).toBe(br.body.length)
      expect(br.body.length).toBeLessThan(css.length / 5)
      expect(brotliDecompressSync(br.body).equals(css)).toBe(true)

      const gz = await get(base, `/static/${hashed.css}`, { 'accept-encoding': 'gzip' })
      expect(gz.headers['content-encoding']).toBe('gzip')
      expect(gunzipSync(gz.body).equals(css)).toBe(true)
      expect(gz.headers.etag).not.toBe(br.headers.etag)

      for (const accept of [undefined, 'identity', 'br;q=0, gzip;q=0', 'compress']) {
        const plain = await get(base, `/static/${hashed.css}`, accept === undefined ? {} : { 'accept-encoding': accept })
        expect(plain.headers['content-encoding'], accept).toBeUndefined()
        expect(plain.headers.vary, accept).toBe('Accept-Encoding')
        expect(plain.body.equals(css), accept).toBe(true)
      }
      expect((await get(base, `/static/${hashed.css}`, { 'accept-encoding': 'br;q=0, *' })).headers['content-encoding']).toBe('gzip')
    })

    it('answers 304 for the variant’s own ETag and HEAD with its length; leaves images, tiny files and originals alone', async () => {
      const first = await get(base, `/static/${hashed.css}`, { 'accept-encoding': 'br' })
      const again = await get(base, `/static/${hashed.css}`, { 'accept-encoding': 'br', 'if-none-match': String(first.headers.etag) })
      expect(again.status).toBe(304)
      expect(again.headers['content-encoding']).toBe('br')
      const head = await get(base, `/static/${hashed.css}`, { 'accept-encoding': 'br' }, 'HEAD')
      expect(head.headers['content-length']).toBe(String(first.body.length))

      for (const name of [hashed.png, hashed.tiny, 'css/app.css']) {
        const res = await get(base, `/static/${name}`, { 'accept-encoding': 'br, gzip' })
        expect(res.status, name).toBe(200)
        expect(res.headers['content-encoding'], name).toBeUndefined()
        expect(res.headers.vary, name).toBeUndefined()
      }
    })

    it('answers ranges of the variant it sends, and a 416 that no cache keeps and no client decodes', async () => {
      const url = `/static/${hashed.css}`
      const gz = await get(base, url, { 'accept-encoding': 'gzip' })
      const part = await get(base, url, { 'accept-encoding': 'gzip', range: 'bytes=0-9' })
      expect([part.status, part.headers['content-encoding'], part.headers['content-range']]).toEqual([206, 'gzip', `bytes 0-9/${gz.body.length}`])
      expect(part.body.equals(gz.body.subarray(0, 10))).toBe(true)
      // If-Range is held to the variant's own ETag (when strong: a weak one never matches), not the identity file's.
      const etags = { gz: String(gz.headers.etag), plain: String((await get(base, url)).headers.etag) }
      const strong = !etags.gz.startsWith('W/')
      expect((await get(base, url, { 'accept-encoding': 'gzip', range: 'bytes=0-9', 'if-range': etags.gz })).status).toBe(strong ? 206 : 200)
      expect((await get(base, url, { 'accept-encoding': 'gzip', range: 'bytes=0-9', 'if-range': etags.plain })).status).toBe(200)
      // A 416 is no answer to keep for a year (a shared cache would serve it for every request
      // of the URL), and its empty body is not gzip.
      for (const method of ['GET', 'HEAD']) {
        const past = await get(base, url, { 'accept-encoding': 'gzip', range: `bytes=${gz.body.length}-` }, method)
        expect([past.status, past.headers['content-range']], method).toEqual([416, `bytes */${gz.body.length}`])
        expect(past.headers['cache-control'], method).toBeUndefined()
        expect(past.headers['content-encoding'], method).toBeUndefined()
        expect(past.headers.vary, method).toBe('Accept-Encoding')
      }
    })

    it('never serves the run record or the deploy history, which are there', async () => {
      for (const name of [COLLECT_STATE_NAME, deploy]) {
        expect(await stored.exists(name), name).toBe(true)
        expect((await get(base, `/static/${name}`)).status, name).toBe(404)
      }
    })
  })
}
