import { describe, expect, it } from 'vitest'
import { runStorageConformance } from './testing/index.js'
import { MemoryStorage } from './memory-storage.js'
import { safeName, splitName } from './paths.js'
import { verifySignedUrl } from './signing.js'
import type { WriteRequest } from './storage.js'

runStorageConformance({ name: 'MemoryStorage', create: (options) => new MemoryStorage({ baseUrl: '/media/', ...options }) })

/** Records every name the backend is handed: by `_write`, by `nextName()`, and to `_exists`. */
class Recording extends MemoryStorage {
  readonly seen: string[] = []
  protected override async _write(req: WriteRequest): Promise<string> {
    this.seen.push(req.name)
    const next = req.nextName
    return super._write({ ...req, nextName: async () => this.record(await next()) })
  }
  protected override async _exists(name: string): Promise<boolean> {
    return super._exists(this.record(name))
  }
  private record(name: string): string {
    this.seen.push(name)
    return name
  }
}

/** The same, checking names before writing, as a backend without atomic claims does. */
class RecordingCheckFirst extends Recording {
  protected override readonly atomicClaims: boolean = false
}

describe('save() hands the backend only safe names', () => {
  it.each([
    ['with atomic claims', Recording],
    ['checking first', RecordingCheckFirst],
  ])('%s: a random suffix with path characters is refused before the backend sees it', async (_, Kind) => {
    let suffix = 'AAAAAAA'
    const storage = new Kind({ randomSuffix: () => suffix })
    await storage.save('d/a.txt', '1')
    await storage.save('d/a.txt', '2')
    for (const hostile of ['/../../x', '/x', 'x/..', '\\x', '\u0000']) {
      suffix = hostile
      await expect(storage.save('d/a.txt', '3')).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    }
    expect(storage.names()).toEqual(['d/a.txt', 'd/a_AAAAAAA.txt'])
    for (const name of storage.seen) {
      expect(safeName(name)).toBe(name)
      expect(splitName(name)[0]).toBe('d')
    }
  })

  it('refuses an overwrite truncated to a directory name (the reported a/...txt with maxLength 4)', async () => {
    const storage = new Recording()
    await expect(storage.save('a/...txt', 'x', { overwrite: true, maxLength: 4 })).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    await expect(storage.save('a/..txt', 'x', { overwrite: true, maxLength: 3 })).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    await expect(new MemoryStorage({ overwrite: true }).getAvailableName('a/...txt', { maxLength: 4 })).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    expect(storage.seen).toEqual([])
    expect(storage.names()).toEqual([])
  })

  it('keeps the fast path without an override: no existence checks on an atomic backend', async () => {
    const storage = new Recording({ randomSuffix: () => 'BBBBBBB' })
    await storage.save('f.txt', '1')
    expect(await storage.save('f.txt', '2')).toBe('f_BBBBBBB.txt')
    expect(storage.seen).toEqual(['f.txt', 'f.txt', 'f_BBBBBBB.txt'])
  })
})

describe('save() honours a subclass that overrides getAvailableName', () => {
  class Proposing extends Recording {
    readonly asked: [string, { maxLength?: number } | undefined][] = []
    constructor(private readonly answers: unknown[]) {
      super()
    }
    override async getAvailableName(name: string, options?: { maxLength?: number }): Promise<string> {
      this.asked.push([name, options])
      return this.answers.shift() as string
    }
  }

  it('asks it for the first name, not the unchecked candidate, and again after each lost claim', async () => {
    const storage = new Proposing(['taken.txt', 'taken.txt', 'free.txt'])
    await storage.save('taken.txt', 'old', { overwrite: true }) // overwriting keeps the name: no question asked
    expect(storage.asked).toEqual([])
    expect(await storage.save('x//a.txt', 'new', { maxLength: 50 })).toBe('free.txt')
    expect(storage.asked).toEqual([
      ['x/a.txt', { maxLength: 50 }],
      ['x/a.txt', { maxLength: 50 }],
      ['x/a.txt', { maxLength: 50 }],
    ])
    expect(storage.names()).toEqual(['free.txt', 'taken.txt'])
  })

  it('refuses an unsafe answer, first or after a lost claim, before the backend sees it', async () => {
    for (const answers of [['../x.txt'], ['taken.txt', 'a/../../x.txt'], [''], [42], ['a/']]) {
      const storage = new Proposing(answers)
      await storage.save('taken.txt', 'old', { overwrite: true })
      storage.seen.length = 0
      await expect(storage.save('n.txt', 'x')).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
      expect(storage.seen.every((n) => n === 'taken.txt')).toBe(true)
      expect(storage.names()).toEqual(['taken.txt'])
    }
  })

  it('normalises an answer as every name is normalised', async () => {
    expect(await new Proposing(['a//./b.txt']).save('n.txt', 'x')).toBe('a/b.txt')
  })
})

