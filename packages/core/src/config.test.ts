import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type {} from '@stowage/local'
import { defineConfig, loadConfig, loadStorages, storages, StorageRegistry, type StowageConfig } from './config.js'
import { applyEnvOverrides } from './env-overrides.js'
import { ConfigurationError } from './errors.js'
import { MemoryStorage } from './memory-storage.js'
import { rejection } from './testing/rejection.js'

const dirs: string[] = []
async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stowage-config-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text)
  return dir
}
afterEach(async () => {
  storages.reset()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

const configError = (p: Promise<unknown> | (() => unknown)) => rejection(p, ConfigurationError)

/** Configures a fresh registry with `config` and builds every storage. */
async function build(config: StowageConfig): Promise<StorageRegistry> {
  const registry = new StorageRegistry()
  await registry.configure(config)
  registry.check()
  return registry
}

describe('StorageRegistry', () => {
  it('builds each alias lazily, once, and returns the same instance', async () => {
    const registry = new StorageRegistry()
    let built = 0
    class Counting extends MemoryStorage {
      constructor(o: object) {
        super(o)
        built++
      }
    }
    await registry.configure(defineConfig({ storages: { default: { backend: Counting, options: { baseUrl: '/m/' } } } }))
    expect(built).toBe(0)
    const a = registry.get('default')
    expect(registry.get('default')).toBe(a)
    expect(built).toBe(1)
    expect(await a.url('x y.txt')).toBe('/m/x%20y.txt')
  })

  it('accepts an arrow-function factory as the backend', async () => {
    const registry = new StorageRegistry()
    await registry.configure({ storages: { default: { backend: (o: { baseUrl: string }) => new MemoryStorage(o), options: { baseUrl: '/f/' } } } })
    expect(await registry.get('default').url('a.txt')).toBe('/f/a.txt')
  })

  it('builds the local backend from @stowage/local, its location relative to the config root', async () => {
    const registry = await build({ root: '/srv/app', storages: { default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } } } })
    expect(await registry.get('default').describe!()).toEqual({ backend: 'FileSystemStorage', location: '/srv/app/media', baseUrl: '/media/', signing: 'none' })
  })

  it('wraps an alias with manifest: true in ManifestStaticStorage from @stowage/static', async () => {
    const registry = await build({ storages: { staticfiles: { backend: 'memory', options: { baseUrl: '/static/' }, manifest: { strict: false } } } })
    expect(await registry.get('staticfiles').describe!()).toMatchObject({ backend: 'ManifestStaticStorage(MemoryStorage)', baseUrl: '/static/' })
  })

  it('names the key and its environment variable in every configuration error', async () => {
    const registry = new StorageRegistry()
    expect((await configError(registry.configure({ storages: 'nope' } as never))).key).toBe('storages')
    const noBackend = await configError(registry.configure({ storages: { default: {} } } as never))
    expect(noBackend).toMatchObject({ key: 'storages.default.backend', env: 'STOWAGE_DEFAULT_BACKEND' })
    expect(noBackend.message).toBe('storages.default.backend (STOWAGE_DEFAULT_BACKEND): is required: a backend name or class')
    expect((await configError(registry.configure({ storages: { default: { backend: 'memory', options: 3 } } } as never))).key).toBe('storages.default.options')
    await registry.configure({ storages: { default: { backend: 'local', options: {} } } })
    const missing = await configError(() => registry.get('default'))
    expect(missing.message).toBe('storages.default.options.location (STOWAGE_DEFAULT_LOCATION): is required (the directory that holds the files)')
    expect((await configError(() => registry.get('defualt'))).message).toMatch(/^storages\.defualt \(STOWAGE_DEFUALT_BACKEND\): .*did you mean 'default'/)
    expect((await configError(() => registry.check())).key).toBe('storages.default.options.location')
  })

  it('refuses an unknown backend, suggesting the nearest installed one', async () => {
    const registry = new StorageRegistry()
    const typo = await configError(registry.configure({ storages: { media: { backend: 'lcoal' } } }))
    expect(typo.key).toBe('storages.media.backend')
    expect(typo.message).toMatch(/unknown backend 'lcoal': the package @stowage\/lcoal is not installed \(did you mean 'local'\?\)/)
    expect((await configError(registry.configure({ storages: { media: { backend: 'ftp' } } }))).message).toMatch(/npm install @stowage\/ftp/)
    expect((await configError(registry.configure({ storages: { media: { backend: 'core' } } }))).message).toMatch(/@stowage\/core is not a Stowage backend/)
  })

  it('refuses unknown keys at every level, with the nearest known one', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ storages: {}, staticfile: {} }, 'staticfile', /did you mean 'staticfiles'/],
      [{ storages: { default: { backend: 'memory', option: {} } } }, 'storages.default.option', /did you mean 'options'/],
      [{ storages: {}, staticfiles: { dir: ['./static'] } }, 'staticfiles.dir', /did you mean 'dirs'/],
      [{ storages: {}, staticfiles: { dirs: './static' } }, 'staticfiles.dirs', /list of directories/],
      [{ storages: {}, staticfiles: { dirs: ['./static', ''] } }, 'staticfiles.dirs[1]', /whole project root/],
      [{ storages: {}, staticfiles: { dirs: [['vendor', ' ']] } }, 'staticfiles.dirs[0]', /whole project root/],
      [
        { storages: { default: { backend: 'memory', options: { baseURL: '/m/' } } } },
        'storages.default.options.baseURL',
        /not a MemoryStorage option \(did you mean 'baseUrl'\?\)/,
      ],
      [
        { storages: { default: { backend: 'local', options: { location: './m', baseURL: '/m/' } } } },
        'storages.default.options.baseURL',
        /did you mean 'baseUrl'/,
      ],
      [
        { storages: { s: { backend: 'memory', manifest: { strikt: true } } } },
        'storages.s.manifest.strikt',
        /not a ManifestStaticStorage option \(did you mean 'strict'\?\)/,
      ],
    ]
    for (const [config, key, message] of cases) {
      const err = await configError(new StorageRegistry().configure(config as StowageConfig))
      expect(err.key, key).toBe(key)
      expect(err.message, key).toMatch(message)
    }
    const base = await configError(
      new StorageRegistry().configure({ storages: { default: { backend: 'local', options: { location: './m', baseURL: '/m/' } } } }),
    )
    expect(base.env).toBe('STOWAGE_DEFAULT_BASE_URL')
  })

  it('refuses options of the wrong type, and private: true on local disk with what to do instead', async () => {
    const wrongType = await configError(
      new StorageRegistry().configure({ storages: { default: { backend: 'local', options: { location: './m', expiresIn: '300' } } } }),
    )
    expect(wrongType.message).toBe("storages.default.options.expiresIn (STOWAGE_DEFAULT_EXPIRES_IN): must be an integer, got '300'")
    const priv = await configError(
      new StorageRegistry().configure({ storages: { default: { backend: 'local', options: { location: './m', private: true } } } }),
    )
    expect(priv.message).toMatch(/private \(STOWAGE_DEFAULT_PRIVATE\): is not a FileSystemStorage option: .*serveMedia\(\{ private: true, signingSecret \}\)/)
  })

  it('fails at start-up for a signing secret too short to be safe, naming the option and its variable, never the secret', async () => {
    const cwd = await project({ 'stowage.config.json': JSON.stringify({ storages: { private: { backend: 'local', options: { location: './p' } } } }) })
    const err = await configError(loadStorages({ cwd, env: { STOWAGE_PRIVATE_SIGNING_SECRET: 'hunter2' } }))
    expect(err).toMatchObject({ key: 'storages.private.options.signingSecret', env: 'STOWAGE_PRIVATE_SIGNING_SECRET' })
    expect(err.message).toMatch(/must be at least 16 characters \(got 7\)/)
    expect(err.message).not.toContain('hunter2')
  })
})

