import { GetObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { contentDisposition } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import fc from 'fast-check'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { s3TestOptions } from '../../../test/s3.js'
import type { S3StorageOptions } from './options.js'
import { createGetPresigner, escapeKey, type SigningCredentials } from './presign.js'
import { S3Storage } from './s3-storage.js'

const KEYS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
}
const WITH_TOKEN = { ...KEYS, sessionToken: 'IQoJb3JpZ2luX2VjE//+token/with+reserved=chars==' }

// Everything URL encoding can get wrong: spaces, '+', '~', reserved and
// sub-delimiter characters, percent signs, non-ASCII, astral characters.
const NAMES = [
  'a.txt',
  'dir/sub dir/file name.pdf',
  'plus+sign.txt',
  'tilde~name.txt',
  "reserved !#$&'()*+,;=:@[]?.txt",
  'percent %20 %2F %.txt',
  'ünïcödé/日本語 ß.txt',
  'emoji 🚀/👩‍👩‍👧.png',
  'e\u0301 combining/Ω.html',
  'quotes "double" and `back`.svg',
  'tab\tand|pipe^caret{braces}<angle>.bin',
  'deep/' + 'x/'.repeat(40) + 'leaf.txt',
  'long-' + 'ä'.repeat(300) + '.txt',
]

const CONFIGS: Record<string, S3ClientConfig> = {
  'path-style, custom endpoint with port': { region: 'us-east-1', endpoint: 'http://127.0.0.1:7480', forcePathStyle: true },
  'path-style, endpoint with a base path': { region: 'us-east-1', endpoint: 'https://storage.example.com/s3/', forcePathStyle: true },
  'virtual-hosted, AWS eu-west-1': { region: 'eu-west-1' },
  'virtual-hosted, AWS us-east-1': { region: 'us-east-1' },
  'virtual-hosted, AWS China partition': { region: 'cn-north-1' },
  'path-style, AWS': { region: 'ap-southeast-2', forcePathStyle: true },
  'virtual-hosted, custom endpoint': { region: 'auto', endpoint: 'https://accountid.r2.cloudflarestorage.com' },
}

const clients: S3Client[] = []
afterAll(() => clients.forEach((c) => c.destroy()))

function client(config: S3ClientConfig, credentials: SigningCredentials): S3Client {
  const c = new S3Client({ ...config, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
  clients.push(c)
  return c
}

function sdkUrl(c: S3Client, bucket: string, key: string, opts: { expiresIn: number; signingDate: Date; disposition?: string }) {
  return getSignedUrl(c, new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentDisposition: opts.disposition }), {
    expiresIn: opts.expiresIn,
    signingDate: opts.signingDate,
  })
}

