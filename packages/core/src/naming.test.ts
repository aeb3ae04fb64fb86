import { describe, expect, it } from 'vitest'
import { candidateNames, getValidFilename, overwriteName, randomSuffix, truncateFilename } from './naming.js'
import { MAX_SEGMENT_BYTES, safeName } from './paths.js'
import { MemoryStorage } from './memory-storage.js'

const fixed = () => 'XXXXXXX'

function take<T>(gen: Iterator<T>, n: number): T[] {
  return Array.from({ length: n }, () => gen.next().value as T)
}

describe('getValidFilename (Django get_valid_filename)', () => {
  it.each([
    ["john's portrait in 2004.jpg", 'johns_portrait_in_2004.jpg'],
    ['  a b  ', 'a_b'],
    ['$%^&a.txt', 'a.txt'],
    ['日本語.txt', '日本語.txt'],
    ['x/y.txt', 'xy.txt'],
    ['...', '...'],
  ])('%j → %j', (input, expected) => {
    expect(getValidFilename(input)).toBe(expected)
  })
  it.each(['', '.', '..', ' ', '$$'])('refuses %j', (input) => {
    expect(() => getValidFilename(input)).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
  })
})

describe('candidateNames (Django get_available_name order)', () => {
  it('offers the name, then root_XXXXXXX.ext keeping the full extension', () => {
    expect(take(candidateNames('dir/a.tar.gz', { random: fixed }), 2)).toEqual(['dir/a.tar.gz', 'dir/a_XXXXXXX.tar.gz'])
  })

  it('truncates the root so the name fits maxLength', () => {
    // Django: 'a'*20 + '.txt' with max_length 20 → root cut to fit '_XXXXXXX.txt'.
    const [first] = take(candidateNames(`${'a'.repeat(20)}.txt`, { random: fixed, maxLength: 20 }), 1)
    expect(first).toBe('aaaaaaaa_XXXXXXX.txt')
    expect(first!.length).toBe(20)
  })

  it('refuses when not even one character of the root fits', () => {
    const gen = candidateNames('dir/abcdefghijklm.txt', { random: fixed, maxLength: 15 })
    expect(() => gen.next()).toThrow(/can not find an available filename/)
  })

  it('keeps the file part within 255 UTF-8 bytes once the suffix is added, cutting between characters', () => {
    const ascii = `d/${'a'.repeat(251)}.txt`
    const [, alt] = take(candidateNames(ascii, { random: fixed }), 2)
    expect(alt).toBe(`d/${'a'.repeat(243)}_XXXXXXX.txt`)
    // 4-byte characters are two UTF-16 units each: a cut by units or bytes could split one.
    for (const ch of ['😀', 'é', '日']) {
      const n = Math.floor((MAX_SEGMENT_BYTES - 4) / Buffer.byteLength(ch))
      const [, wide] = take(candidateNames(`${ch.repeat(n)}.txt`, { random: fixed }), 2)
      expect(Buffer.byteLength(wide!)).toBeLessThanOrEqual(MAX_SEGMENT_BYTES)
      expect(wide).toMatch(new RegExp(`^(${ch})+_XXXXXXX\\.txt$`, 'u'))
      expect(safeName(wide!)).toBe(wide)
    }
  })

  it('never splits a surrogate pair when truncating for maxLength', () => {
    // '😀' is two units: cutting the root to the 3 units that fit would leave half of one.
    const [first] = take(candidateNames('😀😀😀.txt', { random: fixed, maxLength: 15, skipOriginal: true }), 1)
    expect(first).toBe('😀_XXXXXXX.txt')
  })

  it('refuses when the extension alone leaves no room for a root within 255 bytes', () => {
    const gen = candidateNames(`a.${'x'.repeat(252)}`, { random: fixed, skipOriginal: true })
    expect(() => gen.next()).toThrow(/within 255 bytes per path segment/)
  })

  it.each([['/../../x'], ['/x'], ['x/..'], ['\\..'], ['\u0000'], ['x/../..'], ['/']])(
    'refuses a candidate made with the random suffix %j, before anyone sees it',
    (suffix) => {
      const gen = candidateNames('dir/a.txt', { random: () => suffix, skipOriginal: true })
      expect(() => gen.next()).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
    },
  )

  it('refuses an unsafe name and yields a normalised one', () => {
    expect(() => candidateNames('../a.txt').next()).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
    expect(candidateNames('a//./b.txt').next().value).toBe('a/b.txt')
  })

  it('draws 7 alphanumerics at random', () => {
    const seen = new Set(Array.from({ length: 50 }, randomSuffix))
    expect(seen.size).toBe(50)
    for (const s of seen) expect(s).toMatch(/^[A-Za-z0-9]{7}$/)
  })
})

