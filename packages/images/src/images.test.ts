/**
 * `images()` behind `imageField`, on every backend (memory, local disk and
 * an S3Storage on the real gateway): what is stored, what is derived, what
 * is deleted with it, and that a failure leaves nothing behind.
 */
import { createHmac } from 'node:crypto'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AbortedError, ConfigurationError, encodeUrlPath, imageField, InvalidArgumentError, MemoryStorage, ValidationError, type Storage } from '@stowage/core'
import { backends, type TestBackend } from '../../http/src/test-support/backends.js'
import { animatedGif, exifHasGps, phonePhoto, pixel } from './test-support/fixtures.js'
import { images } from './images.js'

const variants = {
  thumb: { width: 8, height: 8, fit: 'cover', format: 'webp' },
  large: { width: 16, format: 'avif' },
  same: { height: 10 },
} as const

type Row = { avatar: string | null; w?: number | null; h?: number | null }

/** The storage, failing every write whose name matches `pattern` as a backend would (after the bytes were sent). */
function failingWrites(storage: Storage, pattern: RegExp): Storage {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      if (prop !== 'save') return Reflect.get(target, prop, receiver)
      return async (name: string, ...rest: Parameters<Storage['save']> extends [string, ...infer T] ? T : never) => {
        if (!pattern.test(name)) return target.save(name, ...rest)
        throw new Error(`injected failure writing ${name}`)
      }
    },
  })
}