describe('presign: the same URL as the SDK', () => {
  const dates = [new Date('2026-11-29T23:59:59.999Z'), new Date('2026-11-30T00:00:00.000Z'), new Date('2027-02-28T12:34:56.789Z')]

  for (const [label, config] of Object.entries(CONFIGS)) {
    for (const [credLabel, credentials] of [
      ['keys', KEYS],
      ['session token', WITH_TOKEN],
    ] as const) {
      it(`${label}, ${credLabel}: every name, with and without a response override, across a day boundary`, async () => {
        const c = client(config, credentials)
        const presigner = await createGetPresigner(c, 'my-bucket')
        expect(presigner).toBeDefined()
        for (const [i, name] of NAMES.entries()) {
          const signingDate = dates[i % dates.length]!
          const expiresIn = i % 2 ? 604800 : 3600
          for (const disposition of [undefined, 'attachment', contentDisposition('attachment', name.split('/').pop()!)]) {
            const ours = presigner!.presign(`media/${name}`, { credentials, expiresIn, signingDate, responseContentDisposition: disposition })
            expect(ours).toBe(await sdkUrl(c, 'my-bucket', `media/${name}`, { expiresIn, signingDate, disposition }))
          }
        }
      })
    }
  }

  it('arbitrary Unicode keys and file names sign as the SDK signs them (property)', async () => {
    const c = client(CONFIGS['path-style, custom endpoint with port']!, WITH_TOKEN)
    const presigner = (await createGetPresigner(c, 'bucket.with.dots'))!
    const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/'))
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        segment,
        fc.integer({ min: 1, max: 604800 }),
        fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
        async (parts, download, expiresIn, signingDate) => {
          const key = parts.join('/')
          const disposition = contentDisposition('attachment', download)
          const ours = presigner.presign(key, { credentials: WITH_TOKEN, expiresIn, signingDate, responseContentDisposition: disposition })
          expect(ours).toBe(await sdkUrl(c, 'bucket.with.dots', key, { expiresIn, signingDate, disposition }))
        },
      ),
      { numRuns: 100 },
    )
  })

  it('a new day or new keys get a new signing key (the cached one is not reused)', async () => {
    const c = client(CONFIGS['virtual-hosted, AWS eu-west-1']!, KEYS)
    const presigner = (await createGetPresigner(c, 'my-bucket'))!
    const rotated = { accessKeyId: 'AKIAROTATED0000000000', secretAccessKey: 'another-secret-key-entirely' }
    const rotatedClient = client(CONFIGS['virtual-hosted, AWS eu-west-1']!, rotated)
    for (const [creds, cl] of [
      [KEYS, c],
      [rotated, rotatedClient],
      [KEYS, c],
    ] as const) {
      for (const signingDate of [new Date('2026-01-01T10:00:00Z'), new Date('2026-01-02T10:00:00Z'), new Date('2026-01-01T11:00:00Z')]) {
        const ours = presigner.presign('a.txt', { credentials: creds, expiresIn: 60, signingDate })
        expect(ours).toBe(await sdkUrl(cl, 'my-bucket', 'a.txt', { expiresIn: 60, signingDate }))
      }
    }
  })

  it('a client whose middleware changes URLs gets no presigner, so the SDK keeps signing', async () => {
    const c = client(CONFIGS['path-style, custom endpoint with port']!, KEYS)
    c.middlewareStack.add(
      (next) => async (args) => {
        ;(args.request as { query: Record<string, string> }).query['x-tenant'] = 'blue'
        return next(args)
      },
      { step: 'build', name: 'addTenant' },
    )
    expect(await createGetPresigner(c, 'my-bucket')).toBeUndefined()
  })

  it('escapes keys as RFC 3986 path segments', () => {
    expect(escapeKey("a b/c+d~e!'()*/ü")).toBe('a%20b/c%2Bd~e%21%27%28%29%2A/%C3%BC')
  })
})

const made: S3Storage[] = []
afterAll(() => made.forEach((s) => s.client.destroy()))

function storage(options: S3StorageOptions): S3Storage {
  const s = new S3Storage(options)
  made.push(s)
  return s
}