describe('overwriteName (Django get_available_overwrite_name)', () => {
  it('keeps a fitting name and truncates the root of a long one', () => {
    expect(overwriteName('a/report.txt', 100)).toBe('a/report.txt')
    expect(overwriteName('a/report.txt', 10)).toBe('a/repo.txt')
    expect(() => overwriteName('a/report.txt', 6)).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
  })
})

describe('overwriteName never truncates into a directory', () => {
  it.each([
    ['a/...txt', 4], // root '...txt' → '..': the key 'a/..' is the parent
    ['a/..txt', 3], // root '..txt' → '.': the key 'a/.' is 'a' itself
    ['a/.x.txt', 6], // root '.x' → '': nothing but the extension
    ['..txt', 1],
  ])('refuses %j with maxLength %i', (name, maxLength) => {
    expect(() => overwriteName(name, maxLength)).toThrow(
      expect.objectContaining({ code: 'ESUSPICIOUS', message: expect.stringMatching(/truncate away entire filename/) }),
    )
  })

  it('cuts between characters and refuses unsafe input', () => {
    expect(overwriteName('😀😀.txt', 7)).toBe('😀.txt')
    expect(() => overwriteName('a/../b.txt')).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
  })
})

describe('truncateFilename (Django UploadedFile name, in UTF-8 bytes)', () => {
  it('keeps names that fit', () => {
    expect(truncateFilename('a.txt')).toBe('a.txt')
    expect(truncateFilename('a'.repeat(251) + '.txt')).toBe('a'.repeat(251) + '.txt')
  })

  it('cuts the root and keeps the last extension', () => {
    expect(truncateFilename(`${'a'.repeat(296)}.txt`)).toBe(`${'a'.repeat(251)}.txt`)
    expect(truncateFilename(`${'a'.repeat(296)}.tar.gz`)).toBe(`${'a'.repeat(296)}.tar`.slice(0, 252) + '.gz')
    expect(truncateFilename(`${'é'.repeat(150)}.pdf`)).toBe(`${'é'.repeat(125)}.pdf`)
    const emoji = truncateFilename(`${'😀'.repeat(80)}.png`)
    expect(emoji).toBe(`${'😀'.repeat(62)}.png`)
    expect(safeName(emoji)).toBe(emoji)
  })

  it('cuts an over-long extension itself, as Django does', () => {
    const cut = truncateFilename(`a.${'x'.repeat(300)}`)
    expect(cut).toBe(`.${'x'.repeat(254)}`)
    expect(truncateFilename('.' + 'b'.repeat(300))).toBe('.' + 'b'.repeat(254)) // no extension: a dotfile
  })
})

describe('save() naming with an injected random source', () => {
  it('is deterministic and retries until a suffix is free', async () => {
    const suffixes = ['AAAAAAA', 'AAAAAAA', 'BBBBBBB']
    const storage = new MemoryStorage({ randomSuffix: () => suffixes.shift() ?? 'ZZZZZZZ' })
    expect(await storage.save('f.txt', '1')).toBe('f.txt')
    expect(await storage.save('f.txt', '2')).toBe('f_AAAAAAA.txt')
    expect(await storage.save('f.txt', '3')).toBe('f_BBBBBBB.txt')
  })
})
