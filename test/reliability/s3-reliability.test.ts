/**
 * The S3 backend's share of the reliability promises, against the real
 * gateway: races, hostile names (in a bucket of its own, so anything written
 * outside the key prefix would show), and presigned URLs that are refused
 * when tampered with, expired, or replayed after expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { s3Storages, s3TestEnv } from '../s3.js'
import type { BackendUnderTest } from './helpers/backends.js'
import { exercise, hostileSample } from './helpers/hostile-checks.js'
import { raceSuite } from './helpers/race-suite.js'
import { createS3Backend, s3Backend } from './helpers/s3-backend.js'

raceSuite(s3Backend)

const S3_NAMES = 1_000

describe(`S3Storage: ${S3_NAMES.toLocaleString('en')} generated hostile names through the public API, in a bucket of its own`, { timeout: 120_000 }, () => {
  let backend: BackendUnderTest
  beforeAll(async () => {
    backend = await createS3Backend({ ownBucket: true })
  })
  afterAll(async () => backend?.destroy())

  it('refuses exactly the unsafe names with SuspiciousFileOperationError and stores the rest under the key prefix', async () => {
    const stored = await exercise(backend, hostileSample(S3_NAMES))
    expect(stored.size).toBeGreaterThan(S3_NAMES / 50)
    expect(await backend.rawNames()).toEqual([...stored].sort())
    expect(await backend.outside()).toEqual([])
  })
})

describe('S3Storage presigned URLs on the gateway', () => {
  let backend: Awaited<ReturnType<typeof createS3Backend>>
  let name: string
  let url: string
  const storageWith = s3Storages('rel')
  beforeAll(async () => {
    backend = await createS3Backend()
    name = await backend.storage.save('private/report.txt', 'secret report')
    await backend.storage.save('private/other.txt', 'another secret')
    url = await backend.storage.url(name, { expiresIn: 600 })
  })
  afterAll(async () => backend?.destroy())

  /** A storage on the same prefix whose clock says `now`. */
  const signingAt = (now: () => Date) => storageWith({ location: backend.storage.options.location, now })

  it('a fresh URL serves the object', async () => {
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('secret report')
  })

  const tamperings: [string, (u: URL) => void][] = [
    ['pointed at another object', (u) => void (u.pathname = u.pathname.replace('report.txt', 'other.txt'))],
    ['given a longer lifetime', (u) => u.searchParams.set('X-Amz-Expires', '604800')],
    ['given an earlier signing date', (u) => u.searchParams.set('X-Amz-Date', '20200101T000000Z')],
    [
      'with a signature character changed',
      (u) => {
        const sig = u.searchParams.get('X-Amz-Signature')!
        u.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1))
      },
    ],
    ['with a download disposition added', (u) => u.searchParams.set('response-content-disposition', 'attachment; filename="x.html"')],
    ['with a content type override added', (u) => u.searchParams.set('response-content-type', 'text/html')],
    ['without its signature', (u) => u.searchParams.delete('X-Amz-Signature')],
  ]
  for (const [what, tamper] of tamperings) {
    it(`refuses the URL ${what} (403, no content)`, async () => {
      const forged = new URL(url)
      tamper(forged)
      expect(forged.href).not.toBe(url)
      const res = await fetch(forged)
      expect(res.status).toBe(403)
      const text = await res.text()
      expect(text).not.toContain('secret')
    })
  }

  it('refuses a URL that expired (signed two hours ago for ten minutes)', async () => {
    const expired = await signingAt(() => new Date(Date.now() - 2 * 3600_000)).url(name, { expiresIn: 600 })
    const res = await fetch(expired)
    expect(res.status).toBe(403)
    expect(await res.text()).not.toContain('secret')
  })

  it('a URL that worked is refused when replayed after it expired, by the clock of the gateway', async () => {
    // The gateway's clock cannot be injected, so the test reads it (the Date header of its
    // answers, to the second) and signs for it: a URL that expires 3 s from the gateway's now.
    const dated = (res: Response) => Date.parse(res.headers.get('date') ?? '')
    const lifetime = 60
    let shortLived = ''
    let expiresAt = 0
    let first: Response | undefined
    // A machine too loaded to fetch within a second of signing gets a fresh URL (at most 3 times).
    for (let attempt = 0; attempt < 3 && !first; attempt++) {
      const gatewayNow = dated(await fetch(s3TestEnv().endpoint, { method: 'HEAD' }))
      expect(gatewayNow).not.toBeNaN()
      expiresAt = gatewayNow + 3000
      shortLived = await signingAt(() => new Date(expiresAt - lifetime * 1000)).url(name, { expiresIn: lifetime })
      const res = await fetch(shortLived)
      if (dated(res) <= gatewayNow + 1000) first = res
      else await res.arrayBuffer()
    }
    expect(first, 'fetched within a second of signing, by the gateway clock').toBeDefined()
    expect(first!.status).toBe(200)
    expect(await first!.text()).toBe('secret report')
    // Then wait for the gateway's clock to pass the expiry: the only sleep, for a clock no test controls.
    let replay = first!
    for (let i = 0; i < 3 && dated(replay) < expiresAt + 1000; i++) {
      await new Promise((resolve) => setTimeout(resolve, expiresAt + 1000 - dated(replay)))
      await replay.arrayBuffer().catch(() => undefined)
      replay = await fetch(shortLived)
    }
    expect(dated(replay)).toBeGreaterThanOrEqual(expiresAt + 1000)
    expect(replay.status).toBe(403)
    expect(await replay.text()).not.toContain('secret')
  })
})
