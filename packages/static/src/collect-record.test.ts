import { describe, expect, it } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import {
  COLLECT_STATE_NAME,
  readRecord,
  RECORD_CHANGES_NAME,
  REPLACING_NAME,
  saveRecordText,
  saveReplacing,
  serializeRecord,
  writeRecord,
  type CollectRecord,
} from './collect-record.js'

describe('the run record', () => {
  it('is written with keys in code unit order whatever the insertion order, integer-like names included', () => {
    const names = ['b.css', '10', 'a.css', '9', 'z/1.png', '\u00e9.txt']
    const record = (order: string[]): CollectRecord => ({ version: 1, files: Object.fromEntries(order.map((n) => [n, `md5-${n}`])) })
    const sorted = serializeRecord(record([...names].sort()))
    expect(serializeRecord(record(names))).toBe(sorted)
    expect(serializeRecord(record([...names].reverse()))).toBe(sorted)
    expect(sorted).toBe(
      '{"version":1,"files":{"10":"md5-10","9":"md5-9","a.css":"md5-a.css","b.css":"md5-b.css","z/1.png":"md5-z/1.png","\u00e9.txt":"md5-\u00e9.txt"}}',
    )
    // Without integer-like names, the fast path (native JSON of an ordered copy) gives the same order.
    expect(serializeRecord(record(['b.css', 'a.css', 'c/d.js']))).toBe('{"version":1,"files":{"a.css":"md5-a.css","b.css":"md5-b.css","c/d.js":"md5-c/d.js"}}')
  })

  it('reads without the entries a stopped run was replacing, and reports the list; a damaged list drops every entry', async () => {
    const store = new MemoryStorage()
    await saveRecordText(store, serializeRecord({ version: 1, files: { 'a.css': '1', 'b.css': '2', 'c.css': '3' } }))
    expect(await readRecord(store)).toMatchObject({ record: { files: { 'a.css': '1', 'b.css': '2', 'c.css': '3' } }, replacing: false })

    await saveReplacing(store, ['b.css'])
    const read = await readRecord(store)
    expect(read.record.files).toEqual({ 'a.css': '1', 'c.css': '3' })
    expect(read.replacing).toBe(true)
    expect(read.text).toBe(Buffer.from(await store.read(COLLECT_STATE_NAME)).toString())

    await store.save(REPLACING_NAME, '["a.css", 4', { overwrite: true })
    expect((await readRecord(store)).record.files).toEqual({})
  })
})

