import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { encodeUrlPath, fullExtension, safeDir, safeName, splitExtension, truncateBytes, truncateUnits, isStowageName } from './paths.js'
import { ENCODED_NAMES, HOSTILE_NAMES, encodedNames, hostileNames, hostileRequestPaths } from './testing/hostile-names.js'

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
    expect(encodedNames('T').length).toBe(ENCODED_NAMES.length)
    expect(encodedNames('T').some((n) => n.includes('{x}'))).toBe(false)
  })

  // A percent escape is three literal characters in a name (Django's fixture
  // `test/%2F.txt`): kept as written, one segment, inside the root.
  it.each(encodedNames('x'))('keeps the escapes of %j literally, inside the root', (name) => {
    expect(safeName(name)).toBe(name)
    expect(path.posix.join('/srv/root', name).startsWith('/srv/root/')).toBe(true)
    expect(path.win32.join('C:\\srv\\root', ...name.split('/')).startsWith('C:\\srv\\root\\')).toBe(true)
    expect(safeName(name).split('/')).toEqual(name.split('/'))
  })
})

describe('request paths decoded once', () => {
  // What serveStatic and serveMedia do with the part of a request path after
  // their prefix: one decodeURIComponent, then safeName.
  const decodeOnce = (p: string): string | undefined => {
    try {
      return safeName(decodeURIComponent(p))
    } catch {
      return undefined
    }
  }

  it.each(hostileRequestPaths('x'))('%j never names a file outside the root', (p) => {
    const name = decodeOnce(p)
    // Only a double-encoded path survives one decode, as a literal name holding an escape.
    expect(name !== undefined).toBe(p.includes('%25'))
    if (name === undefined) return
    expect(path.posix.join('/srv/root', name).startsWith('/srv/root/')).toBe(true)
    expect(decodeURIComponent(name)).not.toBe(name)
  })

  it('refuses the single-encoded traversals and keeps the double-encoded ones literal', () => {
    expect(decodeOnce('..%2fx.txt')).toBeUndefined()
    expect(decodeOnce('%2e%2e/x.txt')).toBeUndefined()
    expect(decodeOnce('..%5cx.txt')).toBeUndefined()
    expect(decodeOnce('..%252fx.txt')).toBe('..%2fx.txt')
    expect(decodeOnce('%252e%252e%252fx.txt')).toBe('%2e%2e%2fx.txt')
  })

  it('gives back exactly the stored name from the URL encodeUrlPath built, and another file from the single-encoded one', () => {
    expect(encodeUrlPath('test/%2F.txt')).toBe('test/%252F.txt')
    expect(decodeOnce(encodeUrlPath('test/%2F.txt'))).toBe('test/%2F.txt')
    expect(decodeOnce('test/%2F.txt')).toBe('test/.txt')
    for (const name of encodedNames('x')) expect(decodeOnce(encodeUrlPath(name))).toBe(name)
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
  it.each(['..', 'a/../..', '/abs', 'C:\\', '%2e%2e/..'])('refuses %j', (dir) => {
    expect(() => safeDir(dir)).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
  })
  it('keeps an escaped dot or slash as a literal directory name', () => {
    expect(safeDir('%2e%2e')).toBe('%2e%2e')
    expect(safeDir('a/..%2F..%2F')).toBe('a/..%2F..%2F')
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

describe('isStowageName', () => {
  it("recognises Stowage's own names in any spelling the storage normalises to them, and nothing else", () => {
    for (const name of ['.stowage-pending/abc/x.html', './.stowage-pending/x', '.stowage-collectstatic.json', '.stowage-deploys//1.json', '.stowage']) {
      expect(isStowageName(name), name).toBe(true)
    }
    for (const name of ['media/.stowage-pending/x', 'stowage-pending/x', '.stowag', '../.stowage-pending/x', '']) expect(isStowageName(name), name).toBe(false)
  })
})
