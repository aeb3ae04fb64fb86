/**
 * The run record `collectstatic` keeps in the static storage between runs
 * (`.stowage-collectstatic.json`): what is stored under each name, what was
 * learnt about each source, and the last plan. It turns "is this file
 * unchanged?" into a lookup instead of a request per file.
 *
 * It is not for the public: `serveStatic` never serves it (nor anything
 * else whose name starts with `.stowage`), and on S3 it is saved without
 * the storage's `defaultAcl`, so a public-read ACL does not expose it. A
 * bucket made public by a bucket policy needs that policy to leave these
 * names out (see the README).
 */
import { randomBytes } from 'node:crypto'
import { isStorageError, STOWAGE_PREFIX, type Storage } from '@stowage/core'
import { INDEX_LIKE, utf8 } from './manifest.js'
import type { ReferenceProblem } from './post-process.js'
import type { Encoding } from './precompress.js'
import { PRIVATE_RECORD } from './save-hints.js'

/** Name of the run record, in the static storage. */
export const COLLECT_STATE_NAME = '.stowage-collectstatic.json'

/** Names starting with this belong to Stowage's own bookkeeping: never served, never collected. Core's `STOWAGE_PREFIX`, kept under this name. */
export const PRIVATE_PREFIX = STOWAGE_PREFIX

/**
 * Name of the changes made to the record since it was last written whole,
 * beside it. A re-run that changes a few files writes these (a few hundred
 * bytes) instead of the whole record (8 MB at 20,000 files, and about a
 * fifth of such a run's time to serialise and write). They name the whole
 * record they apply to (its `id`), so changes left behind by a run before
 * the record was last written whole are ignored. The record is written
 * whole again once they pass an eighth of its entries. Delete both files,
 * never this one alone, to make the next run compare every file with the
 * storage.
 */
export const RECORD_CHANGES_NAME = '.stowage-collectstatic.changes.json'

/** The record kept in the storage between runs. */
export interface CollectRecord {
  version: 1
  /** Random, new each time the record is written whole: what `RECORD_CHANGES_NAME` applies to. */
  id?: string
  /** Stored name → MD5 of what is stored under it. */
  files: Record<string, string>
  /** Source name → size, mtime, MD5 and integrity when last hashed, so unchanged sources are not read again. */
  sources?: Record<string, [size: number, mtimeMs: number, md5: string, integrity?: string]>
  /** The last post-processing plan and the inputs it was made from. */
  plan?: {
    key: string
    paths: Record<string, string>
    problems: ReferenceProblem[]
    cycles: string[][]
    /** Source name → integrity of its hashed copy, where it differs from the source's (`sources`): a rewritten copy. */
    integrity?: Record<string, string>
    /** Dropped `sourceMappingURL` comments. */
    warnings?: ReferenceProblem[]
    /** What else the plan depends on (format, static URL, source map policy): a plan made with other settings is not built on. */
    settings?: string
    /** CSS/JS source name → the static names its references resolve to (found or not), so a change re-plans only what it reaches. */
    deps?: Record<string, string[]>
  }
  /** Hashed name → the compressed variants stored beside it (`[]`: none came out smaller). */
  compressed?: Record<string, Encoding[]>
  /** Hash of the last manifest added to the deploy history. */
  deployed?: string
}

/** An empty record. */
export function emptyRecord(): CollectRecord {
  return { version: 1, files: {} }
}

/** @returns the text of `name` in `store`, or `null` when it does not exist. @throws StorageError for other failures. */
export async function readText(store: Storage, name: string): Promise<string | null> {
  try {
    return utf8(await store.read(name))
  } catch (err) {
    if (isStorageError(err, 'ENOENT')) return null
    throw err
  }
}

/** @returns the record in `text`; a missing or damaged one reads as empty (it only costs a full comparison). */
export function parseRecord(text: string | null): CollectRecord {
  if (!text) return emptyRecord()
  try {
    const s = JSON.parse(text) as Partial<CollectRecord>
    if (s.version === 1 && s.files && typeof s.files === 'object') {
      return {
        version: 1,
        id: typeof s.id === 'string' ? s.id : undefined,
        files: s.files,
        sources: isObject(s.sources) ? s.sources : undefined,
        plan: validPlan(s.plan),
        compressed: isObject(s.compressed) ? s.compressed : undefined,
        deployed: typeof s.deployed === 'string' ? s.deployed : undefined,
      }
    }
  } catch {
    // A damaged record only costs a full comparison against the storage.
  }
  return emptyRecord()
}

