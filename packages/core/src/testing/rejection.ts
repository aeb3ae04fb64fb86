import { inspect } from 'node:util'
import { expect } from 'vitest'

/**
 * Awaits `promise` (or calls `fn`, which may throw or reject), expecting it
 * to fail with an instance of `type`, and hands the error back for more
 * checks: `expect((await rejection(storage.read(x), StorageError)).code).toBe('ENOENT')`.
 * Unlike `await expect(p).rejects.toBeInstanceOf(T)`, the caller gets the
 * error itself (its `code`, `cause`, `failures`...).
 * @returns the error, typed as `type`.
 * @throws an assertion failure when it resolves, or fails with anything else.
 */
export async function rejection<E extends Error>(promise: Promise<unknown> | (() => unknown), type: abstract new (...args: never[]) => E): Promise<E> {
  const settled = typeof promise === 'function' ? Promise.resolve().then(promise) : promise
  const outcome = await settled.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  )
  if (!('error' in outcome)) expect.fail(`expected a ${type.name}, but it resolved with ${inspect(outcome.value, { depth: 2, breakLength: Infinity })}`)
  expect(outcome.error, `expected a ${type.name}`).toBeInstanceOf(type)
  return outcome.error as E
}
