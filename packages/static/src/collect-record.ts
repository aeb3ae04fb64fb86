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
    /** Source name → integrity of its hashed copy. */
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
    return Buffer.from(await store.read(name)).toString('utf8')
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
 * JSON of an object with its keys in code unit order, written directly: a
 * sorted copy of a 20,000-key object (`Object.fromEntries`) costs more than
 * the writing, and would put integer-like keys first whatever the sort.
 */
function sortedJson(record: Record<string, unknown>): string {
  const keys = Object.keys(record).sort()
  const out: string[] = []
  for (const k of keys) out.push(`${JSON.stringify(k)}:${JSON.stringify(record[k])}`)
  return `{${out.join(',')}}`
}

/** Reads the record from `store`. @throws StorageError when it exists but cannot be read. */
export async function readRecord(store: Storage): Promise<{ record: CollectRecord; text: string | null }> {
  const text = await readText(store, COLLECT_STATE_NAME)
  return { record: parseRecord(text), text }
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