describe('S3Storage.url(): the SDK presigner output, signed directly', () => {
  const signingDate = new Date('2026-11-29T17:30:12.345Z')
  // (storage options, the SDK client those URLs must match)
  const setups: [string, S3StorageOptions, S3ClientConfig][] = [
    [
      'path-style custom endpoint',
      { bucket: 'media', endpoint: 'http://127.0.0.1:7480', region: 'us-east-1', credentials: KEYS, location: 'site/uploads' },
      { endpoint: 'http://127.0.0.1:7480', region: 'us-east-1', forcePathStyle: true },
    ],
    ['AWS virtual-hosted with a session token', { bucket: 'media-bucket', region: 'eu-central-1', credentials: WITH_TOKEN }, { region: 'eu-central-1' }],
    [
      'AWS path-style',
      { bucket: 'media-bucket', region: 'us-west-2', forcePathStyle: true, credentials: KEYS, location: 'p' },
      { region: 'us-west-2', forcePathStyle: true },
    ],
  ]

  for (const [label, options, config] of setups) {
    it(`${label}: forced attachments for active types, download names, expiry`, async () => {
      const s = storage({ ...options, now: () => signingDate })
      const sdk = client(config, options.credentials as SigningCredentials)
      const key = (name: string) => (s.options.location ? `${s.options.location}/${name}` : name)
      const cases: [string, { expiresIn?: number; download?: string }, string | undefined][] = [
        ['photo.png', {}, undefined],
        ['notes.txt', { expiresIn: 60 }, undefined],
        ['page.html', {}, contentDisposition('attachment', 'page.html')],
        ['dir/ünï code/logo 1+1.svg', { expiresIn: 604800 }, contentDisposition('attachment', 'logo 1+1.svg')],
        ['no-extension', {}, contentDisposition('attachment', 'no-extension')],
        ['report.pdf', { download: 'Q3 "final" ü.pdf' }, contentDisposition('attachment', 'Q3 "final" ü.pdf')],
        ['page.html', { download: 'saved.html' }, contentDisposition('attachment', 'saved.html')],
      ]
      for (const [name, opts, disposition] of cases) {
        expect(await s.url(name, opts)).toBe(await sdkUrl(sdk, options.bucket, key(name), { expiresIn: opts.expiresIn ?? 3600, signingDate, disposition }))
      }
    })
  }

  it('signs without the SDK middleware stack once the probe passed', async () => {
    const s = storage({ bucket: 'media', endpoint: 'http://127.0.0.1:7480', region: 'us-east-1', credentials: KEYS, now: () => signingDate })
    await s.url('first.png') // the probe runs getSignedUrl once
    const clone = vi.spyOn(s.client.middlewareStack, 'clone')
    for (let i = 0; i < 20; i++) await s.url(`f-${i}.html`, { download: `f ${i}.html` })
    expect(clone).not.toHaveBeenCalled()
  })

  it('objectParameters that choose a disposition turn the forced attachment off, as before', async () => {
    const s = storage({ bucket: 'b', region: 'eu-west-1', credentials: KEYS, objectParameters: { ContentDisposition: 'inline' }, now: () => signingDate })
    expect(await s.url('page.html')).toBe(await sdkUrl(client({ region: 'eu-west-1' }, KEYS), 'b', 'page.html', { expiresIn: 3600, signingDate }))
  })

  it('a client that adds a checksum-mode parameter keeps the SDK path and its URL', async () => {
    const options: S3StorageOptions = {
      bucket: 'b',
      region: 'eu-west-1',
      credentials: KEYS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
      now: () => signingDate,
    }
    const s = storage(options)
    const sdk = new S3Client({
      region: 'eu-west-1',
      credentials: KEYS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
    })
    clients.push(sdk)
    expect(await s.url('a.png')).toBe(await sdkUrl(sdk, 'b', 'a.png', { expiresIn: 3600, signingDate }))
  })

  it('customDomain and querystringAuth: false still give plain URLs', async () => {
    expect(await storage({ bucket: 'b', region: 'eu-west-1', credentials: KEYS, customDomain: 'cdn.example.com' }).url('a b.png')).toBe(
      'https://cdn.example.com/a%20b.png',
    )
    expect(await storage({ bucket: 'b', region: 'eu-west-1', credentials: KEYS, querystringAuth: false }).url('a b.png')).toBe(
      'https://b.s3.eu-west-1.amazonaws.com/a%20b.png',
    )
  })
})

describe('presigned URLs on the real server', () => {
  // Names that survive safeName but stress every encoding rule.
  const names = ['plain.txt', 'sp ace/a+b~c.txt', "reserved !$&'()*,;=@.txt", 'ünï/日本 ß 🚀.txt', 'page.html']

  it('are accepted (200), refused when tampered with (403), and refused once expired (403)', async () => {
    const s = storage(s3TestOptions({ location: randomPrefix('presign') }))
    for (const name of names) {
      const stored = await s.save(name, `body of ${name}`)
      const url = await s.url(stored, { expiresIn: 120 })
      const ok = await fetch(url)
      expect(ok.status, name).toBe(200)
      expect(await ok.text()).toBe(`body of ${name}`)

      const sig = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)![1]!
      const flipped = sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0')
      const tampered = [
        url.replace(sig, flipped),
        url.replace('X-Amz-Expires=120', 'X-Amz-Expires=121'),
        url.replace(escapeKey(s.key(stored)), escapeKey(s.key(stored)) + 'x'),
      ]
      for (const t of tampered) {
        expect(t).not.toBe(url)
        const res = await fetch(t)
        expect(res.status, t).toBe(403)
        expect(await res.text()).not.toContain('body of')
      }
    }
    // Signed two hours ago for a minute: expired by the server's clock, no sleeping.
    const past = storage(s3TestOptions({ location: s.options.location, now: () => new Date(Date.now() - 2 * 3600_000) }))
    const expired = await fetch(await past.url('plain.txt', { expiresIn: 60 }))
    expect(expired.status).toBe(403)
  })

  it('serve active types as attachments and download names as asked', async () => {
    const s = storage(s3TestOptions({ location: randomPrefix('presign') }))
    const page = await s.save('page.html', '<p>hi</p>')
    const res = await fetch(await s.url(page))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe(contentDisposition('attachment', 'page.html'))
    const named = await fetch(await s.url(page, { download: 'ü report.html' }))
    expect(named.headers.get('content-disposition')).toBe(contentDisposition('attachment', 'ü report.html'))
  })
})
