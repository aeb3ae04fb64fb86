/**
 * Option mistakes that the SDK would take without a word: misspelt object
 * parameters, a CDN domain that is not one, signed URLs asked for where
 * none are given. Each fails at construction, and through configuration at
 * start-up, naming the key. No server is needed: nothing is sent.
 */
import { StorageRegistry } from '@stowage/core'
import { describe, expect, it } from 'vitest'
import { resolveS3Options, type S3StorageOptions } from './options.js'

const base = { bucket: 'b', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'k', secretAccessKey: 's' } }
const resolve = (options: Partial<S3StorageOptions>) => resolveS3Options({ ...base, ...options } as S3StorageOptions)

describe('S3 options that would be ignored or misread', () => {
  it('objectParameters: an unknown or misspelt name, or a value of the wrong type, is refused naming objectParameters.<name>', () => {
    const bad: [Record<string, unknown>, string, RegExp?][] = [
      [{ CacheControll: 'max-age=60' }, 'objectParameters.CacheControll', /did you mean 'CacheControl'/],
      [{ cacheControl: 'max-age=60' }, 'objectParameters.cacheControl', /did you mean 'CacheControl'/],
      [{ ACL: 'public-read' }, 'objectParameters.ACL', /defaultAcl/],
      [{ Bucket: 'other' }, 'objectParameters.Bucket'],
      [{ Key: 'elsewhere' }, 'objectParameters.Key'],
      [{ CacheControl: 60 }, 'objectParameters.CacheControl'],
      [{ CacheControl: '' }, 'objectParameters.CacheControl'],
      [{ Expires: 'next tuesday-ish' }, 'objectParameters.Expires'],
      [{ Expires: new Date(NaN) }, 'objectParameters.Expires'],
      [{ Metadata: 'owner=me' }, 'objectParameters.Metadata'],
      [{ Metadata: { owner: 5 } }, 'objectParameters.Metadata.owner'],
    ]
    for (const [objectParameters, key, message] of bad) {
      let err: unknown
      try {
        resolve({ objectParameters: objectParameters as never })
      } catch (e) {
        err = e
      }
      expect(err, key).toMatchObject({ name: 'ConfigurationError', code: 'ECONFIG', key })
      if (message) expect((err as Error).message).toMatch(message)
    }
    const good = {
      CacheControl: 'max-age=60',
      Expires: 'Wed, 21 Oct 2026 07:28:00 GMT',
      Metadata: { owner: 'me' },
      StorageClass: 'STANDARD_IA',
      ContentDisposition: undefined,
    }
    // A date string is what a JSON config can give for Expires (the SDK sends it as it is).
    expect(resolve({ objectParameters: good as never }).objectParameters('x')).toEqual(good)
    expect(resolve({ objectParameters: { Expires: new Date(0) } }).objectParameters('x').Expires).toEqual(new Date(0))
  })

  it('querystringAuth: true with customDomain is refused: customDomain URLs are never signed', () => {
    expect(() => resolve({ customDomain: 'cdn.example.com', querystringAuth: true })).toThrow(
      expect.objectContaining({ code: 'ECONFIG', key: 'querystringAuth', message: expect.stringContaining('customDomain') }),
    )
    // Either alone, or customDomain with the default, is what it says.
    expect(resolve({ customDomain: 'cdn.example.com' }).customDomain).toBe('cdn.example.com')
    expect(resolve({ customDomain: 'cdn.example.com', querystringAuth: false }).querystringAuth).toBe(false)
    expect(resolve({ querystringAuth: true }).querystringAuth).toBe(true)
  })

  it('customDomain is parsed as a host and path: another scheme, credentials, a query or a fragment is refused', () => {
    for (const customDomain of [
      'ftp://cdn.example.com',
      'cdn.example.com/x?v=1',
      'cdn.example.com#top',
      'user:pw@cdn.example.com',
      'https://',
      'exa mple.com',
    ]) {
      expect(() => resolve({ customDomain }), customDomain).toThrow(expect.objectContaining({ code: 'ECONFIG', key: 'customDomain' }))
    }
    for (const [given, stored] of [
      ['cdn.example.com', 'cdn.example.com'],
      ['https://cdn.example.com/', 'cdn.example.com'],
      ['http://cdn.example.com:8080/assets//', 'cdn.example.com:8080/assets'],
      ['CDN.Example.com/Assets', 'cdn.example.com/Assets'],
    ]) {
      expect(resolve({ customDomain: given }).customDomain, given).toBe(stored)
    }
  })

  it('through configuration, the error names storages.<alias>.options.objectParameters.<name> and its variable', async () => {
    const registry = new StorageRegistry()
    await registry.configure({ storages: { media: { backend: 's3', options: { ...base, objectParameters: { CacheControll: 'max-age=60' } } } } })
    expect(() => registry.check()).toThrow(
      expect.objectContaining({ key: 'storages.media.options.objectParameters.CacheControll', env: 'STOWAGE_MEDIA_OBJECT_PARAMETERS' }),
    )
  })
})

describe('inlineTypes, read by a MIME parser', () => {
  it.each([['text/*'], ['text/html; charset=utf-8'], ['texthtml'], ['text/html,image/svg+xml'], [''], [5]])('refuses %j naming inlineTypes', (t) => {
    expect(() => resolve({ inlineTypes: [t as string] })).toThrow(expect.objectContaining({ name: 'ConfigurationError', key: 'inlineTypes' }))
  })
  it('takes bare types in any case, and matches them lowercased', () => {
    expect([...resolve({ inlineTypes: [' Text/HTML ', 'application/vnd.api+json'] }).inlineTypes]).toEqual(['text/html', 'application/vnd.api+json'])
  })
})
