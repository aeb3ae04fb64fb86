import { describe, expect, it } from 'vitest'
import { checkOptionNames, closest } from './check-options.js'
import { ConfigurationError } from './errors.js'
import { MemoryStorage } from './memory-storage.js'

describe('closest', () => {
  it('finds likely typos, case-insensitively, and nothing for unrelated words', () => {
    const names = ['location', 'baseUrl', 'signingSecret', 'expiresIn']
    expect(closest('baseURL', names)).toBe('baseUrl')
    expect(closest('locaton', names)).toBe('location')
    expect(closest('secret', names)).toBe('signingSecret')
    expect(closest('bucket', names)).toBeUndefined()
    expect(closest('x', [])).toBeUndefined()
  })
})

describe('checkOptionNames', () => {
  it('names the unknown option, with a hint when one is given', () => {
    expect(() => checkOptionNames({ a: 1, bucktet: 2 }, ['a', 'bucket'], 'Thing')).toThrow("bucktet: is not a Thing option (did you mean 'bucket'?)")
    expect(() => checkOptionNames({ acl: 1 }, ['defaultAcl'], 'Thing', { acl: 'use defaultAcl' })).toThrow('acl: is not a Thing option: use defaultAcl')
  })
})

describe('MemoryStorage options', () => {
  it('refuses unknown and mistyped options, naming them', () => {
    expect(() => new MemoryStorage({ baseURL: '/m/' } as never)).toThrow(
      new ConfigurationError("is not a MemoryStorage option (did you mean 'baseUrl'?)", { key: 'baseURL' }),
    )
    expect(() => new MemoryStorage({ overwrite: 'yes' } as never)).toThrow("overwrite: must be true or false, got 'yes'")
  })

  it('describes itself with its URL prefix and no signing', async () => {
    expect(await new MemoryStorage({ baseUrl: '/m' }).describe()).toEqual({ backend: 'MemoryStorage', location: 'memory', baseUrl: '/m/', signing: 'none' })
  })
})
