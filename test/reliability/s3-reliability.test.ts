/**
 * The S3 backend's share of the reliability promises, against the real
 * gateway: races, hostile names (in a bucket of its own, so anything written
 * outside the key prefix would show), and presigned URLs that are refused
 * when tampered with, expired, or replayed after expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../s3.js'
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
  const made: S3Storage[] = []
  beforeAll(async () => {
    backend = await createS3Backend()
    name = await backend.storage.save('private/report.txt', 'secret report')
    await backend.storage.save('private/other.txt', 'another secret')
    url = await backend.storage.url(name, { expiresIn: 600 })
  })
  afterAll(async () => {
    made.forEach((s) => s.client.destroy())
    await backend?.destroy()
  })

  /** A storage on the same prefix whose clock says `now`. */
  const signingAt = (now: () => Date) => {
    const s = new S3Storage(s3TestOptions({ location: backend.storage.options.location, now }))
    made.push(s)
    return s
  }

  it('a fresh URL serves the object', async () => {
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('secret report')
  })

  const tamperings: [string, (u: URL) => void][] = [
    ['pointed at another object', (u) => void (u.pathname = u.pathname.replace('report.txt', 'other.txt'))],
    ['given a longer lifetime', (u) => u.searchParams.set('X-Amz-Expires', '604800')],
    ['given an earlier signing date', (u) => u.searchParams.set('X-Amz-Date', '20200101T000000Z')],
    ['with a signature character changed', (u) => {
      const sig = u.searchParams.get('X-Amz-Signature')!
      u.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1))
    }],
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

  it('a URL that worked is refused when replayed after it expired', async () => {
    // The gateway's clock cannot be injected: sign 58 s in the past for 60 s, so the URL
    // works now and expires within about two seconds; then poll (bounded) for the refusal.
    const signedAt = Date.now() - 58_000
    const shortLived = await signingAt(() => new Date(signedAt)).url(name, { expiresIn: 60 })
    const first = await fetch(shortLived)
    expect(first.status).toBe(200)
    expect(await first.text()).toBe('secret report')
    let status = 200
    for (let i = 0; i < 40 && status === 200; i++) {
      // Waiting on the gateway's own clock, which no test can inject; at most 10 s.
      await new Promise((r) => setTimeout(r, 250))
      const res = await fetch(shortLived)
      status = res.status
      await res.arrayBuffer()
    }
    expect(status).toBe(403)
    const again = await fetch(shortLived)
    expect(again.status).toBe(403)
    expect(await again.text()).not.toContain('secret')
  })
})
