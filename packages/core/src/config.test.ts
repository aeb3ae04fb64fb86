import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { applyEnvOverrides, defineConfig, loadConfig, StorageRegistry } from './config.js'
import { ConfigurationError } from './errors.js'
import { MemoryStorage } from './memory-storage.js'

const dirs: string[] = []
async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stowage-config-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text)
  return dir
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function configError(p: Promise<unknown> | (() => unknown)): Promise<ConfigurationError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConfigurationError)
  return err as ConfigurationError
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

  it('builds the local backend by name, resolving location against the config root', async () => {
    const registry = new StorageRegistry()
    await registry.configure({ root: '/srv/app', storages: { default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } } } })
    expect((registry.get('default') as unknown as { location: string }).location).toBe('/srv/app/media')
  })

  it('names the key in every configuration error', async () => {
    const registry = new StorageRegistry()
    expect((await configError(registry.configure({ storages: 'nope' } as never))).key).toBe('storages')
    expect((await configError(registry.configure({ storages: { default: {} } } as never))).key).toBe('storages.default.backend')
    const unknown = await configError(registry.configure({ storages: { media: { backend: 'ftp' } } }))
    expect(unknown.key).toBe('storages.media.backend')
    expect(unknown.message).toMatch(/unknown backend 'ftp'.*local.*memory.*s3/)
    expect((await configError(registry.configure({ storages: { default: { backend: 'memory', options: 3 } } } as never))).key).toBe('storages.default.options')
    await registry.configure({ storages: { default: { backend: 'local', options: {} } } })
    const missing = await configError(() => registry.get('default'))
    expect(missing.key).toBe('storages.default.options.location')
    expect(missing.message).toBe('storages.default.options.location: is required (the directory that holds the files)')
    expect((await configError(() => registry.get('other'))).key).toBe('storages.other')
    expect((await configError(() => registry.check())).key).toBe('storages.default.options.location')
  })
})

describe('environment overrides', () => {
  const base = defineConfig({
    storages: {
      default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } },
      staticfiles: { backend: 'local', options: { location: './static' }, manifest: true },
    },
  })

  it('switches an alias to another backend with its own options, leaving others alone', () => {
    const out = applyEnvOverrides(base, {
      STOWAGE_DEFAULT_BACKEND: 's3',
      STOWAGE_DEFAULT_BUCKET: 'media',
      STOWAGE_DEFAULT_FORCE_PATH_STYLE: 'true',
      STOWAGE_DEFAULT_EXPIRES_IN: '600',
      STOWAGE_DEFAULT_OPTIONS: '{"region":"eu-west-1"}',
    })
    expect(out.storages.default).toEqual({ backend: 's3', options: { bucket: 'media', forcePathStyle: true, expiresIn: 600, region: 'eu-west-1' } })
    expect(out.storages.staticfiles).toEqual(base.storages.staticfiles)
    expect(base.storages.default!.backend).toBe('local')
  })

  it('sets single options on the configured backend and can define new aliases', () => {
    const out = applyEnvOverrides(base, { STOWAGE_STATICFILES_LOCATION: '/srv/static', STOWAGE_ARCHIVE_BACKEND: 'memory' })
    expect(out.storages.staticfiles).toEqual({ backend: 'local', options: { location: '/srv/static' }, manifest: true })
    expect(out.storages.archive).toEqual({ backend: 'memory', options: {} })
  })

  it('refuses an OPTIONS value that is not a JSON object', async () => {
    expect((await configError(() => applyEnvOverrides(base, { STOWAGE_DEFAULT_OPTIONS: '[1]' }))).key).toBe('STOWAGE_DEFAULT_OPTIONS')
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
      'stowage.config.ts': `const location: string = './m'\nexport default { storages: { default: { backend: 'memory' as const, options: { location } } } }`,
    })
    expect((await loadConfig({ cwd, env: {} })).storages.default!.options).toEqual({ location: './m' })
  })

  it('reads JSON and reports a missing or malformed file by name', async () => {
    const cwd = await project({ 'stowage.config.json': '{"storages": {"default": {"backend": "memory"}}}' })
    expect((await loadConfig({ cwd, env: {} })).storages.default!.backend).toBe('memory')
    const broken = await project({ 'stowage.config.json': '{"storages": ' })
    expect((await configError(loadConfig({ cwd: broken, env: {} }))).key).toBe('stowage.config.json')
    const empty = await project({})
    expect((await configError(loadConfig({ cwd: empty, env: {} }))).key).toBe('stowage.config')
    expect((await configError(loadConfig({ cwd: empty, env: { STOWAGE_CONFIG: 'nope.js' } }))).key).toBe('STOWAGE_CONFIG')
  })
})
