/**
 * `FileSystemStorage.stage()`: a first fill of an empty location is written
 * beside it and appears in one rename, or not at all.
 */
import { spawnSync } from 'node:child_process'
import { Readable } from 'node:stream'
import { chmod, mkdir, readdir, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileSystemStorage } from './file-system-storage.js'
import { tempDirs } from '../../../test/temp-dirs.js'

/** A fresh parent directory; the location under test is `<parent>/static`. */
const parent = tempDirs('stowage-stage-')

const list = (dir: string) => readdir(dir).then((names) => names.sort())

/** A fresh parent, the location `<parent>/static` (not made), and a storage on it. */
async function site(): Promise<{ dir: string; location: string; storage: FileSystemStorage }> {
  const dir = await parent()
  const location = path.join(dir, 'static')
  return { dir, location, storage: new FileSystemStorage({ location }) }
}

describe('FileSystemStorage.stage()', () => {
  it('a missing location: nothing appears until publish(), then every file at once; no stage is left', async () => {
    const { dir, location, storage } = await site()
    const stage = (await storage.stage())!
    expect(stage).toBeDefined()
    expect(await stage.storage.save('css/app.css', 'body{}', { overwrite: true })).toBe('css/app.css')
    expect(await stage.storage.save('robots.txt', 'User-agent: *', { overwrite: true })).toBe('robots.txt')
    expect(await storage.exists('css/app.css')).toBe(false)
    expect(await list(dir)).toHaveLength(1) // the stage, hidden, beside the location
    // Named after the location, the host (a hash) and this process, so a later run can tell whether its maker is gone.
    expect((await list(dir))[0]).toMatch(new RegExp(`^\\.static\\.stowage-stage-[0-9a-f]{8}-${process.pid}-[0-9a-f]+$`))

    await stage.publish()
    expect(await list(dir)).toEqual(['static'])
    expect(await readFile(path.join(location, 'css/app.css'), 'utf8')).toBe('body{}')
    expect(Buffer.from(await storage.read('robots.txt')).toString()).toBe('User-agent: *')
  })

  it('an empty location keeps its permissions when the stage replaces it', async () => {
    const dir = await parent()
    const location = path.join(dir, 'static')
    await mkdir(location)
    await chmod(location, 0o750)
    const storage = new FileSystemStorage({ location })
    const stage = (await storage.stage())!
    await stage.storage.save('a.txt', 'a', { overwrite: true })
    await stage.publish()
    expect((await stat(location)).mode & 0o7777).toBe(0o750)
    expect(await list(location)).toEqual(['a.txt'])
  })

  it('a location holding anything, or not a directory, is not staged (undefined: write in place)', async () => {
    const dir = await parent()
    const location = path.join(dir, 'static')
    await mkdir(location)
    await writeFile(path.join(location, '.keep'), '')
    expect(await new FileSystemStorage({ location }).stage()).toBeUndefined()
    await writeFile(path.join(dir, 'file'), 'x')
    expect(await new FileSystemStorage({ location: path.join(dir, 'file') }).stage()).toBeUndefined()
    expect(await list(dir)).toEqual(['file', 'static']) // no stage made
  })

  it('a location that is a symbolic link to a directory is not staged: publishing would replace the link', async () => {
    const dir = await parent()
    await mkdir(path.join(dir, 'release-1'))
    await symlink(path.join(dir, 'release-1'), path.join(dir, 'static'))
    const storage = new FileSystemStorage({ location: path.join(dir, 'static') })
    expect(await storage.stage()).toBeUndefined()
    expect(await storage.stage({ replace: true })).toBeUndefined()
    await storage.save('a.txt', 'a')
    expect(await list(path.join(dir, 'release-1'))).toEqual(['a.txt'])
    expect(await list(dir)).toEqual(['release-1', 'static'])
  })

  it('refuses a replace option that is not a boolean, before any I/O', async () => {
    const dir = await parent()
    const storage = new FileSystemStorage({ location: path.join(dir, 'static') })
    await expect(storage.stage({ replace: 'yes' as never })).rejects.toMatchObject({ code: 'EINVAL', context: { argument: 'replace' } })
    expect(await list(dir)).toEqual([])
  })

  it('discard() deletes the stage and leaves the location as it was', async () => {
    const dir = await parent()
    const location = path.join(dir, 'static')
    await mkdir(location)
    const stage = (await new FileSystemStorage({ location }).stage())!
    await stage.storage.save('a/b.txt', 'b', { overwrite: true })
    await stage.discard()
    expect(await list(dir)).toEqual(['static'])
    expect(await list(location)).toEqual([])
  })

  it('publish() after someone filled the location: ECHANGED, their file stays, nothing of the stage appears or is left', async () => {
    const dir = await parent()
    const location = path.join(dir, 'static')
    const stage = (await new FileSystemStorage({ location }).stage())!
    await stage.storage.save('mine.txt', 'mine', { overwrite: true })
    await mkdir(location)
    await writeFile(path.join(location, 'theirs.txt'), 'theirs')
    await expect(stage.publish()).rejects.toMatchObject({ code: 'ECHANGED' })
    expect(await list(location)).toEqual(['theirs.txt'])
    expect(await list(dir)).toEqual(['static'])
    await expect(stage.publish()).rejects.toMatchObject({ code: 'EINVAL' })
  })

  it("a stage's failed write leaves no partial file under its name; an overwrite in the stage replaces the file", async () => {
    const dir = await parent()
    const location = path.join(dir, 'static')
    const stage = (await new FileSystemStorage({ location }).stage())!
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024, 1))
        this.destroy(new Error('disk went away'))
      },
    })
    await expect(stage.storage.save('big.bin', failing, { overwrite: true })).rejects.toThrow('disk went away')
    expect(await stage.storage.exists('big.bin')).toBe(false)
    await stage.storage.save('a.txt', 'one', { overwrite: true })
    await stage.storage.save('a.txt', 'two', { overwrite: true })
    await stage.publish()
    expect(await list(location)).toEqual(['a.txt'])
    expect(await readFile(path.join(location, 'a.txt'), 'utf8')).toBe('two')
  })

  it("replace: a location holding files is staged; they stay until publish(), then only the stage's files are there, in the same place, nothing left beside", async () => {
    const { dir, location, storage } = await site()
    await storage.save('old.txt', 'old')
    await storage.save('keep/also-old.txt', 'old')
    expect(await storage.stage()).toBeUndefined()
    const stage = (await storage.stage({ replace: true }))!
    await stage.storage.save('keep/new.txt', 'new', { overwrite: true })
    expect(await storage.exists('old.txt')).toBe(true)
    expect(await storage.exists('keep/new.txt')).toBe(false)
    await stage.publish()
    expect(await list(location)).toEqual(['keep'])
    expect(await list(path.join(location, 'keep'))).toEqual(['new.txt'])
    expect(await list(dir)).toEqual(['static'])
    // The storage object goes on working on the new directory.
    await storage.save('keep/later.txt', 'later')
    expect(await list(path.join(location, 'keep'))).toEqual(['later.txt', 'new.txt'])
  })

  it('replace, discarded: the location keeps every file it had', async () => {
    const { dir, location, storage } = await site()
    await storage.save('old.txt', 'old')
    const stage = (await storage.stage({ replace: true }))!
    await stage.storage.save('new.txt', 'new', { overwrite: true })
    await stage.discard()
    expect(await list(location)).toEqual(['old.txt'])
    expect(await list(dir)).toEqual(['static'])
  })

  describe('what a killed run left', () => {
    /** The pid of a process that has exited. */
    const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!
    /** A stage of `location` as a run of this process makes it, renamed to look like one of `pid`'s (and `host`'s, a hash). */
    const leftover = async (storage: FileSystemStorage, file: string, pid: number, host?: string) => {
      const stage = (await storage.stage({ replace: true }))!
      await stage.storage.save(file, file, { overwrite: true })
      const made = (stage.storage as FileSystemStorage).path('')
      const [hostHash] = path.basename(made).split('stowage-stage-')[1]!.split('-')
      const name = path.join(
        path.dirname(made),
        path
          .basename(made)
          .replace(`-${process.pid}-`, `-${pid}-`)
          .replace(`${hostHash}-`, `${host ?? hostHash}-`),
      )
      await rename(made, name)
      return path.basename(name)
    }

    it("a stage whose process died on this host is deleted by the next stage(); a live process's, another host's and one of an older version are kept", async () => {
      const dir = await parent()
      const storage = new FileSystemStorage({ location: path.join(dir, 'static') })
      const live = await leftover(storage, 'live.txt', process.pid)
      const elsewhere = await leftover(storage, 'elsewhere.txt', deadPid(), 'ffffffff')
      const dead = await leftover(storage, 'dead.txt', deadPid()) // last: a stage() after it would delete it
      await mkdir(path.join(dir, '.static.stowage-stage-0123456789ab'))
      const unrelated = '.other.stowage-stage-x'
      await mkdir(path.join(dir, unrelated))
      expect(await list(dir)).toContain(dead)

      const stage = (await storage.stage())!
      const names = await list(dir)
      expect(names).not.toContain(dead)
      for (const kept of [live, elsewhere, '.static.stowage-stage-0123456789ab', unrelated]) expect(names).toContain(kept)
      await stage.discard()
    })

    it('killed between the two renames of replace: the next stage() puts the old location back, and deletes the stage that never took its place', async () => {
      const { dir, location, storage } = await site()
      await storage.save('old.txt', 'old')
      const stage = await leftover(storage, 'new.txt', deadPid())
      // What publish() had done when the process was killed: the location moved aside, the stage not yet in its place.
      const old = stage.replace('stowage-stage-', 'stowage-old-')
      await rename(location, path.join(dir, old))

      const next = await storage.stage({ replace: true })
      expect(await readFile(path.join(location, 'old.txt'), 'utf8')).toBe('old')
      const names = await list(dir)
      expect(names).not.toContain(old)
      expect(names).not.toContain(stage)
      await next!.discard()
      expect(await list(dir)).toEqual(['static'])
    })

    it('killed after the stage took the place: the old copy moved aside is deleted, the published files stay', async () => {
      const { dir, location, storage } = await site()
      await storage.save('new.txt', 'new')
      const old = (await leftover(storage, 'old.txt', deadPid())).replace('stowage-stage-', 'stowage-old-')
      await rename(path.join(dir, old.replace('stowage-old-', 'stowage-stage-')), path.join(dir, old))

      expect(await storage.stage({ replace: true }).then((s) => s!.discard())).toBeUndefined()
      expect(await list(dir)).toEqual(['static'])
      expect(await list(location)).toEqual(['new.txt'])
    })
  })
})