describe.each(['memory', 'local', 's3'])('images() on %s', (kind) => {
  let backend: TestBackend
  let photo: Buffer
  beforeAll(async () => {
    backend = await backends[kind]!()
    photo = await phonePhoto()
  })
  afterAll(() => backend?.destroy())

  const field = (extra: Parameters<typeof images>[0] = {}, storage?: Storage) =>
    imageField<Row>({
      storage: storage ?? backend.storage,
      uploadTo: 'avatars/',
      column: 'avatar',
      widthColumn: 'w',
      heightColumn: 'h',
      deleteOnReplace: true,
      processor: images({ variants, ...extra }),
    })

  it('stores the original upright and without EXIF, and every eager variant beside it', async () => {
    expect(exifHasGps((await sharp(photo).metadata()).exif)).toBe(true)
    const row: Row = { avatar: null }
    const file = field().bind(row)
    const name = await file.save('me.jpg', photo)
    expect(name).toMatch(/^avatars\/me(_\w{7})?\.jpg$/)
    expect([row.w, row.h]).toEqual([20, 40])

    const stored = Buffer.from(await backend.storage.read(name))
    const meta = await sharp(stored).metadata()
    expect(meta.exif).toBeUndefined()
    expect(exifHasGps(meta.exif)).toBe(false)
    expect([meta.format, meta.width, meta.height, meta.orientation]).toEqual(['jpeg', 20, 40, undefined])
    expect(file.facts?.size).toBe(stored.length)
    // Upright: the red half (left when lying on its side) is now on top.
    const [r, , b] = await pixel(stored, 10, 2)
    expect(r).toBeGreaterThan(200)
    expect(b).toBeLessThan(60)
    const [r2, , b2] = await pixel(stored, 10, 37)
    expect(b2).toBeGreaterThan(200)
    expect(r2).toBeLessThan(60)

    const made = await Promise.all(
      Object.keys(variants).map(async (v) => {
        const url = await file.variantUrl(v)
        const vname = `${name}.variants/${v}.${{ thumb: 'webp', large: 'avif', same: 'jpg' }[v as keyof typeof variants]}`
        expect(decodeURIComponent(url)).toContain(vname)
        const m = await sharp(Buffer.from(await backend.storage.read(vname))).metadata()
        return [v, m.format, m.width, m.height, m.exif === undefined]
      }),
    )
    expect(made).toEqual([
      ['thumb', 'webp', 8, 8, true],
      ['large', 'heif', 16, 32, true],
      ['same', 'jpeg', 5, 10, true],
    ])
    // Local disk keeps no content type (it is derived from the name when served); the others keep the one sent.
    if (kind !== 'local') expect((await backend.storage.stat(`${name}.variants/thumb.webp`)).contentType).toBe('image/webp')
    await file.delete()
  })

  it('replaces the variants with the original and deletes them with it', async () => {
    const row: Row = { avatar: null }
    const file = field().bind(row)
    const before = await backend.everything()
    const first = await file.save('a.jpg', photo)
    const second = await file.save('b.png', await sharp(photo).png().toBuffer())
    const added = (await backend.everything()).filter((n) => !before.includes(n))
    expect(added.filter((n) => !n.startsWith(`${first}`))).toEqual(added)
    expect(added.sort()).toEqual([second, `${second}.variants/large.avif`, `${second}.variants/same.png`, `${second}.variants/thumb.webp`].sort())
    await file.delete()
    expect(await backend.everything()).toEqual(before)
    expect(row.avatar).toBeNull()
  })

  it('leaves nothing behind when a variant cannot be written, and the record unchanged', async () => {
    const before = await backend.everything()
    const row: Row = { avatar: 'kept.jpg' }
    const file = field({}, failingWrites(backend.storage, /\/large\.avif$/)).bind(row)
    await expect(file.save('me.jpg', photo)).rejects.toThrow(/injected failure/)
    expect(await backend.everything()).toEqual(before)
    expect(row).toEqual({ avatar: 'kept.jpg' })
  })

  it('an abort while the variants are written leaves nothing and throws AbortedError', async () => {
    const before = await backend.everything()
    const client = new AbortController()
    // The client leaves just as the first variant is written.
    const leaving = new Proxy(backend.storage, {
      get(target, prop, receiver) {
        if (prop !== 'save') return Reflect.get(target, prop, receiver)
        return (name: string, ...rest: Parameters<Storage['save']> extends [string, ...infer T] ? T : never) => {
          if (name.includes('.variants/')) client.abort(new Error('client left'))
          return target.save(name, ...rest)
        }
      },
    })
    const row: Row = { avatar: 'kept.jpg' }
    const err = await field({}, leaving)
      .bind(row)
      .save('me.jpg', photo, { signal: client.signal })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(await backend.everything()).toEqual(before)
    expect(row).toEqual({ avatar: 'kept.jpg' })
  })

  it('refuses what sharp cannot decode with a ValidationError, storing nothing', async () => {
    const before = await backend.everything()
    // The header (and so the dimension check) is intact; the pixels are not.
    const big = await phonePhoto(400, 200)
    const truncated = big.subarray(0, Math.floor(big.length * 0.8))
    for (const options of [{}, { keepMetadata: true }, { keepMetadata: true, variants: {} }]) {
      const f = imageField<Row>({ storage: backend.storage, column: 'avatar', processor: images({ variants, ...options }) })
      const err = await f
        .bind({ avatar: null })
        .save('broken.jpg', truncated)
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).failures[0]).toMatchObject({ rule: 'image', params: { reason: 'undecodable' } })
    }
    expect(await backend.everything()).toEqual(before)
  })

  it('keeps the upload byte for byte with keepMetadata, while variants still drop it', async () => {
    const row: Row = { avatar: null }
    const file = field({ keepMetadata: true }).bind(row)
    const name = await file.save('raw.jpg', photo)
    expect(Buffer.from(await backend.storage.read(name)).equals(photo)).toBe(true)
    const thumb = await sharp(Buffer.from(await backend.storage.read(`${name}.variants/thumb.webp`))).metadata()
    expect(thumb.exif).toBeUndefined()
    await file.delete()
  })

  it('takes the first frame of an animation by default, keeps or refuses them by option', async () => {
    const gif = await animatedGif(3)
    const still = field().bind({ avatar: null })
    const stillName = await still.save('a.gif', gif)
    expect((await sharp(Buffer.from(await backend.storage.read(stillName))).metadata()).pages).toBe(1)
    await still.delete()

    const kept = field({ animated: 'keep' }).bind({ avatar: null })
    const keptName = await kept.save('a.gif', gif)
    const pages = async (n: string) => (await sharp(Buffer.from(await backend.storage.read(n))).metadata()).pages ?? 1
    expect(await pages(keptName)).toBe(3)
    expect(await pages(`${keptName}.variants/thumb.webp`)).toBe(3)
    // AVIF holds no animation here: the first frame stands for it.
    const large = await sharp(Buffer.from(await backend.storage.read(`${keptName}.variants/large.avif`))).metadata()
    expect([large.width, large.height]).toEqual([10, 10])
    await kept.delete()

    const before = await backend.everything()
    const err = await field({ animated: 'refuse' })
      .bind({ avatar: null })
      .save('a.gif', gif)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures[0]).toMatchObject({ rule: 'image', params: { reason: 'animated', frames: 3 } })
    expect(await backend.everything()).toEqual(before)
  })

  it('refuses images over the pixel limit before decoding them', async () => {
    const before = await backend.everything()
    const err = await field({ maxPixels: 799 })
      .bind({ avatar: null })
      .save('big.jpg', photo)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures[0]).toMatchObject({ rule: 'imageDimensions', params: { reason: 'maxPixels', limit: 799 } })
    expect(await backend.everything()).toEqual(before)
  })

  // The variant URL never expires: a variant left behind would serve the deleted image for good.
  it('a lazy variant generated while its image is deleted is not left behind', async () => {
    const before = await backend.everything()
    const processor = images({ variants: { thumb: { width: 8, lazy: true } }, lazy: { baseUrl: '/variants/', secret: 'variant-secret-0123456789' } })
    const file = imageField<Row>({ storage: backend.storage, uploadTo: 'lazy/', column: 'avatar', processor }).bind({ avatar: null })
    const name = await file.save('gone.jpg', photo)
    const query = new URL(await file.variantUrl('thumb'), 'http://x').searchParams
    const variant = processor.resolveVariant(name, query)
    if ('refused' in variant) throw new Error(`refused: ${variant.refused}`)
    // The variant's write waits until the image has been deleted, as a slow decode would.
    let writing!: () => void
    const reached = new Promise<void>((resolve) => (writing = resolve))
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow = new Proxy(backend.storage, {
      get(target, prop, receiver) {
        if (prop !== 'save') return Reflect.get(target, prop, receiver)
        return async (n: string, ...rest: Parameters<Storage['save']> extends [string, ...infer T] ? T : never) => {
          writing()
          await gate
          return target.save(n, ...rest)
        }
      },
    })
    const ensured = variant.ensure(slow).catch((e: unknown) => e)
    await reached
    await file.delete()
    release()
    expect(await ensured).toMatchObject({ code: 'ENOENT' })
    expect(await backend.everything()).toEqual(before)
  })
})