describe('environment overrides', () => {
  const base = defineConfig({
    storages: {
      default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } },
      staticfiles: { backend: 'local', options: { location: './static' }, manifest: true },
    },
  })
  const apply = (env: NodeJS.ProcessEnv, warnings: string[] = []) => applyEnvOverrides(base, env, { warn: (m) => warnings.push(m) })

  it('sets options by kind and merges them with the file’s options', async () => {
    const out = await apply({
      STOWAGE_DEFAULT_SIGNING_SECRET: 's'.repeat(32),
      STOWAGE_DEFAULT_EXPIRES_IN: '600',
      STOWAGE_DEFAULT_FILE_MODE: '0o640',
      STOWAGE_DEFAULT_OVERWRITE: '1',
    })
    expect(out.storages.default).toEqual({
      backend: 'local',
      options: { location: './media', baseUrl: '/media/', signingSecret: 's'.repeat(32), expiresIn: 600, fileMode: 0o640, overwrite: true },
    })
    expect(out.storages.staticfiles).toEqual(base.storages.staticfiles)
    expect(base.storages.default.options).toEqual({ location: './media', baseUrl: '/media/' })
  })

  it('switching the backend keeps the file’s options the new backend takes and says which it dropped', async () => {
    const warnings: string[] = []
    const out = await apply({ STOWAGE_DEFAULT_BACKEND: 'memory', STOWAGE_DEFAULT_OPTIONS: '{"overwrite":true}' }, warnings)
    expect(out.storages.default).toEqual({ backend: 'memory', options: { baseUrl: '/media/', overwrite: true } })
    expect(warnings).toEqual([
      "STOWAGE_DEFAULT_BACKEND=memory replaces 'local' of storages.default: kept baseUrl; dropped location (not MemoryStorage options).",
    ])
  })

  it('creates an alias from a BACKEND variable; MANIFEST turns the wrapper off; reserved variables are left alone', async () => {
    const out = await apply({ STOWAGE_ARCHIVE_BACKEND: 'memory', STOWAGE_STATICFILES_MANIFEST: 'false', STOWAGE_KEEP_S3: '1', STOWAGE_CONFIG: 'x.js' })
    expect(out.storages.archive).toEqual({ backend: 'memory', options: {} })
    expect(out.storages.staticfiles).toMatchObject({ manifest: false })
  })

  it('parses strictly: a boolean, an integer or a JSON object that is not one is refused, naming key and variable', async () => {
    const cases: [NodeJS.ProcessEnv, string, string][] = [
      [{ STOWAGE_DEFAULT_OVERWRITE: 'nope' }, 'storages.default.options.overwrite', "must be true or false, got 'nope'"],
      [{ STOWAGE_DEFAULT_EXPIRES_IN: '5m' }, 'storages.default.options.expiresIn', "must be an integer, got '5m'"],
      [{ STOWAGE_DEFAULT_FILE_MODE: '0644' }, 'storages.default.options.fileMode', 'must be an integer (write octal as 0o644)'],
      [{ STOWAGE_DEFAULT_OPTIONS: '[1]' }, 'storages.default.options', 'must be a JSON object'],
      [{ STOWAGE_STATICFILES_MANIFEST: 'yes' }, 'storages.staticfiles.manifest', "must be true or false, got 'yes'"],
    ]
    for (const [env, key, message] of cases) {
      const err = await configError(apply(env))
      const variable = Object.keys(env)[0]!
      expect(err, variable).toMatchObject({ key, env: variable })
      expect(err.message, variable).toContain(`${key} (${variable}): ${message}`)
    }
  })

  it('refuses a variable nothing reads, suggesting the nearest one and the key it sets', async () => {
    const typo = await configError(apply({ STOWAGE_DEFAULT_LOCATON: '/srv/media' }))
    expect(typo.message).toBe(
      'STOWAGE_DEFAULT_LOCATON: is not a setting of that storage (did you mean STOWAGE_DEFAULT_LOCATION, which sets storages.default.options.location?)',
    )
    const alias = await configError(apply({ STOWAGE_DEFALT_LOCATION: '/srv/media' }))
    expect(alias.message).toMatch(/names no configured storage \(configured: default, staticfiles\) \(did you mean STOWAGE_DEFAULT_LOCATION/)
    const option = await configError(apply({ STOWAGE_DEFAULT_OPTIONS: '{"baseURL":"/m/"}' }))
    expect(option).toMatchObject({ key: 'storages.default.options.baseURL', env: 'STOWAGE_DEFAULT_OPTIONS' })
    expect(option.message).toMatch(/did you mean 'baseUrl'/)
    // Options only code can give have no variable.
    expect((await configError(apply({ STOWAGE_DEFAULT_NOW: '0' }))).env).toBe('STOWAGE_DEFAULT_NOW')
    // Lower or mixed case: read by nothing, so refused rather than ignored.
    const lower = await configError(apply({ stowage_default_backend: 's3' }))
    expect(lower).toMatchObject({ env: 'stowage_default_backend' })
    expect(lower.message).toMatch(/upper case \(did you mean STOWAGE_DEFAULT_BACKEND\?\)/)
    expect((await configError(apply({ Stowage_Default_Location: '/srv' }))).env).toBe('Stowage_Default_Location')
  })

  it('reads single options of a class backend as JSON literals or strings', async () => {
    const out = await applyEnvOverrides(
      { storages: { default: { backend: MemoryStorage } } },
      { STOWAGE_DEFAULT_BASE_URL: '/m/', STOWAGE_DEFAULT_OVERWRITE: 'true' },
    )
    expect(out.storages.default!.options).toEqual({ baseUrl: '/m/', overwrite: true })
  })
})

