import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from './errors.js'
import { MemoryStorage } from './memory-storage.js'
import type { CopyRequest, WriteRequest } from './storage.js'

/** Records the header fields each primitive was handed. */
class HeaderSeeing extends MemoryStorage {
  readonly seen: Pick<WriteRequest, 'cacheControl' | 'contentEncoding' | 'private'>[] = []
  protected override _write(req: WriteRequest): Promise<string> {
    this.seen.push({ cacheControl: req.cacheControl, contentEncoding: req.contentEncoding, private: req.private })
    return super._write(req)
  }
  protected override _copy(from: string, req: CopyRequest): Promise<string> {
    this.seen.push({ cacheControl: req.cacheControl, contentEncoding: req.contentEncoding, private: req.private })
    return super._copy(from, req)
  }
}

describe('SaveOptions header fields (cacheControl, contentEncoding, private)', () => {
  it('travel to the backend on WriteRequest and CopyRequest', async () => {
    const s = new HeaderSeeing()
    await s.save('a.css.br', 'x', { cacheControl: 'public, max-age=60', contentEncoding: 'br', private: true })
    await s.copy('a.css.br', 'b.css.br', { cacheControl: 'no-store' })
    expect(s.seen).toEqual([
      { cacheControl: 'public, max-age=60', contentEncoding: 'br', private: true },
      { cacheControl: 'no-store', contentEncoding: undefined, private: undefined },
    ])
  })

  it.each([
    ['cacheControl', 'max-age=1\r\nX-Evil: 1'],
    ['cacheControl', '  '],
    ['contentEncoding', 'br\n'],
    ['contentEncoding', 'gzip\u0000'],
    // Non-ASCII: the grammar of both is ASCII tokens, and S3 signs headers as ASCII.
    ['cacheControl', 'max-age=60, é'],
    ['contentEncoding', 'br\u00a0'],
    ['private', 'yes'],
    // Not one MIME type: a line break, a list, an empty type, non-ASCII (S3 signs headers as ASCII).
    ['contentType', 'image/png\r\nContent-Disposition: inline'],
    ['contentType', 'video/mp4,text/html'],
    ['contentType', 'font/'],
    ['contentType', ''],
    ['contentType', 'image/png; name=é'],
  ] as const)('refuses %s %j before the backend is called, storing nothing', async (argument, value) => {
    const s = new HeaderSeeing()
    const err = await s.save('x.txt', 'x', { [argument]: value } as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err).toMatchObject({ code: 'EINVAL', context: { argument } })
    await s.save('src.txt', 'y')
    await expect(s.copy('src.txt', 'y.txt', { [argument]: value } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(s.seen).toHaveLength(1)
    expect(s.names()).toEqual(['src.txt'])
  })
})