describe('lazy variants under load', () => {
  it('are made at most lazy.concurrency at a time, however many first views arrive at once; the rest wait their turn', async () => {
    const backend = await backends.memory!()
    const widths = [4, 5, 6, 7, 8, 9]
    const processor = images({
      variants: Object.fromEntries(widths.map((w) => [`w${w}`, { width: w, lazy: true }])),
      lazy: { baseUrl: '/variants/', secret: 'variant-secret-0123456789', concurrency: 2 },
    })
    const file = imageField<Row>({ storage: backend.storage, uploadTo: 'busy/', column: 'avatar', processor }).bind({ avatar: null })
    const name = await file.save(
      'busy.png',
      await sharp({ create: { width: 32, height: 32, channels: 3, background: '#888' } })
        .png()
        .toBuffer(),
    )
    // Each generation reads its image first: hold every read until released, counting those under way.
    let reading = 0
    let most = 0
    let twoReading!: () => void
    const two = new Promise<void>((resolve) => (twoReading = resolve))
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const held = new Proxy(backend.storage, {
      get(target, prop, receiver) {
        if (prop !== 'open') return Reflect.get(target, prop, receiver)
        return async (...args: Parameters<Storage['open']>) => {
          most = Math.max(most, ++reading)
          if (reading === 2) twoReading()
          await gate
          reading--
          return target.open(...args)
        }
      },
    })
    const jobs = await Promise.all(
      widths.map(async (w) => {
        const variant = processor.resolveVariant(name, new URL(await file.variantUrl(`w${w}`), 'http://x').searchParams)
        if ('refused' in variant) throw new Error(`refused: ${variant.refused}`)
        return { variant, done: variant.ensure(held) }
      }),
    )
    await two
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(reading).toBe(2)
    release()
    await Promise.all(jobs.map((j) => j.done))
    expect(most).toBe(2)
    for (const { variant } of jobs) expect(await backend.storage.exists(variant.name)).toBe(true)
  })
})

