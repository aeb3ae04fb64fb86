/**
 * Lazy variants over real HTTP on every backend (memory, local, and an
 * S3Storage on the real gateway, where the answer is a presigned redirect):
 * signed parameters, one generation under concurrent first requests, then
 * served from storage with cache headers.
 */
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { imageField, MemoryStorage, type Storage, type VariantResolver } from '@stowage/core'
import { images } from '@stowage/images'
import { phonePhoto } from '../../images/src/test-support/fixtures.js'
import { backends, serve, type TestBackend } from './test-support/backends.js'
import { EXPIRING_VARIANT_CACHE_CONTROL, serveVariants, VARIANT_CACHE_CONTROL } from './serve-variants.js'

const SECRET = 'variant-secret-0123456789'

/** The storage, counting the writes of variants. */
function countingVariantWrites(storage: Storage): { storage: Storage; writes: () => number } {
  let n = 0
  const counted = new Proxy(storage, {
    get(target, prop, receiver) {
      if (prop !== 'save') return Reflect.get(target, prop, receiver)
      return (name: string, ...rest: unknown[]) => {
        if (name.includes('.variants/')) n++
        return (target.save as (...a: unknown[]) => Promise<string>)(name, ...rest)
      }
    },
  })
  return { storage: counted, writes: () => n }
}

