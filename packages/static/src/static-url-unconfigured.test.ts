/**
 * `staticUrl()` before `configureStatic()`: in its own file, so the module
 * state is fresh (vitest isolates each file).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigurationError } from '@stowage/core'
import { configureStatic, staticUrl } from './static-urls.js'

const nodeEnv = process.env.NODE_ENV
afterEach(() => {
  process.env.NODE_ENV = nodeEnv
})

describe('staticUrl() before configureStatic()', () => {
  it('throws in production, since its URLs would not be hashed', () => {
    process.env.NODE_ENV = 'production'
    expect(() => staticUrl('css/app.css')).toThrow(ConfigurationError)
    expect(() => staticUrl('css/app.css')).toThrow(/before configureStatic\(\).*loadStaticUrls/)
  })

  it('warns once in development and gives plain URLs; after configureStatic it is quiet', async () => {
    process.env.NODE_ENV = 'development'
    const warnings: Error[] = []
    const listen = (w: Error) => warnings.push(w)
    process.on('warning', listen)
    try {
      expect(staticUrl('css/app.css')).toBe('/static/css/app.css')
      expect(staticUrl('js/app.js')).toBe('/static/js/app.js')
      configureStatic({ baseUrl: '/assets/' })
      expect(staticUrl('css/app.css')).toBe('/assets/css/app.css')
      await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
    } finally {
      process.off('warning', listen)
    }
    expect(warnings.map((w) => w.name)).toEqual(['StowageStaticWarning'])
    expect(warnings[0]!.message).toMatch(/before configureStatic\(\)/)
  })
})
