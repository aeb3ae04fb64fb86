/**
 * `directUploads` checks its options when it is made: a bad one is a
 * ConfigurationError naming the key at start-up, not an InvalidArgumentError
 * at the first `sign` (a 500 to the browser), nor ignored.
 */
import { describe, expect, it } from 'vitest'
import { ConfigurationError, fileField, MemoryStorage } from '@stowage/core'
import { directUploads, type DirectUploadsOptions } from './direct-uploads.js'

const MIB = 1024 * 1024
const GIB = 1024 * MIB
const SECRET = 'direct-uploads-options-secret-0123'
const field = () => fileField({ storage: new MemoryStorage(), column: 'f' })
const make = (options: Record<string, unknown>) => () =>
  directUploads(field(), { basePath: '/uploads/f', secret: SECRET, ...options } as unknown as DirectUploadsOptions<Record<string, unknown>>)

/** The ConfigurationError `make(options)` throws. */
function refusal(options: Record<string, unknown>): ConfigurationError {
  let caught: unknown
  try {
    make(options)()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(ConfigurationError)
  return caught as ConfigurationError
}

describe('directUploads refuses bad options when it is made', () => {
  it.each([
    ['multipartThreshold', 4 * MIB],
    ['multipartThreshold', 5 * MIB - 1],
    ['multipartThreshold', 5 * GIB + 1],
    ['multipartThreshold', 6 * MIB + 0.5],
    ['multipartThreshold', Number.NaN],
    ['multipartThreshold', '64MB'],
    ['partSize', 1],
    ['partSize', 5 * MIB - 1],
    ['partSize', 5 * GIB + 1],
    ['partSize', 8.5 * MIB + 0.25],
    ['partSize', Number.POSITIVE_INFINITY],
    ['expiresIn', 0],
    ['expiresIn', -1],
    ['expiresIn', 7 * 24 * 3600 + 1],
    ['expiresIn', 1.5],
    ['expiresIn', '600'],
    ['secret', 'too-short'],
    ['secret', 1234567890123456],
    ['basePath', undefined],
    ['basePath', 42],
    ['record', 'not a function'],
    ['onConfirm', {}],
    ['now', 1],
    ['pendingStorage', {}],
    ['pendingStorage', 'default'],
  ])('%s: %j', (key, value) => {
    const err = refusal({ [key]: value })
    expect(err.key).toBe(key)
    expect(err.code).toBe('ECONFIG')
    expect(err.message.startsWith(`${key}: `)).toBe(true)
  })

  it('says what the limits are', () => {
    expect(refusal({ partSize: MIB }).message).toContain(`from ${5 * MIB} to ${5 * GIB}`)
    expect(refusal({ expiresIn: 8 * 24 * 3600 }).message).toContain('from 1 to 604800')
    // The secret itself is never echoed back: messages end up in logs.
    expect(refusal({ secret: 'hunter2' }).message).not.toContain('hunter2')
  })

  it('refuses an unknown option, naming it, with the one meant', () => {
    const typo = refusal({ expires: 600 })
    expect(typo.key).toBe('expires')
    expect(typo.message).toContain("'expiresIn'")
    expect(refusal({ partsize: 8 * MIB }).message).toContain("'partSize'")
    expect(refusal({ signingSecret: SECRET }).message).toContain("'secret'")
  })

  it('refuses options that are not an object', () => {
    expect(() => directUploads(field(), undefined as unknown as DirectUploadsOptions<Record<string, unknown>>)).toThrow(ConfigurationError)
  })

  it('leaves a missing secret to sign(), which knows whether the storage presigns', async () => {
    const uploads = make({ secret: undefined })()
    await expect(uploads.sign({ filename: 'a.txt', size: 3 })).rejects.toMatchObject({ code: 'EINVAL', context: { argument: 'secret' } })
  })
})

describe('directUploads takes options at the limits', () => {
  it.each([
    { multipartThreshold: 5 * MIB, partSize: 5 * MIB, expiresIn: 1 },
    { multipartThreshold: 5 * GIB, partSize: 5 * GIB, expiresIn: 7 * 24 * 3600 },
    { record: () => ({}), onConfirm: () => ({}), now: Date.now, pendingStorage: new MemoryStorage() },
    { partSize: undefined, expiresIn: undefined },
  ])('%j', async (options) => {
    const uploads = make(options)()
    const signed = await uploads.sign({ filename: 'a.txt', size: 3 })
    expect(signed).toMatchObject({ method: 'PUT', name: 'a.txt' })
  })
})