describe('lazy variant URLs made with expiresIn', () => {
  const secret = 'variant-secret-0123456789'
  // A clock on a whole second, moved by hand: no sleeps.
  let clock = Math.floor(Date.now() / 1000) * 1000
  const processor = images({
    variants: { thumb: { width: 8, height: 8, fit: 'cover', format: 'webp', lazy: true }, eager: { width: 4 } },
    lazy: { baseUrl: '/variants/', secret, now: () => clock },
  })
  const storage = new MemoryStorage({ baseUrl: '/media/', signingSecret: 'media-secret-0123456789', now: () => new Date(clock) })
  const source = `private/${Math.random().toString(36).slice(2)} me.jpg`
  const url = (options?: Parameters<typeof processor.variantUrl>[3]) => processor.variantUrl(storage, source, 'thumb', options)
  const resolve = (u: string) => {
    const parsed = new URL(u, 'http://x')
    return processor.resolveVariant(decodeURIComponent(parsed.pathname.slice('/variants/'.length)), parsed.searchParams)
  }
  const refusal = (u: string) => {
    const r = resolve(u)
    return 'refused' in r ? r.refused : 'accepted'
  }

  it('a URL made without expiresIn is byte for byte the one made before expiring URLs existed, and never expires', async () => {
    // The old way: the canonical variant query, signed as it always was.
    const query = 'v=thumb&w=8&h=8&fit=cover&f=webp'
    const sig = createHmac('sha256', secret).update(`stowage-variant\n${source}\n${query}`).digest('base64url')
    const old = `/variants/${encodeUrlPath(source)}?${query}&sig=${sig}`
    expect(await url()).toBe(old)
    expect(await url({})).toBe(old)
    expect(await url({ expiresIn: undefined })).toBe(old)
    const saved = clock
    clock += 100 * 365 * 86_400_000
    const r = resolve(old)
    clock = saved
    expect('refused' in r).toBe(false)
    expect(r).not.toHaveProperty('expiresIn')
  })

  it('signs expires into the URL: accepted until then with the seconds it has left, then refused as expired', async () => {
    const start = clock
    const u = await url({ expiresIn: 300 })
    const expires = new URL(u, 'http://x').searchParams.get('expires')
    expect(Number(expires)).toBe(start / 1000 + 300)
    try {
      expect(resolve(u)).toMatchObject({ source, expiresIn: 300 })
      clock = start + 299_000
      expect(resolve(u)).toMatchObject({ source, expiresIn: 1 })
      clock = start + 300_000
      expect(refusal(u)).toBe('expired')
      clock = start + 86_400_000
      expect(refusal(u)).toBe('expired')
      // The variant it names is the permanent URL's: one stored file for both.
      clock = start
      const permanent = resolve(await url())
      const expiring = resolve(u)
      if ('refused' in permanent || 'refused' in expiring) throw new Error('refused')
      expect(expiring.name).toBe(permanent.name)
      // A fractional lifetime rounds up, as signUrl's does.
      expect(new URL(await url({ expiresIn: 0.5 }), 'http://x').searchParams.get('expires')).toBe(String(start / 1000 + 1))
    } finally {
      clock = start
    }
  })

  it('refuses an expiring URL whose expires was removed, changed, repeated or added, even once expired', async () => {
    const start = clock
    const u = await url({ expiresIn: 60 })
    const permanent = await url()
    const expires = new URL(u, 'http://x').searchParams.get('expires')!
    const later = String(Number(expires) + 86_400)
    const tampered = [
      u.replace(`&expires=${expires}`, ''),
      u.replace(`expires=${expires}`, `expires=${later}`),
      u.replace(`expires=${expires}`, `expires=0${expires}`),
      `${u}&expires=${expires}`,
      `${u}&expires=${later}`,
      permanent.replace('&sig=', `&expires=${later}&sig=`),
    ]
    try {
      for (const t of tampered) {
        expect(t).not.toBe(u)
        expect(refusal(t), t).toBe('invalid')
      }
      clock = start + 3_600_000
      // A tampered URL never learns whether it expired; the untouched one is expired.
      for (const t of tampered.slice(0, 5)) expect(refusal(t), t).toBe('invalid')
      expect(refusal(u)).toBe('expired')
      // The parameters in another order still mean the same URL.
      clock = start
      const [path, q] = u.split('?') as [string, string]
      expect(refusal(`${path}?${q.split('&').reverse().join('&')}`)).toBe('accepted')
    } finally {
      clock = start
    }
  })

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e300, '300'])('refuses expiresIn %s with an InvalidArgumentError naming it', async (expiresIn) => {
    const err = await url({ expiresIn: expiresIn as number }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err).toMatchObject({ code: 'EINVAL', context: { argument: 'expiresIn' } })
  })

  it('refuses download for a lazy variant, never dropping it; an eager variant passes both options to storage.url', async () => {
    for (const options of [{ download: 'thumb.webp' }, { download: 'thumb.webp', expiresIn: 60 }, { download: '' }]) {
      const err = await url(options).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidArgumentError)
      expect(err).toMatchObject({ code: 'EINVAL', context: { argument: 'download' } })
    }
    const eager = await processor.variantUrl(storage, source, 'eager', { expiresIn: 60, download: 'small.jpg' })
    expect(eager).toBe(await storage.url(`${source}.variants/eager.jpg`, { expiresIn: 60, download: 'small.jpg' }))
  })
})

