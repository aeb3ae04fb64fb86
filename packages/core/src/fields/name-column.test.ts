/**
 * `bind()` accepts only columns that hold a name: checked by tsc for typed
 * fields (`@ts-expect-error` lines fail the typecheck if they compile), and at
 * run time for a column that holds something else.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { InvalidArgumentError } from '../errors.js'
import { MemoryStorage } from '../memory-storage.js'
import { fileField, type NameColumn } from './file-field.js'
import { imageField } from './image-field.js'

type User = { id: number; avatar: string | null; resume?: string; name: string; createdAt: Date }

describe('bind(record, column)', () => {
  const storage = new MemoryStorage()

  it('types the column to the record’s string properties', () => {
    expectTypeOf<NameColumn<User>>().toEqualTypeOf<'avatar' | 'resume' | 'name'>()
    expectTypeOf<NameColumn<Record<string, unknown>>>().toEqualTypeOf<string>()
    const user: User = { id: 1, avatar: null, name: 'Ada', createdAt: new Date() }
    const avatar = imageField<User>({ storage })
    const resume = fileField<User>({ storage })
    expect(avatar.bind(user, 'avatar').name).toBeNull()
    expect(resume.bind(user, 'resume').name).toBeNull()
    // @ts-expect-error: 'id' holds a number
    expect(() => avatar.bind(user, 'id')).toThrow(InvalidArgumentError)
    // @ts-expect-error: no such column
    expect(avatar.bind(user, 'nope').name).toBeNull()
    // @ts-expect-error: a Date is not a name
    expect(() => resume.bind(user, 'createdAt')).toThrow("the 'createdAt' column holds an object, not a stored file name")
  })

  it('refuses at run time a column holding something other than a name, before anything is stored', async () => {
    const untyped = fileField({ storage })
    const row: Record<string, unknown> = { id: 7, avatar: null }
    expect(() => untyped.bind(row, 'id')).toThrow(
      expect.objectContaining({ code: 'EINVAL', message: "the 'id' column holds a number, not a stored file name" }),
    )
    const fresh: Record<string, unknown> = {}
    await untyped.bind(fresh, 'avatar').save('a.txt', 'x')
    expect(fresh.avatar).toBe('a.txt')
  })
})
