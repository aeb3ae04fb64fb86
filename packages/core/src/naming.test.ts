import { describe, expect, it } from 'vitest'
import { candidateNames, getValidFilename, overwriteName, randomSuffix } from './naming.js'
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

describe('save() naming with an injected random source', () => {
  it('is deterministic and retries until a suffix is free', async () => {
    const suffixes = ['AAAAAAA', 'AAAAAAA', 'BBBBBBB']
    const storage = new MemoryStorage({ randomSuffix: () => suffixes.shift() ?? 'ZZZZZZZ' })
    expect(await storage.save('f.txt', '1')).toBe('f.txt')
    expect(await storage.save('f.txt', '2')).toBe('f_AAAAAAA.txt')
    expect(await storage.save('f.txt', '3')).toBe('f_BBBBBBB.txt')
  })
})
