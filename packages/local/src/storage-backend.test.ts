/**
 * `FileSystemStorage` refuses what it would otherwise ignore, and
 * `backend: 'local'` builds it from configuration.
 */
import { describe, expect, it } from 'vitest'
import { ConfigurationError, StorageRegistry, type BackendContext } from '@stowage/core'
import { FileSystemStorage } from './file-system-storage.js'
import { storageBackend } from './storage-backend.js'

const thrown = (build: () => unknown): ConfigurationError => {
  try {
    build()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError)
    return err as ConfigurationError
  }
  throw new Error('expected a ConfigurationError')
}

describe('FileSystemStorage options', () => {
  it('refuses unknown options with the nearest known one, and private: true with what to do instead', () => {
    expect(thrown(() => new FileSystemStorage({ location: '/tmp/x', baseURL: '/m/' } as never)).message).toBe(
      "baseURL: is not a FileSystemStorage option (did you mean 'baseUrl'?)",
    )
    expect(thrown(() => new FileSystemStorage({ location: '/tmp/x', private: true } as never)).message).toMatch(
      /^private: is not a FileSystemStorage option: .*serveMedia/,
    )
  })

  it('refuses a signing secret shorter than 16 characters when built, not on the first url(), without echoing it', () => {
    const err = thrown(() => new FileSystemStorage({ location: '/tmp/x', signingSecret: 'hunter2' }))
    expect(err.key).toBe('signingSecret')
    expect(err.message).not.toContain('hunter2')
    expect(thrown(() => new FileSystemStorage({ location: '/tmp/x', signingSecret: 42 as never })).message).toBe(
      'signingSecret: must be a string, got (hidden)',
    )
  })

  it('refuses options of the wrong type and a non-positive expiresIn', () => {
    expect(thrown(() => new FileSystemStorage({ location: '/tmp/x', baseUrl: 3 as never })).message).toBe('baseUrl: must be a string, got 3')
    expect(thrown(() => new FileSystemStorage({ location: '/tmp/x', expiresIn: 0 })).key).toBe('expiresIn')
  })

  it('lets a subclass take options of its own', () => {
    class Tagged extends FileSystemStorage {
      readonly tag: string
      constructor(options: { location: string; tag: string }) {
        const { tag, ...rest } = options
        super(rest)
        this.tag = tag
      }
    }
    expect(new Tagged({ location: '/tmp/x', tag: 'a' }).tag).toBe('a')
  })

  it('describes itself: directory, URL prefix, and HMAC signing only with a secret', async () => {
    expect(await new FileSystemStorage({ location: '/srv/media', baseUrl: '/media' }).describe()).toEqual({
      backend: 'FileSystemStorage',
      location: '/srv/media',
      baseUrl: '/media/',
      signing: 'none',
    })
    expect((await new FileSystemStorage({ location: '/srv/media', signingSecret: 'x'.repeat(16) }).describe()).signing).toBe('hmac')
  })
})

describe("backend: 'local'", () => {
  const context: BackendContext = { root: '/srv/app', alias: 'default' }

  it('resolves a relative location against the config root, leaves an absolute one', () => {
    expect(storageBackend.create({ location: './media' }, context).location).toBe('/srv/app/media')
    expect(storageBackend.create({ location: '/var/media' }, context).location).toBe('/var/media')
  })

  it('is what configuration builds for the name', async () => {
    const registry = new StorageRegistry()
    await registry.configure({ root: '/srv/app', storages: { default: { backend: 'local', options: { location: 'm' } } } })
    expect(registry.get('default')).toBeInstanceOf(FileSystemStorage)
  })
})
