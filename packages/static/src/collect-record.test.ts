import { describe, expect, it } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { COLLECT_STATE_NAME, readRecord, REPLACING_NAME, saveRecordText, saveReplacing, serializeRecord, type CollectRecord } from './collect-record.js'

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