describe.each(['memory', 'local', 's3'])('serveVariants on %s', (kind) => {
  let backend: TestBackend
  let server: Awaited<ReturnType<typeof serve>>
  let counter: ReturnType<typeof countingVariantWrites>
  // The processor's clock, on a whole second and moved by hand (no sleeps); URLs made without expiresIn ignore it.
  let clock = Math.floor(Date.now() / 1000) * 1000
  const processor = images({
    variants: { thumb: { width: 8, height: 8, fit: 'cover', format: 'webp', lazy: true }, small: { width: 4, lazy: true } },
    lazy: { baseUrl: '/variants/', secret: SECRET, now: () => clock },
  })
  const field = () => imageField({ storage: counter.storage, uploadTo: 'lazy/', column: 'avatar', processor })

  beforeAll(async () => {
    backend = await backends[kind]!()
    counter = countingVariantWrites(backend.storage)
    server = await serve(serveVariants({ storage: counter.storage, resolver: processor, prefix: '/variants/' }))
  })
  afterAll(async () => {
    await server?.close()
    await backend?.destroy()
  })

  /** GET without following redirects; a redirect's target is fetched too, as a browser would. */
  async function get(path: string) {
    const res = await fetch(server.url + path, { redirect: 'manual' })
    const target = res.status === 302 ? await fetch(res.headers.get('location')!) : undefined
    const body = Buffer.from(await (target ?? res).arrayBuffer())
    return { res, target, body }
  }

  it('generates a variant once under concurrent first requests, then serves it from storage', async () => {
    const row = { avatar: null as string | null }
    const file = field().bind(row)
    const name = await file.save('me.jpg', await phonePhoto())
    expect(await backend.storage.listdir(`${name}.variants`)).toEqual({ dirs: [], files: [] })
    const url = await file.variantUrl('thumb')
    expect(url).toMatch(/^\/variants\/lazy\/me(_\w{7})?\.jpg\?v=thumb&w=8&h=8&fit=cover&f=webp&sig=[\w-]+$/)

    const before = counter.writes()
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(url)))
    expect(counter.writes() - before).toBe(1)
    const { files } = await backend.storage.listdir(`${name}.variants`)
    expect(files).toHaveLength(1)
    expect(files[0]).toMatch(/^thumb-[0-9a-f]{12}\.webp$/)

    for (const { res, target, body } of answers) {
      if (kind === 's3') {
        // An absolute storage URL: redirect there (presigned), cacheable for less than it lives.
        expect(res.status).toBe(302)
        expect(res.headers.get('location')).toMatch(/^https?:\/\//)
        expect(res.headers.get('cache-control')).toBe('private, max-age=300')
        expect(target!.status).toBe(200)
      } else {
        expect(res.status).toBe(200)
        expect(res.headers.get('cache-control')).toBe(VARIANT_CACHE_CONTROL)
        expect(res.headers.get('content-type')).toBe('image/webp')
        expect(res.headers.get('etag')).toBeTruthy()
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      }
      const meta = await sharp(body).metadata()
      expect([meta.format, meta.width, meta.height, meta.exif]).toEqual(['webp', 8, 8, undefined])
    }

    // Served from storage from now on: no new write.
    expect((await get(url)).body.length).toBeGreaterThan(0)
    expect(counter.writes() - before).toBe(1)

    await file.delete()
    expect(await backend.storage.listdir(`${name}.variants`)).toEqual({ dirs: [], files: [] })
    expect((await get(url)).res.status).toBe(404)
  })

  it('refuses tampered, unsigned and extended parameters, and a signature moved to another file', async () => {
    const row = { avatar: null as string | null }
    const file = field().bind(row)
    const name = await file.save('you.jpg', await phonePhoto())
    const other = await field()
      .bind({ avatar: null })
      .save('other.jpg', await phonePhoto())
    const url = await file.variantUrl('thumb')
    const before = await backend.everything()
    const tampered = [
      url.replace('w=8', 'w=2000'),
      url.replace('f=webp', 'f=png'),
      url.replace(/&sig=.*/, ''),
      `${url}&q=1`,
      `${url}&sig=x`,
      url.replace(name, other),
      url.replace(/sig=([\w-])/, (_, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
    ]
    for (const path of tampered) {
      expect(path).not.toBe(url)
      const { res } = await get(path)
      expect(res.status, path).toBe(403)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    }
    expect(await backend.everything()).toEqual(before)
    // The parameters in another order mean the same variant: still accepted.
    const [path, query] = url.split('?') as [string, string]
    expect((await get(`${path}?${query.split('&').reverse().join('&')}`)).res.status).toBeLessThan(400)
    expect((await fetch(server.url + url, { method: 'POST' })).status).toBe(405)
    await file.delete()
  })

  it('an expiring URL is served, never cached past its life, until it expires; then 403 Link expired', async () => {
    const start = clock
    const file = field().bind({ avatar: null as string | null })
    const name = await file.save('private.jpg', await phonePhoto())
    const url = await file.variantUrl('thumb', { expiresIn: 600 })
    const expires = Number(new URL(url, 'http://x').searchParams.get('expires'))
    expect(expires).toBe(start / 1000 + 600)
    try {
      for (const [at, maxAge] of [
        [start, 300], // capped by the redirect's own 5 minutes
        [start + 590_000, 5], // half of the 10 s the URL has left
      ] as const) {
        clock = at
        const { res, target, body } = await get(url)
        if (kind === 's3') {
          expect(res.status).toBe(302)
          expect(res.headers.get('cache-control')).toBe(`private, max-age=${maxAge}`)
          expect(target!.status).toBe(200)
        } else {
          // The bytes of a private image's variant: kept by no cache (not the permanent URL's immutable year).
          expect(res.status).toBe(200)
          expect(res.headers.get('cache-control')).toBe(EXPIRING_VARIANT_CACHE_CONTROL)
          const revalidated = await fetch(server.url + url, { headers: { 'if-none-match': res.headers.get('etag')! } })
          expect(revalidated.status).toBe(304)
          expect(revalidated.headers.get('cache-control')).toBe(EXPIRING_VARIANT_CACHE_CONTROL)
        }
        expect((await sharp(body).metadata()).width).toBe(8)
      }
      // The permanent URL of the same variant keeps its long cache.
      const permanent = await get(await file.variantUrl('thumb'))
      expect(permanent.res.headers.get('cache-control')).toBe(kind === 's3' ? 'private, max-age=300' : VARIANT_CACHE_CONTROL)

      clock = expires * 1000
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(server.url + url, { method, redirect: 'manual' })
        expect(res.status).toBe(403)
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
        expect(res.headers.get('location')).toBeNull()
        if (method === 'GET') expect(await res.text()).toBe('Link expired')
      }
      // Moving the expiry, or dropping it, is a tampered URL: plain Forbidden, expired or not.
      for (const tampered of [url.replace(`expires=${expires}`, `expires=${expires + 3600}`), url.replace(`&expires=${expires}`, '')]) {
        const res = await fetch(server.url + tampered, { redirect: 'manual' })
        expect(res.status, tampered).toBe(403)
        expect(await res.text()).toBe('Forbidden')
      }
    } finally {
      clock = start
      await file.delete()
    }
    expect(await backend.storage.exists(name)).toBe(false)
  })

  it.runIf(kind === 's3')('with urlExpiresIn, the redirect target of an expiring URL lives no longer than that URL', async () => {
    const start = clock
    const capped = await serve(serveVariants({ storage: backend.storage, resolver: processor, prefix: '/variants/', urlExpiresIn: 3600 }))
    const file = field().bind({ avatar: null as string | null })
    await file.save('capped.jpg', await phonePhoto())
    try {
      const lifetime = async (path: string) => {
        const res = await fetch(capped.url + path, { redirect: 'manual' })
        expect(res.status).toBe(302)
        return new URL(res.headers.get('location')!).searchParams.get('X-Amz-Expires')
      }
      const url = await file.variantUrl('thumb', { expiresIn: 600 })
      clock = start + 590_000
      expect(await lifetime(url)).toBe('10')
      expect(await lifetime(await file.variantUrl('thumb'))).toBe('3600')
    } finally {
      clock = start
      await capped.close()
      await file.delete()
    }
  })
})

describe('serveVariants with a resolver that fails', () => {
  // A third-party resolver's bug is a server error like a storage failure:
  // a 500 with no detail, never a crashed process or a request left hanging.
  const failures: Record<string, () => never | Promise<never>> = {
    throws: () => {
      throw new Error('resolver bug: secret detail')
    },
    rejects: () => Promise.reject(new Error('resolver bug: secret detail')),
  }
  it.each(Object.keys(failures))('a resolver that %s gets a 500 and the server goes on answering', async (how) => {
    const resolver = { resolveVariant: failures[how]! } as unknown as VariantResolver
    const server = await serve(serveVariants({ storage: new MemoryStorage(), resolver, prefix: '/variants/' }))
    // Node ends the process on an unhandled rejection: the handler must handle it.
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${server.url}/variants/a.jpg?v=thumb&sig=x`, { signal: AbortSignal.timeout(5000) })
        expect(res.status).toBe(500)
        expect(await res.json()).toEqual({ error: 'EINTERNAL', message: 'Internal server error' })
      }
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      await server.close()
    }
  })
})
