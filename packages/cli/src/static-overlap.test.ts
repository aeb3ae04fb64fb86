import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDirs } from '../../../test/temp-dirs.js'
import { checkProject } from './check.js'
import type { Io } from './io.js'
import { main } from './main.js'

const root = tempDirs('stowage-overlap-')

/** A project whose static sources are `static/css/a.css` and `static/keep.txt`, collected into `location`. */
async function project(location: string, dirs: unknown[] = ['./static']): Promise<string> {
  const dir = await root()
  await mkdir(path.join(dir, 'static', 'css'), { recursive: true })
  await writeFile(path.join(dir, 'static', 'css', 'a.css'), 'body{}')
  await writeFile(path.join(dir, 'static', 'keep.txt'), 'keep')
  const config = { storages: { staticfiles: { backend: 'local', options: { location } } }, staticfiles: { dirs, packages: false } }
  await writeFile(path.join(dir, 'stowage.config.json'), JSON.stringify(config))
  return dir
}

function io(cwd: string): Io & { err: () => string } {
  let err = ''
  return { stdout: { write: () => true }, stderr: { write: (t: string) => (err += t), isTTY: false }, cwd, env: {}, err: () => err } as never
}

const tree = async (dir: string) => (await readdir(dir, { recursive: true })).map(String).sort()

describe('a staticfiles location overlapping a source directory', () => {
  it.each([
    ['inside a source', './static/out', 'is inside the source directory'],
    ['the source itself', './static', 'is the source directory'],
    ['holding a source', '.', 'contains the source directory'],
  ])('%s: collectstatic refuses before writing anything, naming the key', async (_, location, why) => {
    const dir = await project(location)
    const before = await tree(dir)
    for (const args of [['--no-input'], ['--no-input', '--clear']]) {
      const out = io(dir)
      expect(await main(['collectstatic', ...args], out)).toBe(1)
      expect(out.err()).toContain('storages.staticfiles.options.location (STOWAGE_STATICFILES_LOCATION)')
      expect(out.err()).toContain(why)
      expect(out.err()).toContain("staticfiles.dirs[0] ('./static')")
    }
    expect(await tree(dir)).toEqual(before)
  })

  it('stowage check reports it as an error (stowage.E006)', async () => {
    const report = await checkProject({ cwd: await project('./static/out'), env: {} })
    expect(report.ok).toBe(false)
    expect(report.messages).toContainEqual(
      expect.objectContaining({ level: 'error', id: 'stowage.E006', key: 'storages.staticfiles.options.location', env: 'STOWAGE_STATICFILES_LOCATION' }),
    )
  })

  it('is seen through a symbolic link, and a [prefix, directory] pair; separate directories collect', async () => {
    const linked = await project('./static-link/out', [['app', './static']])
    await symlink(path.join(linked, 'static'), path.join(linked, 'static-link'))
    const out = io(linked)
    expect(await main(['collectstatic', '--no-input'], out)).toBe(1)
    expect(out.err()).toContain('is inside the source directory')

    // A sibling whose name merely starts with the source's is not inside it.
    const fine = await project('./static-collected')
    expect(await main(['collectstatic', '--no-input'], io(fine))).toBe(0)
    expect(await tree(path.join(fine, 'static-collected'))).toEqual(expect.arrayContaining(['css/a.css', 'keep.txt']))
  })
})
