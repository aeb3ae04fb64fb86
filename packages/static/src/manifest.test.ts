import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { safeName } from '@stowage/core'
import { createManifest, manifestHash, parseManifest, pythonJson, serializeManifest } from './manifest.js'
import { hashedName, splitExt } from './hashing.js'
import { fnmatch, matchesPatterns, DEFAULT_IGNORE_PATTERNS } from './fnmatch.js'

describe('manifest', () => {
  const paths = { 'css/app.css': 'css/app.abc.css', 'img/é.png': 'img/é.123.png', 'a b.js': 'a b.9.js' }

  it('serialises exactly as Python json.dumps does (values checked against CPython 3)', () => {
    expect(pythonJson(Object.entries(paths).sort())).toBe(
      '[["a b.js", "a b.9.js"], ["css/app.css", "css/app.abc.css"], ["img/\\u00e9.png", "img/\\u00e9.123.png"]]',
    )
    // Paths sorted (code points, as Python's sorted()), whatever order they were added in.
    expect(serializeManifest({ paths, version: '1.1', hash: 'x' })).toBe(
      '{"paths": {"a b.js": "a b.9.js", "css/app.css": "css/app.abc.css", "img/\\u00e9.png": "img/\\u00e9.123.png"}, "version": "1.1", "hash": "x"}',
    )
  })

  it('writes the same bytes whatever the order of the paths, integer-like names included', () => {
    const entries: [string, string][] = [
      ['b.css', 'b.1.css'],
      ['10', '10.2'],
      ['a.css', 'a.3.css'],
      ['9', '9.4'],
      ['\u{1F600}.png', 'x.5.png'],
      ['\uFFFD.png', 'y.6.png'],
    ]
    const forward = serializeManifest(createManifest(Object.fromEntries(entries)))
    const backward = serializeManifest(createManifest(Object.fromEntries([...entries].reverse())))
    expect(backward).toBe(forward)
    // Python sorts by code point: U+FFFD before U+1F600 (UTF-16 order would put the surrogate pair first).
    // (Read the keys from the text: JSON.parse would put integer-like keys first again.)
    const pathsText = forward.slice(forward.indexOf('{', 1), forward.indexOf('}'))
    const keys = [...pathsText.matchAll(/"([^"]+)": /g)].map((m) => JSON.parse(`"${m[1]}"`) as string)
    expect(keys).toEqual(['10', '9', 'a.css', 'b.css', '\uFFFD.png', '\u{1F600}.png'])
  })

  it('writes ordinary sorted ASCII names (native JSON, reshaped) exactly as entry-by-entry Python JSON, names with quotes, backslashes and separators included', () => {
    const names = ['a","b.css', 'c\\",d.js', 'e":"f.png', 'g], [h.txt', 'i\n\tj.svg', 'k l.css']
    const paths = Object.fromEntries(names.map((n, i) => [n, `${n}.${i}`]))
    expect(Object.keys(paths)).toEqual([...names].sort()) // inserted in order: the native path is taken
    const expected = `{"paths": {${names.map((n) => `${pythonJson(n)}: ${pythonJson(paths[n])}`).join(', ')}}, "version": "1.1", "hash": "h"}`
    expect(serializeManifest({ paths, version: '1.1', hash: 'h' })).toBe(expected)
    const md5 = createHash('md5')
      .update(pythonJson(Object.entries(paths)))
      .digest('hex')
      .slice(0, 12)
    expect(manifestHash(paths)).toBe(md5)
    expect(manifestHash({})).toBe(createHash('md5').update('[]').digest('hex').slice(0, 12))
    expect(serializeManifest({ paths: {}, version: '1.1', hash: 'h' })).toBe('{"paths": {}, "version": "1.1", "hash": "h"}')
  })

  it('records integrity after hash, as an extra key Django ignores, and reads it back', () => {
    const m = createManifest({ 'b.css': 'b.1.css', 'a.css': 'a.2.css' }, '1.0', { 'b.css': 'sha384-B', 'a.css': 'sha384-A' })
    expect(serializeManifest(m)).toBe(
      '{"paths": {"a.css": "a.2.css", "b.css": "b.1.css"}, "version": "1.0", "integrity": {"a.css": "sha384-A", "b.css": "sha384-B"}}',
    )
    expect(parseManifest(serializeManifest(m)).integrity).toEqual({ 'a.css': 'sha384-A', 'b.css': 'sha384-B' })
    expect(parseManifest('{"paths": {}, "version": "1.1", "hash": "x"}').integrity).toBeUndefined()
  })

  it('computes Django’s manifest hash', () => {
    expect(manifestHash(paths)).toBe('614f18b4c722')
    expect(createManifest(paths)).toEqual({ paths, version: '1.1', hash: '614f18b4c722' })
  })

  it('writes version 1.0 as Django 3.2 does: no hash', () => {
    expect(serializeManifest(createManifest({ a: 'a.1.css' }, '1.0'))).toBe('{"paths": {"a": "a.1.css"}, "version": "1.0"}')
  })

  it('round-trips and accepts version 1.0', () => {
    const m = createManifest(paths)
    expect(parseManifest(serializeManifest(m))).toEqual(m)
    expect(parseManifest('{"paths": {"a": "b"}, "version": "1.0"}')).toEqual({ paths: { a: 'b' }, version: '1.0', hash: '' })
  })

  it('refuses unknown versions and bad JSON with EMANIFEST', () => {
    expect(() => parseManifest('{"paths": {}, "version": "2"}')).toThrow(expect.objectContaining({ code: 'EMANIFEST' }))
    expect(() => parseManifest('{nope')).toThrow(expect.objectContaining({ code: 'EMANIFEST' }))
  })

  it('refuses, with EMANIFEST, a manifest whose hashed names are not names inside the storage or not strings', () => {
    const manifest = (paths: unknown, integrity?: unknown) => JSON.stringify({ paths, version: '1.1', hash: '', ...(integrity !== undefined && { integrity }) })
    for (const hashed of ['../../evil.css', '/etc/passwd', 'a/../../b.css', 'a\\..\\b.css', 'x\u0000.css', '', 5, null, ['a.css'], { a: 1 }]) {
      expect(() => parseManifest(manifest({ 'a.css': hashed })), JSON.stringify(hashed)).toThrow(expect.objectContaining({ code: 'EMANIFEST' }))
    }
    for (const paths of [['a.css'], 'a.css', 3]) expect(() => parseManifest(manifest(paths))).toThrow(expect.objectContaining({ code: 'EMANIFEST' }))
    expect(() => parseManifest(manifest({ 'a.css': 'a.1.css' }, { 'a.css': 7 }))).toThrow(expect.objectContaining({ code: 'EMANIFEST' }))
    // Django's own shapes still load: no paths at all, odd but safe names.
    expect(parseManifest('{"version": "1.0"}').paths).toEqual({})
    expect(parseManifest(manifest({ 'test/%2F.txt': 'test/%2F.1.txt', 'a b.css': 'a b.2.css' })).paths['test/%2F.txt']).toBe('test/%2F.1.txt')
  })

  it('accepts exactly the hashed names safeName accepts (its one-pass shortcut for plain ASCII names included)', () => {
    const names = ['a', '.', '..', 'a/..', '../a', 'a/./b', 'a//b', '/a', 'a/', 'C:/x', 'c:', '1:', 'a:b', './C:/x', '.a', '..a', 'a..', '...', 'a/.b/..c']
    names.push('x'.repeat(255), 'x'.repeat(256), `${'é'.repeat(128)}.css`, 'a b', 'a%2F', 'a\\b', 'a\u0000', 'a\u007f', 'é', '\ud800', '~/x', 'a?b#c')
    for (const name of names) {
      let accepted = true
      try {
        safeName(name)
      } catch {
        accepted = false
      }
      const parse = () => parseManifest(JSON.stringify({ paths: { k: name }, version: '1.1' }))
      if (accepted) expect(parse().paths.k, JSON.stringify(name)).toBe(name)
      else expect(parse, JSON.stringify(name)).toThrow(expect.objectContaining({ code: 'EMANIFEST' }))
    }
  })

  it("keeps a '__proto__' entry as an entry, and gives no entry for names every object has", () => {
    const m = parseManifest('{"paths": {"__proto__": "p.1.css"}, "version": "1.1", "integrity": {"__proto__": "sha384-x"}}')
    expect(Object.getPrototypeOf(m.paths)).toBe(Object.prototype)
    expect(Object.entries(m.paths)).toEqual([['__proto__', 'p.1.css']])
    expect(Object.entries(m.integrity!)).toEqual([['__proto__', 'sha384-x']])
  })
})

