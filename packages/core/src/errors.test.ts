import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, StorageError } from './errors.js'
import { fileField } from './fields/file-field.js'
import { strftime } from './fields/strftime.js'
import { MemoryStorage } from './memory-storage.js'
import { allowedTypes } from './validators/allowed-types.js'
import { maxSize } from './validators/max-size.js'

/** @returns what `call` threw or rejected with; fails the test when it did neither. */
async function thrownBy(call: () => unknown): Promise<unknown> {
  try {
    await call()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}

describe('InvalidArgumentError', () => {
  it('is a StorageError with code EINVAL, its own name and the argument in its context', () => {
    const err = new InvalidArgumentError('expiresIn is too long', { argument: 'expiresIn' })
    expect(err).toBeInstanceOf(StorageError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('EINVAL')
    expect(err.name).toBe('InvalidArgumentError')
    expect(err.message).toBe('expiresIn is too long')
    expect(err.context.argument).toBe('expiresIn')
  })

  it.each([
    ['open() with a reversed byte range', 'range', () => new MemoryStorage().open('a.txt', { start: 5, end: 1 })],
    ['url() with a negative expiresIn', 'expiresIn', () => new MemoryStorage().url('a.txt', { expiresIn: -1 })],
    ['allowedTypes([])', 'types', () => allowedTypes([])],
    ['maxSize(-1)', 'maxSize', () => maxSize(-1)],
    ['strftime() with an unknown directive', 'uploadTo', () => strftime('uploads/%Q/', new Date())],
    // Where users meet strftime: a typo in a field's uploadTo pattern, found when a name is generated.
    [
      'a fileField uploadTo pattern with an unknown directive',
      'uploadTo',
      () => fileField({ storage: new MemoryStorage(), uploadTo: 'uploads/%Q/' }).generateFilename({}, 'a.txt'),
    ],
  ])('is thrown by %s, naming the argument', async (_title, argument, call) => {
    const err = await thrownBy(call)
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err).toMatchObject({ code: 'EINVAL', name: 'InvalidArgumentError', context: { argument } })
  })
})