describe('loadConfig', () => {
  it('reads stowage.config.mjs, then applies the environment', async () => {
    const cwd = await project({
      'stowage.config.mjs': `export default { storages: { default: { backend: 'local', options: { location: './media' } } } }`,
    })
    const config = await loadConfig({ cwd, env: { STOWAGE_DEFAULT_BASE_URL: '/files/' } })
    expect(config.root).toBe(cwd)
    expect(config.storages.default!.options).toEqual({ location: './media', baseUrl: '/files/' })
  })

  it('reads stowage.config.ts through tsx', async () => {
    const cwd = await project({
      'stowage.config.ts': `const baseUrl: string = '/m/'\nexport default { storages: { default: { backend: 'memory' as const, options: { baseUrl } } } }`,
    })
    expect((await loadConfig({ cwd, env: {} })).storages.default!.options).toEqual({ baseUrl: '/m/' })
  })

  it('reads JSON and reports a missing or malformed file by name', async () => {
    const cwd = await project({ 'stowage.config.json': '{"storages": {"default": {"backend": "memory"}}}' })
    expect((await loadConfig({ cwd, env: {} })).storages.default!.backend).toBe('memory')
    const broken = await project({ 'stowage.config.json': '{"storages": ' })
    expect((await configError(loadConfig({ cwd: broken, env: {} }))).key).toBe('stowage.config.json')
    const empty = await project({})
    expect((await configError(loadConfig({ cwd: empty, env: {} }))).key).toBe('stowage.config')
    expect((await configError(loadConfig({ cwd: empty, env: { STOWAGE_CONFIG: 'nope.js' } }))).env).toBe('STOWAGE_CONFIG')
  })

  it('checks the file’s keys before anything else', async () => {
    const cwd = await project({ 'stowage.config.json': '{"storages": {"default": {"backend": "memory"}}, "staticFiles": {}}' })
    expect((await configError(loadConfig({ cwd, env: {} }))).message).toMatch(/^staticFiles: is not a configuration key \(did you mean 'staticfiles'\?\)/)
  })
})

describe('loadStorages', () => {
  it('reads the config file, applies STOWAGE_* variables, and configures and builds the process-wide storages', async () => {
    const cwd = await project({
      'stowage.config.json': JSON.stringify({
        storages: { default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } }, cache: { backend: 'memory' } },
      }),
    })
    const config = await loadStorages({ cwd, env: { STOWAGE_DEFAULT_BASE_URL: '/files/' } })
    expect(config.storages.default!.options).toMatchObject({ baseUrl: '/files/' })
    expect(storages.aliases()).toEqual(['default', 'cache'])
    const media = storages.get('default')
    const name = await media.save('a b.txt', 'x')
    expect(await media.url(name)).toBe('/files/a%20b.txt')
    // The location is relative to the config file's directory, not to the process.
    expect(await readFile(path.join(cwd, 'media', name), 'utf8')).toBe('x')
    expect(storages.get('cache')).toBeInstanceOf(MemoryStorage)
  })
})