describe('images() configuration', () => {
  it.each([
    [{ variants: { thumb: {} } }, 'variants.thumb'],
    [{ variants: { thumb: { width: 0 } } }, 'variants.thumb.width'],
    [{ variants: { 'a/b': { width: 1 } } }, 'variants.a/b'],
    [{ variants: { t: { width: 10, fit: 'crop' } } }, 'variants.t.fit'],
    [{ variants: { t: { width: 10, format: 'bmp' } } }, 'variants.t.format'],
    [{ variants: { t: { width: 10, qualty: 3 } } }, 'variants.t.qualty'],
    [{ variants: { t: { width: 10, lazy: true } } }, 'lazy'],
    [{ lazy: { baseUrl: '/v/', secret: 'short' } }, 'lazy.secret'],
    [{ lazy: { baseUrl: '/v', secret: 'x'.repeat(16) } }, 'lazy.baseUrl'],
    [{ lazy: { baseUrl: '/v/', secret: 'x'.repeat(16), concurrency: 0 } }, 'lazy.concurrency'],
    [{ lazy: { baseUrl: '/v/', secret: 'x'.repeat(16), concurency: 2 } as never }, 'lazy.concurency'],
    [{ lazy: { baseUrl: '/v/', secret: 'x'.repeat(16), now: 1000 } as never }, 'lazy.now'],
    [{ animated: 'loop' }, 'animated'],
    [{ maxPixels: -1 }, 'maxPixels'],
    [{ quality: 101 }, 'quality'],
  ])('%j is refused naming %s', (options, key) => {
    const err = (() => {
      try {
        images(options as never)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ConfigurationError)
    expect((err as ConfigurationError).key).toBe(key)
  })

  it('a box larger than the image shrinks to the image keeping its shape: a small upload still gets a square thumbnail', async () => {
    const { MemoryStorage } = await import('@stowage/core')
    const storage = new MemoryStorage()
    const processor = images({
      variants: {
        square: { width: 100, height: 100, fit: 'cover' },
        wide: { width: 300, height: 100, fit: 'contain', format: 'png' },
        inside: { width: 100, height: 100 },
      },
    })
    const name = await imageField({ storage, column: 'a', processor })
      .bind({})
      .save('p.jpg', await phonePhoto())
    const size = async (n: string) => {
      const m = await sharp(Buffer.from(await storage.read(`${name}.variants/${n}`))).metadata()
      return [m.width, m.height]
    }
    // Upright the photo is 20×40.
    expect(await size('square.jpg')).toEqual([20, 20])
    expect(await size('wide.png')).toEqual([20, 7])
    expect(await size('inside.jpg')).toEqual([20, 40])
  })

  it('an undeclared variant is a ConfigurationError; a field without a processor has no variants', async () => {
    const { MemoryStorage } = await import('@stowage/core')
    const storage = new MemoryStorage()
    const row = { avatar: null as string | null }
    const file = imageField({ storage, column: 'avatar', processor: images({ variants }) }).bind(row)
    await file.save('a.jpg', await phonePhoto())
    await expect(file.variantUrl('huge')).rejects.toMatchObject({ code: 'ECONFIG', key: 'variant' })
    await expect(imageField({ storage, column: 'avatar' }).bind(row).variantUrl('thumb')).rejects.toMatchObject({ code: 'ECONFIG', key: 'processor' })
    expect(() => imageField({ storage, processor: { variants } as never })).toThrow(expect.objectContaining({ code: 'ECONFIG', key: 'processor' }))
  })
})