/** @returns the record's text: keys sorted, so an unchanged record gives the same bytes. */
export function serializeRecord(record: CollectRecord): string {
  const parts = ['"version":1', `"files":${sortedJson(record.files)}`]
  if (record.id) parts.unshift(`"id":${JSON.stringify(record.id)}`)
  if (record.sources) parts.push(`"sources":${sortedJson(record.sources)}`)
  if (record.plan) {
    const { paths, integrity, deps, ...rest } = record.plan
    const plan = [`"paths":${sortedJson(paths)}`]
    if (integrity) plan.push(`"integrity":${sortedJson(integrity)}`)
    if (deps) plan.push(`"deps":${sortedJson(deps)}`)
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) plan.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`)
    parts.push(`"plan":{${plan.join(',')}}`)
  }
  if (record.compressed) parts.push(`"compressed":${sortedJson(record.compressed)}`)
  if (record.deployed) parts.push(`"deployed":${JSON.stringify(record.deployed)}`)
  return `{${parts.join(',')}}`
}

/**
 * JSON of an object with its keys in code unit order. `JSON.stringify` (native,
 * and three times faster than writing each entry here) keeps an object's key
 * order, so it is given the object as it is when its keys were inserted in
 * order (the run inserts them sorted), or else a copy with sorted keys; except
 * where a key looks like an array index, which objects put first whatever the
 * order of insertion: then each entry is written here.
 */
function sortedJson(record: Record<string, unknown>): string {
  const keys = Object.keys(record)
  let sorted = true
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    if (INDEX_LIKE.test(k)) return entryByEntry(record, keys)
    if (i > 0 && keys[i - 1]! > k) sorted = false
  }
  if (sorted) return JSON.stringify(record)
  keys.sort()
  const copy: Record<string, unknown> = {}
  for (const k of keys) copy[k] = record[k]
  return JSON.stringify(copy)
}

function entryByEntry(record: Record<string, unknown>, keys: string[]): string {
  keys.sort()
  const out: string[] = []
  for (const k of keys) out.push(`${JSON.stringify(k)}:${JSON.stringify(record[k])}`)
  return `{${out.join(',')}}`
}

/**
 * The names a run was replacing (`saveReplacing()`), kept beside the record
 * until the record that follows the replacement is saved. A run stopped
 * after replacing some of them leaves this behind, and the next run does not
 * take the record's word for those names. It costs a write of the names
 * about to change, where rewriting the whole record before every change
 * cost a write of every name (megabytes on a large tree).
 */
export const REPLACING_NAME = '.stowage-collectstatic.replacing.json'

/** What `readRecord` found in the storage. */
export interface StoredRecord {
  /** The record: as last written whole, with its changes applied, less the names a stopped run was replacing. */
  record: CollectRecord
  /** The whole record's text as stored, or `null` when there is none. */
  text: string | null
  /** A list of names being replaced (`REPLACING_NAME`) was found: the record must be saved again. */
  replacing: boolean
  /** The changes (`RECORD_CHANGES_NAME`) applied to the record, when there were any. */
  changes?: RecordChanges
  /** A changes file is in the storage, applied or not (made for an earlier whole record). */
  changesStored: boolean
}

/**
 * Reads the record from `store`: the whole record with its changes applied
 * (`RECORD_CHANGES_NAME`; changes made for an earlier whole record are
 * ignored, and damaged ones drop every entry), without the entries of names
 * a stopped run was replacing (`REPLACING_NAME`; a damaged list drops every
 * entry). Dropping entries only costs a full comparison with the storage.
 * @returns what was found (see `StoredRecord`).
 * @throws StorageError when one of the files exists but cannot be read.
 */
export async function readRecord(store: Storage): Promise<StoredRecord> {
  const [text, list, changesText] = await Promise.all([
    readText(store, COLLECT_STATE_NAME),
    readText(store, REPLACING_NAME),
    readText(store, RECORD_CHANGES_NAME),
  ])
  let record = parseRecord(text)
  let changes: RecordChanges | undefined
  if (changesText !== null && record.id !== undefined) {
    // Changes for another whole record are left over from before it was written: ignored.
    const parsed = parseChanges(changesText)
    if (parsed?.base === record.id && applyChanges(record, parsed)) changes = parsed
    else if (parsed === undefined || parsed.base === record.id) record = emptyRecord()
  }
  const changesStored = changesText !== null
  if (list === null) return { record, text, replacing: false, changes, changesStored }
  let names: unknown
  try {
    names = JSON.parse(list)
  } catch {
    names = undefined
  }
  if (Array.isArray(names) && names.every((n) => typeof n === 'string')) for (const n of names as string[]) delete record.files[n]
  else record.files = {}
  return { record, text, replacing: true, changes, changesStored }
}

/**
 * Saves `record` in `store`, private and never cached, as changes to the
 * record `previous` read when it can (see `RECORD_CHANGES_NAME`), or else
 * whole (with a new `id`). Nothing is written when it says what `previous`
 * says, unless `force`.
 * @param previous what `readRecord` found in this storage at the start of the run, or `null` when the run wrote elsewhere (a stage).
 * @param whole write the record whole: `previous` may not say what the storage holds (a run stopped while replacing files; a cleared storage).
 * @param force write even when nothing changed (a list of names being replaced must be covered before it is deleted).
 * @throws StorageError when the record cannot be saved.
 */
export async function writeRecord(store: Storage, previous: StoredRecord | null, record: CollectRecord, whole: boolean, force: boolean): Promise<void> {
  const diff = previous && !whole ? compareRecords(previous, record) : undefined
  if (diff?.unchanged && !force) return
  if (diff?.changes) {
    await store.save(RECORD_CHANGES_NAME, serializeChanges(diff.changes), { ...PRIVATE_RECORD })
    return
  }
  await saveRecordText(store, serializeRecord({ ...record, id: randomBytes(8).toString('hex') }))
  // Changes made for an earlier whole record no longer apply (their base is
  // gone): deleting them only saves the next run a read.
  if (previous?.changesStored) await store.delete(RECORD_CHANGES_NAME).catch(() => undefined)
}

/** Changes to a whole record (`RECORD_CHANGES_NAME`). */
export interface RecordChanges {
  version: 1
  /** The `id` of the whole record they apply to. */
  base: string
  /** Per map of the record: name → its value now, or `null` when it left the map. */
  changes: Partial<Record<RecordMap, Record<string, unknown>>>
  /** The plan's other fields, as they now are (absent: no plan). */
  plan?: PlanFields
  /** The record's `deployed`, as it now is. */
  deployed?: string
}

type PlanFields = Omit<NonNullable<CollectRecord['plan']>, 'paths' | 'integrity' | 'deps'>

/** The record's maps of names, which changes name entries of. */
const RECORD_MAPS = ['files', 'sources', 'paths', 'integrity', 'deps', 'compressed'] as const
type RecordMap = (typeof RECORD_MAPS)[number]

/** Changes may name up to this share of the record's entries (and at least `MIN_CHANGES`) before it is written whole again. */
const CHANGES_SHARE = 1 / 8
const MIN_CHANGES = 256

function mapsOf(r: CollectRecord): Record<RecordMap, Record<string, unknown> | undefined> {
  return { files: r.files, sources: r.sources, paths: r.plan?.paths, integrity: r.plan?.integrity, deps: r.plan?.deps, compressed: r.compressed }
}

function planFields(plan: CollectRecord['plan']): PlanFields | undefined {
  if (!plan) return undefined
  const { paths: _p, integrity: _i, deps: _d, ...fields } = plan
  return fields
}

/**
 * How `record` differs from the stored one: `unchanged`, or the changes that
 * turn the whole record `previous` was read from into `record` (those
 * already stored and these), or neither when they cannot (no whole record
 * with an id, a map or the plan added or dropped, too many changes).
 */
function compareRecords(previous: StoredRecord, record: CollectRecord): { unchanged: boolean; changes?: RecordChanges } {
  const before = previous.record
  const fields = planFields(record.plan)
  let unchanged = !before.plan === !record.plan && JSON.stringify(planFields(before.plan)) === JSON.stringify(fields) && before.deployed === record.deployed
  // A record read from nothing has no id: there is no whole record to write changes to.
  const base = before.id
  let possible = base !== undefined
  const changes: RecordChanges['changes'] = {}
  let count = 0
  let total = 0
  const [a, b] = [mapsOf(before), mapsOf(record)]
  for (const m of RECORD_MAPS) {
    const from = a[m]
    const to = b[m]
    if (!from !== !to) {
      unchanged = possible = false
      continue
    }
    if (!from || !to) continue
    const entries: Record<string, unknown> = Object.create(null) as Record<string, unknown>
    for (const [k, v] of Object.entries(previous.changes?.changes[m] ?? {})) entries[k] = v
    let n = 0
    // One lookup per entry (these maps hold tens of thousands): an entry's
    // value is a string or an array, so anything else `from[k]` gives is
    // inherited (`constructor`), not an entry. When every entry of `from`
    // is one of `to`'s, nothing left it.
    let present = 0
    const keys = Object.keys(to)
    total += keys.length
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      const v = from[k]
      if (v !== undefined && (typeof v === 'string' || Array.isArray(v))) {
        present++
        if (sameValue(v, to[k])) continue
      }
      entries[k] = to[k]
      n++
    }
    if (present !== Object.keys(from).length) {
      for (const k of Object.keys(from)) {
        if (!Object.hasOwn(to, k)) {
          entries[k] = null
          n++
        }
      }
    }
    if (n) unchanged = false
    const size = Object.keys(entries).length
    if (size) changes[m] = entries
    count += size
  }
  if (!possible || count > Math.max(MIN_CHANGES, total * CHANGES_SHARE)) return { unchanged }
  return { unchanged, changes: { version: 1, base: base!, changes, plan: fields, deployed: record.deployed } }
}

/** Record values are strings or arrays of strings and numbers. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** @returns the changes' text: each map's names in code unit order, so the same changes give the same bytes. */
function serializeChanges(changes: RecordChanges): string {
  const maps = RECORD_MAPS.filter((m) => changes.changes[m]).map((m) => `${JSON.stringify(m)}:${sortedJson(changes.changes[m]!)}`)
  const parts = ['"version":1', `"base":${JSON.stringify(changes.base)}`, `"changes":{${maps.join(',')}}`]
  if (changes.plan) parts.push(`"plan":${JSON.stringify(changes.plan)}`)
  if (changes.deployed !== undefined) parts.push(`"deployed":${JSON.stringify(changes.deployed)}`)
  return `{${parts.join(',')}}`
}

/** @returns the changes in `text`, or `undefined` when they are damaged. */
function parseChanges(text: string): RecordChanges | undefined {
  let c: Partial<RecordChanges>
  try {
    c = JSON.parse(text) as Partial<RecordChanges>
  } catch {
    return undefined
  }
  if (!isObject(c) || c.version !== 1 || typeof c.base !== 'string' || !isObject(c.changes)) return undefined
  if (c.deployed !== undefined && typeof c.deployed !== 'string') return undefined
  if (c.plan !== undefined && !isObject(c.plan)) return undefined
  for (const m of Object.keys(c.changes)) if (!(RECORD_MAPS as readonly string[]).includes(m) || !isObject(c.changes[m as RecordMap])) return undefined
  return c as RecordChanges
}

/** Applies `changes` to `record` in place. @returns false when they do not fit it (damaged). */
function applyChanges(record: CollectRecord, changes: RecordChanges): boolean {
  if (!record.plan !== !changes.plan) return false
  const maps = mapsOf(record)
  for (const m of RECORD_MAPS) {
    const entries = changes.changes[m]
    if (!entries) continue
    const target = maps[m]
    if (!target) return false
    for (const k of Object.keys(entries)) {
      const v = entries[k]
      if (v === null) delete target[k]
      // defineProperty, not assignment: a file named `__proto__` is an entry like any other.
      else Object.defineProperty(target, k, { value: v, writable: true, enumerable: true, configurable: true })
    }
  }
  if (record.plan) {
    const { paths, integrity, deps } = record.plan
    record.plan = validPlan({ ...changes.plan, paths, integrity, deps })
    if (!record.plan) return false
  }
  record.deployed = changes.deployed
  return true
}

/** Saves the names about to be replaced (see `REPLACING_NAME`): private, never cached. */
export async function saveReplacing(store: Storage, names: string[]): Promise<void> {
  await store.save(REPLACING_NAME, JSON.stringify([...names].sort()), { ...PRIVATE_RECORD })
}

/** Deletes the list of names being replaced, once a record not vouching for them is saved. */
export async function clearReplacing(store: Storage): Promise<void> {
  await store.delete(REPLACING_NAME)
}

/** Saves `text` as the record: private, never cached. */
export async function saveRecordText(store: Storage, text: string): Promise<void> {
  await store.save(COLLECT_STATE_NAME, text, { ...PRIVATE_RECORD })
}

function validPlan(plan: unknown): CollectRecord['plan'] {
  const p = plan as CollectRecord['plan']
  return p && typeof p.key === 'string' && p.paths && Array.isArray(p.problems) && Array.isArray(p.cycles) ? p : undefined
}

function isObject<T>(v: T | undefined): v is T {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}
