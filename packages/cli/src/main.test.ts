import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile, access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { writeAssetTree, assetTree } from '../../static/src/testing/asset-tree.js'
import type { Io } from './io.js'
import { main } from './main.js'

const CONFIG = {
  storages: {
    staticfiles: { backend: 'local', options: { location: './staticfiles', baseUrl: '/static/' }, manifest: true },
  },
  staticfiles: { dirs: ['static', ['vendor', 'vendor']] },
}

let project: string

beforeEach(async () => {
  project = await mkdtemp(path.join(tmpdir(), 'stowage-cli-'))
  await writeAssetTree(project)
  await writeFile(path.join(project, 'stowage.config.json'), JSON.stringify(CONFIG))
})
afterEach(() => rm(project, { recursive: true, force: true }))

function io(options: { tty?: boolean; answer?: string } = {}): Io & { out: () => string; err: () => string; asked: string[] } {
  let out = ''
  let err = ''
  const asked: string[] = []
  let clock = 0
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t), isTTY: options.tty ?? false, columns: 100 },
    prompt: options.answer === undefined ? undefined : async (q: string) => (asked.push(q), options.answer!),
    cwd: project,
    env: {},
    now: () => (clock += 1000),
    out: () => out,
    err: () => err,
    asked,
  }
}

const exists = (p: string) =>
  access(path.join(project, p)).then(
    () => true,
    () => false,
  )
const manifest = async () => JSON.parse(await readFile(path.join(project, 'staticfiles', 'staticfiles.json'), 'utf8'))

