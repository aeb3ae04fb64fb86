import type { Stats } from 'node:fs'
import { readdir, stat, symlink } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifySignedUrl } from '@stowage/core'
import { FileSystemStorage } from './file-system-storage.js'
import { tempDirs } from '../../../test/temp-dirs.js'

const root = tempDirs('stowage-local-')

describe('FileSystemStorage specifics', () => {
  it('refuses a missing location with a ConfigurationError naming the key', () => {
    expect(() => new FileSystemStorage({} as never)).toThrow(expect.objectContaining({ code: 'ECONFIG', key: 'location' }))
    expect(() => new FileSystemStorage({ location: '/tmp/x', fileMode: 0o77777 })).toThrow(expect.objectContaining({ key: 'fileMode' }))
  })

  it('writes files and directories with the configured modes, whatever the umask', async () => {
    const storage = new FileSystemStorage({ location: await root(), fileMode: 0o640, directoryMode: 0o750 })
    const name = await storage.save('a/b/file.txt', 'x')
    expect((await stat(storage.path(name))).mode & 0o777).toBe(0o640)
    expect((await stat(storage.path('a/b'))).mode & 0o777).toBe(0o750)
    expect((await stat(storage.path('a'))).mode & 0o777).toBe(0o750)
  })

  it('copy() of a directory is FileNotFoundError naming it, with or without link, and stores nothing', async () => {
    const storage = new FileSystemStorage({ location: await root() })
    await storage.save('adir/inside.txt', 'x')
    for (const link of [false, true]) {
      await expect(storage.copy('adir', 'out/copy.txt', { link })).rejects.toMatchObject({ code: 'ENOENT', context: expect.objectContaining({ name: 'adir' }) })
    }
    expect(await storage.listdir('out')).toEqual({ dirs: [], files: [] })
  })

  it('copy() with link: true shares the inode (no bytes written); without it the copy is a file of its own; no temporary file is left', async () => {
    const storage = new FileSystemStorage({ location: await root() })
    await storage.save('a/src.css', 'body{}')
    await storage.copy('a/src.css', 'a/linked.css', { link: true })
    await storage.copy('a/src.css', 'b/copied.css')
    const [src, linked, copied] = (await Promise.all(['a/src.css', 'a/linked.css', 'b/copied.css'].map((n) => stat(storage.path(n))))) as [Stats, Stats, Stats]
    expect(linked.ino).toBe(src.ino)
    expect(copied.ino).not.toBe(src.ino)
    expect(copied.mode).toBe(src.mode)
    expect((await readdir(storage.location, { recursive: true })).sort()).toEqual(['a', 'a/linked.css', 'a/src.css', 'b', 'b/copied.css'])
  })

  it('a save or copy where a file and a directory would share a name is FileExistsError naming the one in the way, and changes nothing', async () => {
    const storage = new FileSystemStorage({ location: await root() })
    await storage.save('a', 'file a')
    await storage.save('d/x.txt', 'inside d')
    const before = (await readdir(storage.location, { recursive: true })).sort()
    // A file where a directory is needed, one level up or more.
    for (const [name, blocker] of [
      ['a/b', 'a'],
      ['a/b/c', 'a'],
    ] as const) {
      for (const overwrite of [false, true]) {
        await expect(storage.save(name, 'x', { overwrite })).rejects.toMatchObject({
          name: 'FileExistsError',
          code: 'EEXIST',
          context: expect.objectContaining({ name: blocker }),
        })
        await expect(storage.copy('d/x.txt', name, { overwrite })).rejects.toMatchObject({
          name: 'FileExistsError',
          context: expect.objectContaining({ name: blocker }),
        })
      }
    }
    // A directory where an overwriting save or copy would put the file (without overwrite, the name moves on, as in Django).
    await expect(storage.save('d', 'x', { overwrite: true })).rejects.toMatchObject({
      name: 'FileExistsError',
      code: 'EEXIST',
      context: expect.objectContaining({ name: 'd' }),
    })
    await expect(storage.copy('a', 'd', { overwrite: true })).rejects.toMatchObject({
      name: 'FileExistsError',
      context: expect.objectContaining({ name: 'd' }),
    })
    // Nothing written, nothing lost, no temporary file left.
    expect((await readdir(storage.location, { recursive: true })).sort()).toEqual(before)
    expect(Buffer.from(await storage.read('a')).toString()).toBe('file a')
    expect(Buffer.from(await storage.read('d/x.txt')).toString()).toBe('inside d')
  })

  it('stores files at the named path under location and nowhere else', async () => {
    const location = await root()
    const storage = new FileSystemStorage({ location })
    await storage.save('x/y.txt', 'hello')
    expect(await readdir(location, { recursive: true })).toEqual(['x', path.join('x', 'y.txt')])
  })

  it('overwrites atomically when configured to (Django allow_overwrite)', async () => {
    const storage = new FileSystemStorage({ location: await root(), overwrite: true })
    await storage.save('same.txt', 'one')
    expect(await storage.save('same.txt', 'two')).toBe('same.txt')
    expect(Buffer.from(await storage.read('same.txt')).toString()).toBe('two')
    expect(await storage.getAvailableName('same.txt')).toBe('same.txt')
  })

  it('never writes outside its root when a random suffix or a getAvailableName override holds path characters', async () => {
    const parent = await root()
    const location = path.join(parent, 'media')
    let suffix = ''
    const storage = new FileSystemStorage({ location, randomSuffix: () => suffix })
    await storage.save('a.txt', 'one')
    await storage.save('d/a.txt', 'one')
    for (const hostile of ['/../../escaped', '/../../../escaped', '/escaped']) {
      suffix = hostile
      for (const name of ['a.txt', 'd/a.txt']) {
        await expect(storage.save(name, 'two')).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
        await expect(storage.getAvailableName(name)).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
      }
    }
    class Escaping extends FileSystemStorage {
      override async getAvailableName(): Promise<string> {
        return '../escaped.txt'
      }
    }
    await expect(new Escaping({ location }).save('b.txt', 'x')).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    // Overwrite truncation to '..' or '.' would name a directory: the root, its parent, or 'd'.
    for (const [name, maxLength] of [
      ['...txt', 2],
      ['d/...txt', 4],
      ['d/..txt', 3],
    ] as const) {
      await expect(storage.save(name, 'x', { overwrite: true, maxLength })).rejects.toMatchObject({ code: 'ESUSPICIOUS' })
    }
    // Temporary files included: a refused name leaves nothing anywhere.
    expect((await readdir(parent, { recursive: true })).sort()).toEqual(['media', 'media/a.txt', 'media/d', 'media/d/a.txt'].map((n) => path.normalize(n)))
  })

  // Tampered, expired and replayed URLs: test/reliability/signed-urls.test.ts, on the verifier and through serveMedia.
  it('signs expiring URLs with its secret and clock, carrying the download name', async () => {
    const now = Date.UTC(2026, 0, 1)
    const secret = 'a-long-enough-test-secret'
    const storage = new FileSystemStorage({ location: await root(), baseUrl: '/media/', signingSecret: secret, now: () => now })
    const url = await storage.url('private/report one.pdf', { expiresIn: 60, download: 'report.pdf' })
    expect(url).toMatch(new RegExp(`^/media/private/report%20one\\.pdf\\?expires=${now / 1000 + 60}&download=report\\.pdf&signature=`))
    expect(verifySignedUrl(url, { secret, now: () => now })).toEqual({ ok: true, download: 'report.pdf' })
  })

  it('refuses to sign without a secret', async () => {
    const storage = new FileSystemStorage({ location: await root() })
    await expect(storage.url('a.txt', { expiresIn: 10 })).rejects.toMatchObject({ code: 'EUNSUPPORTED' })
    expect(await storage.url('a b.txt')).toBe('/media/a%20b.txt')
  })
})

describe('a symbolic link loop inside the location', () => {
  // ELOOP surfaced as a bare StorageError: serveMedia answered 500 where a name that resolves to nothing is a 404.
  it('is a missing file (FileNotFoundError, ENOENT) to read, stat and open; its name stays taken', async () => {
    const location = await root()
    await symlink('loop', path.join(location, 'loop'))
    const storage = new FileSystemStorage({ location })
    for (const op of [() => storage.read('loop'), () => storage.stat('loop'), () => storage.open('loop'), () => storage.read('loop/x.txt')]) {
      await expect(op()).rejects.toMatchObject({ name: 'FileNotFoundError', code: 'ENOENT' })
    }
    // As Django's exists() (lexists): the link holds the name, so a save never writes through it.
    expect(await storage.exists('loop')).toBe(true)
    expect(await storage.save('loop', 'x')).not.toBe('loop')
  })
})
