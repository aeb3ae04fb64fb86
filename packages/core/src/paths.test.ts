import { describe, expect, it } from 'vitest'
import { encodeUrlPath, fullExtension, safeDir, safeName, splitExtension, truncateBytes, truncateUnits } from './paths.js'
import { HOSTILE_NAMES, hostileNames } from './testing/hostile-names.js'

describe('safeName', () => {
  it.each(hostileNames('x'))('refuses %j', (name) => {
    expect(() => safeName(name)).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS', name: 'SuspiciousFileOperationError' }))
  })

  it.each([
    ['a.txt', 'a.txt'],
    ['a//b/./c.txt', 'a/b/c.txt'],
    ['./a.txt', 'a.txt'],
    ['dir.with.dots/file..txt', 'dir.with.dots/file..txt'],
    ['..hidden', '..hidden'],
    ['a/...', 'a/...'],
    ['100%.txt', '100%.txt'],
    ['%41.txt', '%41.txt'],
    ['ünï/日本.txt', 'ünï/日本.txt'],
    ['notes:v2.txt', 'notes:v2.txt'],
    ['\u2025/two-dot-leader', '\u2025/two-dot-leader'],
  ])('accepts %j as %j', (name, expected) => {
    expect(safeName(name)).toBe(expected)
  })

  it('refuses lone surrogates and non-strings', () => {
    expect(() => safeName('a\uD800.txt')).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
    expect(() => safeName(42 as never)).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
  })

  it('escapes control characters in messages', () => {
    expect(() => safeName('a\u0000b')).toThrow(/a\\x00b/)
  })

  it('keeps the hostile table and its token substitution in step', () => {
    expect(hostileNames('T').length).toBe(HOSTILE_NAMES.length)
    expect(hostileNames('T').some((n) => n.includes('{x}'))).toBe(false)
  })
})

describe('safeDir', () => {
  it.each([
    ['', ''],
    ['.', ''],
    ['a/', 'a'],
    ['a//b/', 'a/b'],
  ])('normalises %j to %j', (dir, expected) => {
    expect(safeDir(dir)).toBe(expected)
  })
  it.each(['..', 'a/../..', '/abs', 'C:\\', '%2e%2e'])('refuses %j', (dir) => {
    expect(() => safeDir(dir)).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
  })
})

describe('fullExtension (Python PurePath.suffixes)', () => {
  it.each([
    ['a.tar.gz', '.tar.gz'],
    ['a.txt', '.txt'],
    ['a', ''],
    ['.bashrc', ''],
    ['.config.json', '.json'],
    ['name.', ''],
    ['archive.v1.2.tar.gz', '.v1.2.tar.gz'],
  ])('%j → %j', (base, ext) => {
    expect(fullExtension(base)).toBe(ext)
  })
})

describe('splitExtension (Python os.path.splitext)', () => {
  it.each([
    ['a.tar.gz', 'a.tar', '.gz'],
    ['a.txt', 'a', '.txt'],
    ['a', 'a', ''],
    ['.bashrc', '.bashrc', ''],
    ['..a', '..a', ''],
    ['..a.b', '..a', '.b'],
    ['a.', 'a', '.'],
    ['...', '...', ''],
  ])('%j → [%j, %j]', (base, root, ext) => {
    expect(splitExtension(base)).toEqual([root, ext])
  })
})

describe('truncateUnits and truncateBytes cut between characters', () => {
  it('truncateUnits backs off rather than split a surrogate pair', () => {
    expect(truncateUnits('a😀b', 2)).toBe('a')
    expect(truncateUnits('a😀b', 3)).toBe('a😀')
    expect(truncateUnits('abc', 5)).toBe('abc')
    expect(truncateUnits('abc', -1)).toBe('')
  })

  it('truncateBytes counts UTF-8 bytes and keeps whole characters', () => {
    expect(truncateBytes('héllo', 2)).toBe('h') // 'é' is 2 bytes: 1 + 2 > 2
    expect(truncateBytes('héllo', 3)).toBe('hé')
    expect(truncateBytes('😀😀', 7)).toBe('😀')
    expect(truncateBytes('日本', 6)).toBe('日本')
    expect(truncateBytes('abc', 0)).toBe('')
  })
})

describe('encodeUrlPath', () => {
  it('encodes each segment and keeps separators', () => {
    expect(encodeUrlPath('a b/ü#?%.txt')).toBe('a%20b/%C3%BC%23%3F%25.txt')
    expect(encodeUrlPath("x~!*()'.txt")).toBe("x~!*()'.txt")
  })
})