describe('stowage collectstatic', () => {
  it('collects with the configured storage and prints a one-line summary; a re-run copies nothing', async () => {
    const first = io()
    expect(await main(['collectstatic', '--no-input'], first)).toBe(0)
    const line = first.out().trim()
    expect(line).toMatch(/^\d+ static files copied to '.*staticfiles', \d+ post-processed \(\d+\.\d\ds\)\.$/)
    expect(first.err()).toContain("Found another file with the destination path 'css/base.css'")
    const m = await manifest()
    expect(m.version).toBe('1.1')
    expect(await exists(`staticfiles/${m.paths['css/app.css']}`)).toBe(true)
    expect(await exists('staticfiles/vendor/jquery/jquery.min.js')).toBe(true)

    const again = io()
    expect(await main(['collectstatic', '--no-input', '--json'], again)).toBe(0)
    const summary = JSON.parse(again.out())
    expect(summary).toMatchObject({ ok: true, copied: 0, postProcessed: 0, deleted: 0, manifestWritten: false })
    expect(summary.unmodified).toBe(Object.keys(m.paths).length)
    expect(again.err()).toBe('')
  })

  it('asks before writing and stops unless the answer is yes', async () => {
    const no = io({ answer: 'no' })
    expect(await main(['collectstatic'], no)).toBe(1)
    expect(no.asked[0]).toContain('This will overwrite existing files!')
    expect(await exists('staticfiles')).toBe(false)
    const yes = io({ answer: 'yes' })
    expect(await main(['collectstatic', '--clear'], yes)).toBe(0)
    expect(yes.asked[0]).toContain('This will DELETE ALL FILES in this location!')
    expect(await exists('staticfiles/staticfiles.json')).toBe(true)
  })

  it('refuses --clear with no terminal to confirm on, unless --no-input', async () => {
    const run = io()
    expect(await main(['collectstatic', '--clear'], run)).toBe(1)
    expect(run.err()).toMatch(/--no-input/)
    expect(await main(['collectstatic', '--clear', '--no-input'], io())).toBe(0)
  })

  it('fails on broken references listing each with file and line; --lenient warns instead', async () => {
    await writeFile(path.join(project, 'static', 'css', 'broken.css'), '.a {}\n.b { background: url(nope.png) }\n')
    const strict = io()
    expect(await main(['collectstatic', '--no-input'], strict)).toBe(1)
    expect(strict.err()).toContain("css/broken.css:2: 'nope.png' points to 'css/nope.png', which was not found")
    expect(await exists('staticfiles')).toBe(false)

    const json = io()
    expect(await main(['collectstatic', '--no-input', '--json'], json)).toBe(1)
    const out = JSON.parse(json.out())
    expect(out).toMatchObject({ ok: false, error: { code: 'EREFERENCE' } })
    expect(out.error.problems[0]).toMatchObject({ file: 'css/broken.css', line: 2 })

    const lenient = io()
    expect(await main(['collectstatic', '--no-input', '--lenient'], lenient)).toBe(0)
    expect(lenient.err()).toContain('Warning: css/broken.css:2')
  })

  it('--dry-run writes nothing; --ignore leaves files out; --no-post-process writes no manifest', async () => {
    const dry = io()
    expect(await main(['collectstatic', '--dry-run'], dry)).toBe(0)
    expect(dry.out()).toMatch(/^Pretending: \d+ static files would be copied/)
    expect(await exists('staticfiles')).toBe(false)

    expect(await main(['collectstatic', '--no-input', '-i', 'jquery', '--ignore', 'widget.css'], io())).toBe(0)
    const paths = Object.keys((await manifest()).paths)
    expect(paths.filter((p) => p.includes('jquery') || p.endsWith('widget.css'))).toEqual([])
    expect(paths).toContain('css/app.css')

    await rm(path.join(project, 'staticfiles'), { recursive: true })
    const plain = io()
    expect(await main(['collectstatic', '--no-input', '--no-post-process'], plain)).toBe(0)
    expect(plain.out()).not.toContain('post-processed')
    expect(await exists('staticfiles/css/app.css')).toBe(true)
    expect(await exists('staticfiles/staticfiles.json')).toBe(false)
  })

  it('draws a progress bar on a terminal and erases it before the summary', async () => {
    const tty = io({ tty: true })
    expect(await main(['collectstatic', '--no-input'], tty)).toBe(0)
    expect(tty.err()).toMatch(/Writing +\[#+\] 100% \d+\/\d+/)
    // The bar is erased before anything else is printed.
    expect(tty.err()).toMatch(/\r\x1b\[KFound another file/)
  })

  it('answers usage errors with exit code 2', async () => {
    const bad = io()
    expect(await main(['collectstatic', '--bogus'], bad)).toBe(2)
    expect(bad.err()).toContain('Usage: stowage collectstatic')
    expect(await main(['nope'], io())).toBe(2)
    expect(await main(['collectstatic', '--concurrency', '0'], io())).toBe(2)
  })

  it('names the missing key when there is no staticfiles storage', async () => {
    await writeFile(path.join(project, 'stowage.config.json'), JSON.stringify({ storages: { default: { backend: 'memory' } } }))
    const run = io()
    expect(await main(['collectstatic', '--no-input'], run)).toBe(1)
    expect(run.err()).toContain('storages.staticfiles')
  })
})

describe('stowage collectstatic and source maps', () => {
  it('warns about a sourceMappingURL to a missing map (vendored code) and succeeds; --strict-sourcemaps fails', async () => {
    await writeFile(path.join(project, 'vendor', 'lib.min.js'), 'window.lib = 1\n//# sourceMappingURL=lib.min.js.map\n')
    const lenient = io()
    expect(await main(['collectstatic', '--no-input'], lenient)).toBe(0)
    expect(lenient.err()).toContain(
      "Warning: vendor/lib.min.js:2: 'lib.min.js.map' points to 'vendor/lib.min.js.map', which was not found; the sourceMappingURL comment was dropped",
    )
    const m = await manifest()
    expect(await readFile(path.join(project, 'staticfiles', m.paths['vendor/lib.min.js']), 'utf8')).toBe('window.lib = 1\n\n')

    const json = io()
    expect(await main(['collectstatic', '--no-input', '--json'], json)).toBe(0)
    expect(JSON.parse(json.out()).warnings).toEqual([expect.objectContaining({ file: 'vendor/lib.min.js', kind: 'sourcemap' })])

    const strict = io()
    expect(await main(['collectstatic', '--no-input', '--strict-sourcemaps', '--json'], strict)).toBe(1)
    expect(JSON.parse(strict.out())).toMatchObject({ ok: false, error: { code: 'EREFERENCE', problems: [{ file: 'vendor/lib.min.js', kind: 'sourcemap' }] } })
  })

  it('reads strictSourcemaps and compress from the manifest options in the config', async () => {
    const config = { ...CONFIG, storages: { staticfiles: { ...CONFIG.storages.staticfiles, manifest: { strictSourcemaps: true, compress: true } } } }
    await writeFile(path.join(project, 'stowage.config.json'), JSON.stringify(config))
    const ok = io()
    expect(await main(['collectstatic', '--no-input'], ok)).toBe(0)
    expect(ok.out()).toMatch(/\d+ compressed/)
    expect(await exists(`staticfiles/${(await manifest()).paths['css/app.css']}.br`)).toBe(true)
    await writeFile(path.join(project, 'vendor', 'lib.min.js'), 'window.lib = 1\n//# sourceMappingURL=lib.min.js.map\n')
    const strict = io()
    expect(await main(['collectstatic', '--no-input'], strict)).toBe(1)
    expect(strict.err()).toContain('vendor/lib.min.js:2')
  })
})

describe('stowage clean-static', () => {
  it('lists the hashed files no kept deploy names, deletes them with --delete, and keeps the rest', async () => {
    expect(await main(['collectstatic', '--no-input'], io())).toBe(0)
    const v1 = (await manifest()).paths
    await writeFile(path.join(project, 'static', 'css', 'vendor', 'normalize.css'), 'html { line-height: 1.5 }\n')
    expect(await main(['collectstatic', '--no-input'], io())).toBe(0)
    const v2 = (await manifest()).paths
    const stale = Object.keys(v1)
      .filter((k) => v1[k] !== v2[k])
      .map((k) => v1[k]!)
      .sort()
    expect(stale.length).toBeGreaterThan(0)

    // Just written: kept by default (a collectstatic may be writing them), listed with --min-age 0.
    const young = io()
    expect(await main(['clean-static', '--keep', '1'], young)).toBe(0)
    expect(young.out()).not.toContain('Unused:')
    expect(young.out()).toContain('younger than --min-age')
    const dry = io()
    expect(await main(['clean-static', '--keep', '1', '--min-age', '0'], dry)).toBe(0)
    expect(dry.out()).toContain(`Unused: ${stale[0]}`)
    expect(dry.out()).toMatch(/hashed files? no kept deploy names \(run with --delete to delete them\); kept the files of 1 deploy/)
    expect(await exists(`staticfiles/${stale[0]}`)).toBe(true)

    const run = io()
    expect(await main(['clean-static', '--keep', '1', '--min-age', '0', '--delete', '--json'], run)).toBe(0)
    const out = JSON.parse(run.out())
    expect(out).toMatchObject({ ok: true, dryRun: false, deleted: stale })
    for (const f of stale) expect(await exists(`staticfiles/${f}`)).toBe(false)
    for (const f of Object.values(v2)) expect(await exists(`staticfiles/${f}`)).toBe(true)
    expect(await exists('staticfiles/css/vendor/normalize.css')).toBe(true)

    expect(await main(['clean-static', '--keep', '0'], io())).toBe(2)
  })
})

describe('stowage clean-media', () => {
  it('lists the files no database row references (a better-sqlite3 resolver module), and deletes them with --delete', async () => {
    const config = { ...CONFIG, storages: { ...CONFIG.storages, default: { backend: 'local', options: { location: './media' } } } }
    await writeFile(path.join(project, 'stowage.config.json'), JSON.stringify(config))
    await mkdir(path.join(project, 'media', 'avatars'), { recursive: true })
    for (const f of ['kept.png', 'orphan.png']) await writeFile(path.join(project, 'media', 'avatars', f), f)
    const old = new Date(Date.now() - 2 * 3600 * 1000)
    await utimes(path.join(project, 'media', 'avatars', 'orphan.png'), old, old)
    const db = new Database(path.join(project, 'app.db'))
    db.exec("CREATE TABLE profiles (id INTEGER PRIMARY KEY, avatar TEXT); INSERT INTO profiles (avatar) VALUES ('avatars/kept.png'), (NULL)")
    db.close()
    await writeFile(
      path.join(project, 'media-references.mjs'),
      [
        "import Database from 'better-sqlite3'",
        "export default () => new Database('app.db', { readonly: true }).prepare('SELECT avatar FROM profiles').pluck().all()",
      ].join('\n'),
    )
    // An application has better-sqlite3 in its node_modules.
    await symlink(fileURLToPath(new URL('../../../node_modules', import.meta.url)), path.join(project, 'node_modules'))
    // The resolver opens app.db relative to the cwd, as the command runs from the project.
    const cwd = process.cwd()
    process.chdir(project)
    try {
      const dry = io()
      expect(await main(['clean-media', '--references', 'media-references.mjs'], dry)).toBe(0)
      expect(dry.out()).toContain('Orphan: avatars/orphan.png')
      expect(dry.out()).toMatch(/2 files in .*: 1 referenced, 1 orphaned \(run with --delete to delete them\)\./)
      expect(await exists('media/avatars/orphan.png')).toBe(true)

      const run = io()
      expect(await main(['clean-media', '--references', 'media-references.mjs', '--delete', '--json'], run)).toBe(0)
      expect(JSON.parse(run.out())).toMatchObject({ ok: true, deleted: ['avatars/orphan.png'], referenced: 1 })
      expect(await exists('media/avatars/orphan.png')).toBe(false)
      expect(await exists('media/avatars/kept.png')).toBe(true)
    } finally {
      process.chdir(cwd)
    }
    const missing = io()
    expect(await main(['clean-media'], missing)).toBe(2)
    expect(missing.err()).toContain('--references MODULE is required')
    const bad = io()
    expect(await main(['clean-media', '--references', 'nope.mjs'], bad)).toBe(1)
    expect(bad.err()).toContain('--references')
  })
})

describe('stowage findstatic', () => {
  it('lists every location of a path, first one first', async () => {
    const run = io()
    expect(await main(['findstatic', 'css/base.css', 'nope.css'], run)).toBe(1)
    expect(run.out()).toContain(path.join(project, 'static', 'css', 'base.css'))
    expect(run.out()).toContain(path.join(project, 'packages', 'ui', 'static', 'css', 'base.css'))
    expect(run.err()).toContain("No matching file found for 'nope.css'")
  })

  it('without a PATH is a usage error (exit 2) on stderr, with the help, and nothing on stdout', async () => {
    const run = io()
    expect(await main(['findstatic'], run)).toBe(2)
    expect(run.err()).toContain('stowage findstatic: give at least one PATH to look up')
    expect(run.err()).toContain('PATH')
    expect(run.out()).toBe('')
  })
})

describe('the stowage binary', () => {
  it('runs as a process and exits with the command’s code', async () => {
    const bin = fileURLToPath(new URL('./bin.ts', import.meta.url))
    // tsx runs the TypeScript entry point as the built dist/bin.js would run.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=stowage-source', '--import', tsx, bin, 'collectstatic', '--no-input', '--json'],
      {
        cwd: project,
      },
    )
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, errors: [] })
    expect(assetTree()['static/css/app.css']).toBe(await readFile(path.join(project, 'staticfiles', 'css', 'app.css'), 'utf8'))
  })
})