describe('hashed names', () => {
  it.each([
    ['css/app.css', 'css/app.0123456789ab.css'],
    ['js/jquery.min.js', 'js/jquery.min.0123456789ab.js'],
    ['maps/app.css.map', 'maps/app.css.0123456789ab.map'],
    ['LICENSE', 'LICENSE.0123456789ab'],
    ['.htaccess', '.htaccess.0123456789ab'],
    ['dir.v2/file', 'dir.v2/file.0123456789ab'],
  ])('%s → %s (posixpath.splitext semantics)', (name, expected) => {
    expect(hashedName(name, '0123456789abcdef')).toBe(expected)
  })

  it('splits like posixpath.splitext', () => {
    expect(splitExt('a.tar.gz')).toEqual(['a.tar', '.gz'])
    expect(splitExt('..x')).toEqual(['..x', ''])
    expect(splitExt('name.')).toEqual(['name', '.'])
  })
})

describe('fnmatch', () => {
  it('matches like Python fnmatchcase', () => {
    expect(fnmatch('a/b/c.scss', '*.scss')).toBe(true)
    expect(fnmatch('x.css', '?.css')).toBe(true)
    expect(fnmatch('ab.css', '?.css')).toBe(false)
    expect(fnmatch('a1', 'a[0-9]')).toBe(true)
    expect(fnmatch('ab', 'a[!0-9]')).toBe(true)
    expect(fnmatch('a.b', 'a?b')).toBe(true)
    expect(fnmatch('A.css', '*.CSS')).toBe(false)
  })

  it('ignores dotfiles, CVS and backups by default', () => {
    for (const n of ['.git', '.DS_Store', 'CVS', 'app.css~']) expect(matchesPatterns(n, DEFAULT_IGNORE_PATTERNS)).toBe(true)
    expect(matchesPatterns('app.css', DEFAULT_IGNORE_PATTERNS)).toBe(false)
  })
})
