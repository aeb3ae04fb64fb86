/**
 * Type tests: `npm run typecheck` fails if a line marked `@ts-expect-error`
 * compiles, so each one proves a mistake is caught by tsc.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { FileSystemStorage } from '@stowage/local'
import type { S3Storage } from '@stowage/s3'
import type { ManifestStaticStorage } from '@stowage/static'
import { defineConfig, StorageRegistry } from './config.js'
import type { StoragesOf } from './config-types.js'
import type { MemoryStorage } from './memory-storage.js'
import type { Storage } from './storage.js'

const config = defineConfig({
  storages: {
    default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } },
    private: { backend: 's3', options: { bucket: 'private-docs', expiresIn: 300 } },
    staticfiles: { backend: 'local', options: { location: './staticfiles' }, manifest: true },
    scratch: { backend: 'memory' },
  },
  staticfiles: { dirs: ['./static'] },
})

describe('defineConfig types', () => {
  it('types each alias by its backend, as built at run time', async () => {
    type S = StoragesOf<typeof config>
    expectTypeOf<S['default']>().toEqualTypeOf<FileSystemStorage>()
    expectTypeOf<S['private']>().toEqualTypeOf<S3Storage>()
    expectTypeOf<S['staticfiles']>().toEqualTypeOf<ManifestStaticStorage>()
    expectTypeOf<S['scratch']>().toEqualTypeOf<MemoryStorage>()
    const registry = new StorageRegistry<StoragesOf<typeof config>>()
    await registry.configure({ ...config, root: '/srv/app' })
    const priv = registry.get('private')
    expectTypeOf(priv).toEqualTypeOf<S3Storage>()
    expect(priv.constructor.name).toBe('S3Storage')
    expect(typeof priv.presignPost).toBe('function') // no cast needed
    expect(registry.get('staticfiles').constructor.name).toBe('ManifestStaticStorage')
    // @ts-expect-error: not an alias of this configuration
    expect(() => registry.get('archive')).toThrow(/did you mean|configured: default, private/)
    expectTypeOf<ReturnType<StorageRegistry['get']>>().toEqualTypeOf<Storage>()
  })

  it('refuses misspelt options, options of another backend, unknown backends and wrong value types', () => {
    defineConfig({
      storages: {
        // @ts-expect-error: baseURL is not a FileSystemStorage option
        default: { backend: 'local', options: { location: './media', baseURL: '/media/' } },
      },
    })
    defineConfig({
      storages: {
        // @ts-expect-error: bucket is an S3 option, not a local one
        default: { backend: 'local', options: { location: './media', bucket: 'b' } },
      },
    })
    defineConfig({
      storages: {
        // @ts-expect-error: no backend called 'lcoal'
        default: { backend: 'lcoal', options: { location: './media' } },
      },
    })
    defineConfig({
      storages: {
        // @ts-expect-error: querystringAuth is a boolean
        private: { backend: 's3', options: { bucket: 'b', querystringAuth: 'false' } },
      },
    })
    defineConfig({
      storages: {
        // @ts-expect-error: private is not a FileSystemStorage option
        default: { backend: 'local', options: { location: './media', private: true } },
      },
    })
    expect(true).toBe(true)
  })
})