describe('MemoryStorage for application tests', () => {
  it('assertExists passes for a stored name and fails naming what is stored; assertMissing is its mirror', async () => {
    const storage = new MemoryStorage()
    const name = await storage.save('avatars/me.png', 'x')
    expect(() => storage.assertExists(name)).not.toThrow()
    expect(() => storage.assertMissing('avatars/other.png')).not.toThrow()
    expect(() => storage.assertExists('avatars/other.png')).toThrow("Expected 'avatars/other.png' to exist; stored: avatars/me.png")
    expect(() => storage.assertMissing(name)).toThrow("Expected 'avatars/me.png' to be missing")
    await storage.delete(name)
    expect(() => storage.assertMissing(name)).not.toThrow()
    expect(() => storage.assertExists(name)).toThrow("Expected 'avatars/me.png' to exist; stored: (nothing)")
  })
})

describe('MemoryStorage signed URLs, as FileSystemStorage makes them', () => {
  // It returned the plain URL for url(name, { expiresIn }): an application
  // tested on memory believed its private links expired.
  const secret = 'memory-signing-secret-0123456789'
  let clock = Date.UTC(2026, 0, 1)
  const now = () => new Date(clock)

  it('refuses a signed URL without a signingSecret, as FileSystemStorage does', async () => {
    const storage = new MemoryStorage({ baseUrl: '/media/' })
    await expect(storage.url('a b.pdf')).resolves.toBe('/media/a%20b.pdf')
    for (const options of [{ expiresIn: 60 }, { download: 'x.pdf' }]) {
      await expect(storage.url('a b.pdf', options)).rejects.toMatchObject({ name: 'UnsupportedOperationError', code: 'EUNSUPPORTED' })
    }
  })

  it('signs with the secret and its clock: verifySignedUrl accepts it until it expires, and the download name is covered', async () => {
    const storage = new MemoryStorage({ baseUrl: '/media/', signingSecret: secret, now })
    const url = await storage.url('docs/a b.pdf', { expiresIn: 60, download: 'report.pdf' })
    expect(url.startsWith('/media/docs/a%20b.pdf?')).toBe(true)
    expect(verifySignedUrl(url, { secret, now: () => clock })).toEqual({ ok: true, download: 'report.pdf' })
    expect(verifySignedUrl(url.replace('report.pdf', 'other.pdf'), { secret, now: () => clock })).toEqual({ ok: false, reason: 'invalid' })
    expect(verifySignedUrl(url, { secret, now: () => clock + 61_000 })).toEqual({ ok: false, reason: 'expired' })
    expect(await storage.describe()).toMatchObject({ signing: 'hmac' })
  })

  it('a download-only URL lives the configured expiresIn', async () => {
    const storage = new MemoryStorage({ signingSecret: secret, expiresIn: 30, now })
    const expires = Number(new URL(await storage.url('a.txt', { download: 'a.txt' }), 'http://x').searchParams.get('expires'))
    expect(expires).toBe(Math.floor(clock / 1000) + 30)
    clock += 1000
  })

  it.each([
    [{ signingSecret: 'short' }, 'signingSecret'],
    [{ signingSecret: secret, expiresIn: 0 }, 'expiresIn'],
  ])('refuses %j at construction, naming the key', (options, key) => {
    expect(() => new MemoryStorage(options)).toThrow(expect.objectContaining({ name: 'ConfigurationError', key }))
  })
})