describe('the run record, written as changes', () => {
  const text = async (store: MemoryStorage, name: string) => Buffer.from(await store.read(name)).toString()
  /** A record of `n` sources, each stored as itself and as a hashed copy, with a plan. */
  function recordOf(n: number, edit: (r: CollectRecord) => void = () => {}): CollectRecord {
    const r: CollectRecord = { version: 1, files: {}, sources: {}, plan: { key: 'k', paths: {}, problems: [], cycles: [], integrity: {}, deps: {} } }
    for (let i = 0; i < n; i++) {
      const name = `css/f${i}.css`
      r.files[name] = `md5-${i}`
      r.files[`css/f${i}.abc.css`] = `md5-${i}`
      r.sources![name] = [100 + i, 1000 + i, `md5-${i}`, `sha384-${i}`]
      r.plan!.paths[name] = `css/f${i}.abc.css`
    }
    r.plan!.deps!['css/f0.css'] = ['css/f1.css']
    r.deployed = 'h1'
    edit(r)
    return r
  }
  /** Saves `record` as a run does, over what `store` holds now. */
  const rewrite = async (store: MemoryStorage, record: CollectRecord, { whole = false, force = false } = {}) =>
    writeRecord(store, await readRecord(store), record, whole, force)
  /** The record as a run sees it: what readRecord gives, without its id. */
  const seen = async (store: MemoryStorage) => {
    const { record } = await readRecord(store)
    const { id: _id, ...rest } = record
    return JSON.parse(serializeRecord(rest as CollectRecord)) as unknown
  }
  const plainly = (r: CollectRecord) => JSON.parse(serializeRecord(r)) as unknown

  it('writes a few changed entries beside the whole record, which stays as it was, and reads back exactly the record saved', async () => {
    const store = new MemoryStorage()
    const first = recordOf(1000)
    await writeRecord(store, null, first, false, false)
    const whole = await text(store, COLLECT_STATE_NAME)
    expect(JSON.parse(whole)).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{16}$/), version: 1 })
    expect(await store.exists(RECORD_CHANGES_NAME)).toBe(false)

    // One source changed, one removed, one added, the deploy moved on; names an object
    // has of its own ('__proto__', 'constructor') and integer-like names are entries like any other.
    const second = recordOf(1000, (r) => {
      r.files['css/f3.css'] = 'md5-new'
      r.sources!['css/f3.css'] = [7, 8, 'md5-new', 'sha384-new']
      delete r.files['css/f9.abc.css']
      Object.defineProperty(r.files, '__proto__', { value: 'md5-proto', enumerable: true, writable: true, configurable: true })
      r.files['constructor'] = 'md5-ctor'
      r.files['404'] = 'md5-404'
      r.plan!.deps!['css/f0.css'] = ['css/f1.css', 'css/f2.css']
      r.plan!.problems = [{ file: 'a.css', line: 1, url: 'x', target: 'x', message: 'm' }]
      r.deployed = 'h2'
    })
    await rewrite(store, second)
    expect(await text(store, COLLECT_STATE_NAME)).toBe(whole)
    const changes = JSON.parse(await text(store, RECORD_CHANGES_NAME)) as { base: string; changes: Record<string, Record<string, unknown>> }
    expect(changes.base).toBe((JSON.parse(whole) as { id: string }).id)
    expect(Object.keys(changes.changes.files!).sort()).toEqual(['404', '__proto__', 'constructor', 'css/f3.css', 'css/f9.abc.css'])
    expect(changes.changes.files!['css/f9.abc.css']).toBeNull()
    expect(await seen(store)).toEqual(plainly(second))
    expect(Object.getPrototypeOf((await readRecord(store)).record.files)).toBe(Object.prototype)

    // A third run carries the changes already stored, and undoes one of them.
    const third = recordOf(1000, (r) => {
      r.files['css/f3.css'] = 'md5-new'
      r.sources!['css/f3.css'] = [7, 8, 'md5-new', 'sha384-new']
      r.deployed = 'h3'
    })
    await rewrite(store, third)
    expect(await text(store, COLLECT_STATE_NAME)).toBe(whole)
    expect(await seen(store)).toEqual(plainly(third))
  })

  it('writes nothing when the record says what the storage holds, unless forced', async () => {
    class Counting extends MemoryStorage {
      saves: string[] = []
      override save(...args: Parameters<MemoryStorage['save']>): ReturnType<MemoryStorage['save']> {
        this.saves.push(args[0])
        return super.save(...args)
      }
    }
    const store = new Counting()
    await writeRecord(store, null, recordOf(10), false, false)
    const withA = recordOf(10, (r) => (r.files['a.txt'] = 'x'))
    await rewrite(store, withA)
    expect(store.saves).toEqual([COLLECT_STATE_NAME, RECORD_CHANGES_NAME])
    await rewrite(store, withA)
    expect(store.saves).toHaveLength(2)
    // Forced (a list of names being replaced must be covered before it goes): written again.
    await rewrite(store, withA, { force: true })
    expect(store.saves).toEqual([COLLECT_STATE_NAME, RECORD_CHANGES_NAME, RECORD_CHANGES_NAME])
    expect(await seen(store)).toEqual(plainly(withA))
  })

  it('writes the record whole past an eighth of its entries, or when asked, and then drops the changes', async () => {
    const store = new MemoryStorage()
    await writeRecord(store, null, recordOf(1000), false, false)
    const firstWhole = await text(store, COLLECT_STATE_NAME)
    await rewrite(
      store,
      recordOf(1000, (r) => (r.files['a.txt'] = 'x')),
    )
    expect(await store.exists(RECORD_CHANGES_NAME)).toBe(true)

    // 4,000 entries in all: 600 changed files are past an eighth (500).
    const many = recordOf(1000, (r) => {
      for (let i = 0; i < 600; i++) r.files[`css/f${i}.css`] = `changed-${i}`
    })
    await rewrite(store, many)
    expect(await store.exists(RECORD_CHANGES_NAME)).toBe(false)
    expect(await text(store, COLLECT_STATE_NAME)).not.toBe(firstWhole)
    expect(await seen(store)).toEqual(plainly(many))

    const manyAndB = (r: CollectRecord) => {
      for (let i = 0; i < 600; i++) r.files[`css/f${i}.css`] = `changed-${i}`
      r.files['b.txt'] = 'y'
    }
    await rewrite(store, recordOf(1000, manyAndB))
    expect(await store.exists(RECORD_CHANGES_NAME)).toBe(true)
    await rewrite(store, recordOf(1000, manyAndB), { whole: true })
    expect(await store.exists(RECORD_CHANGES_NAME)).toBe(false)
    expect(await seen(store)).toEqual(plainly(recordOf(1000, manyAndB)))
  })

  it('ignores changes made for an earlier whole record, and drops every entry for damaged ones', async () => {
    const store = new MemoryStorage()
    await writeRecord(store, null, recordOf(10), false, false)
    await rewrite(
      store,
      recordOf(10, (r) => (r.files['a.txt'] = 'x')),
    )
    const oldChanges = await text(store, RECORD_CHANGES_NAME)
    // The record written whole again (a stopped run's list forces it), and the old changes left behind.
    await rewrite(
      store,
      recordOf(10, (r) => (r.files['c.txt'] = 'z')),
      { whole: true },
    )
    await store.save(RECORD_CHANGES_NAME, oldChanges)
    expect(await seen(store)).toEqual(plainly(recordOf(10, (r) => (r.files['c.txt'] = 'z'))))

    for (const damaged of ['{"version":1,"base"', '[]', JSON.stringify({ ...JSON.parse(oldChanges), changes: { files: [] } })]) {
      await store.save(RECORD_CHANGES_NAME, damaged, { overwrite: true })
      expect((await readRecord(store)).record).toEqual({ version: 1, files: {} })
    }
    // Changes that name this whole record but do not fit it (a plan it does not have) are damaged too.
    const id = (JSON.parse(await text(store, COLLECT_STATE_NAME)) as { id: string }).id
    await saveRecordText(store, serializeRecord({ id, version: 1, files: { 'a.txt': '1' } }))
    await store.save(RECORD_CHANGES_NAME, JSON.stringify({ version: 1, base: id, changes: {}, plan: { key: 'k', paths: {}, problems: [], cycles: [] } }), {
      overwrite: true,
    })
    expect((await readRecord(store)).record).toEqual({ version: 1, files: {} })
  })
})
