import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFinders, DirectoriesFinder } from './finders.js'

let root: string

async function put(rel: string, body = rel): Promise<void> {
  const file = path.join(root, rel)
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, body)
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'stowage-finders-'))
  await writeFile(path.join(root, 'package.json'), JSON.stringify({ workspaces: ['packages/*'] }))
  await put('static/css/app.css', 'project')
  await put('static/.hidden')
  await put('static/css/app.css~')
  await put('static/scss/app.scss')
  await put('vendor/jquery.js')
  await put('packages/ui/static/css/app.css', 'ui')
  await put('packages/ui/static/ui/button.css')
  await put('packages/zeta/static/zeta.js')
  await put('packages/nostatic/index.js')
})
afterAll(() => rm(root, { recursive: true, force: true }))

describe('finders', () => {
  it('lists configured dirs (with prefixes) and package static folders; first match wins; duplicates reported', async () => {
    const finders = createFinders({ root, dirs: ['static', ['lib', 'vendor']] })
    const { files, duplicates } = await finders.collect()
    expect(files.map((f) => [f.path, f.origin])).toEqual([
      ['css/app.css', 'static'],
      ['lib/jquery.js', 'vendor'],
      ['scss/app.scss', 'static'],
      ['ui/button.css', path.join('packages', 'ui', 'static')],
      ['zeta.js', path.join('packages', 'zeta', 'static')],
    ])
    expect(duplicates).toHaveLength(1)
    expect(duplicates[0]!.path).toBe('css/app.css')
    expect(duplicates[0]!.ignored[0]!.origin).toBe(path.join('packages', 'ui', 'static'))
  })

  it('applies ignore patterns to base names and full paths', async () => {
    const finders = createFinders({ root, dirs: ['static'], packages: false })
    const { files } = await finders.collect(['*.scss', 'css/*', '.*', '*~'])
    expect(files.map((f) => f.path)).toEqual([])
    const all = await finders.collect([])
    expect(all.files.map((f) => f.path)).toContain('.hidden')
  })

  it('finds a path, honouring prefixes, and refuses traversal', async () => {
    const finders = createFinders({ root, dirs: ['static', ['lib', 'vendor']] })
    expect(await finders.find('css/app.css')).toBe(path.join(root, 'static', 'css', 'app.css'))
    expect(await finders.find('lib/jquery.js')).toBe(path.join(root, 'vendor', 'jquery.js'))
    expect(await finders.find('jquery.js')).toBeNull()
    expect(await finders.find('ui/button.css')).toBe(path.join(root, 'packages', 'ui', 'static', 'ui', 'button.css'))
    expect(await finders.find('../package.json')).toBeNull()
    expect((await finders.findAll('css/app.css')).length).toBe(2)
  })

  describe('links', () => {
    // One loop per tree: without the check each is finite (every file listed
    // again one level deeper, 40 times, until ELOOP), so a regression fails
    // here; several loops in one tree multiply into a hang (2^40 names for two).
    const tree = async (build: (at: (rel: string) => string) => Promise<void>): Promise<string[]> => {
      const project = await mkdtemp(path.join(tmpdir(), 'stowage-finders-links-'))
      try {
        const at = (rel: string) => path.join(project, rel)
        for (const dir of ['static/css', 'static/d', 'shared/img', 'outside']) await mkdir(at(dir), { recursive: true })
        await writeFile(at('static/css/app.css'), 'css')
        await writeFile(at('shared/img/logo.png'), 'png')
        await writeFile(at('outside/secret.txt'), 'secret')
        await build(at)
        const { files } = await createFinders({ root: project, dirs: ['static'], packages: false }).collect([])
        return files.map((f) => f.path)
      } finally {
        await rm(project, { recursive: true, force: true })
      }
    }

    it('follows links to directories and files elsewhere, as Django does', async () => {
      const listed = await tree(async (at) => {
        await symlink(at('shared/img'), at('static/img'))
        await symlink(at('outside/secret.txt'), at('static/linked.txt'))
      })
      expect(listed).toEqual(['css/app.css', 'img/logo.png', 'linked.txt'])
    })

    it.each([
      ['to its own directory', 'static/self', '.'],
      ['to its parent', 'static/d/up', '..'],
      ['to its directory, absolute', 'static/css/again', 'static/css'],
    ])('does not follow a link %s: a loop', async (_, link, target) => {
      const listed = await tree(async (at) => symlink(target === 'static/css' ? at(target) : target, at(link)))
      expect(listed).toEqual(['css/app.css'])
    })

    it('follows a link out of the source that leads back into it one pass, then stops', async () => {
      const listed = await tree(async (at) => symlink(path.dirname(at('static')), at('static/d/project')))
      expect(listed).toEqual(['css/app.css', 'd/project/outside/secret.txt', 'd/project/shared/img/logo.png', 'd/project/static/css/app.css'])
    })
  })

  it('refuses a prefix ending in a slash with a ConfigurationError', () => {
    expect(() => new DirectoriesFinder([['lib/', 'vendor']], { cwd: root })).toThrow(expect.objectContaining({ code: 'ECONFIG' }))
  })

  it('refuses an empty directory, which would be the whole project root (.env, node_modules), naming the entry', () => {
    for (const dirs of [['static', ''], [['lib', '  ']]] as const) {
      const i = dirs.length - 1
      expect(() => createFinders({ root, dirs: dirs as never })).toThrow(
        expect.objectContaining({ code: 'ECONFIG', key: `staticfiles.dirs[${i}]`, message: expect.stringMatching(/whole project root/) }),
      )
    }
  })
})
