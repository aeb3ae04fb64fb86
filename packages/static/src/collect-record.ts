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
import { isStorageError, STOWAGE_PREFIX, type Storage } from '@stowage/core'
import { INDEX_LIKE, utf8 } from './manifest.js'
import type { ReferenceProblem } from './post-process.js'
import type { Encoding } from './precompress.js'
import { PRIVATE_RECORD } from './save-hints.js'

/** Name of the run record, in the static storage. */
export const COLLECT_STATE_NAME = '.stowage-collectstatic.json'

/** Names starting with this belong to Stowage's own bookkeeping: never served, never collected. Core's `STOWAGE_PREFIX`, kept under this name. */
export const PRIVATE_PREFIX = STOWAGE_PREFIX

/** The record kept in the storage between runs. */
export interface CollectRecord {
  version: 1
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

/**
 * Reads the record from `store`, without the entries of names a stopped run
 * was replacing (`REPLACING_NAME`; a damaged list drops every entry: that
 * only costs a full comparison).
 * @returns the record, its text as stored, and `replacing` when such a list exists (then the record must be saved again).
 * @throws StorageError when either exists but cannot be read.
 */
export async function readRecord(store: Storage): Promise<{ record: CollectRecord; text: string | null; replacing: boolean }> {
  const [text, list] = await Promise.all([readText(store, COLLECT_STATE_NAME), readText(store, REPLACING_NAME)])
  const record = parseRecord(text)
  if (list === null) return { record, text, replacing: false }
  let names: unknown
  try {
    names = JSON.parse(list)
  } catch {
    names = undefined
  }
  if (Array.isArray(names) && names.every((n) => typeof n === 'string')) for (const n of names as string[]) delete record.files[n]
  else record.files = {}
  return { record, text, replacing: true }
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
