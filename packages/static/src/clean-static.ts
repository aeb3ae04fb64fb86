/**
 * `cleanStatic`: deletes the hashed files (and their `.br`/`.gz` variants)
 * that no manifest of the last N deploys names. `collectstatic` never
 * deletes old hashed files, so pages cached before a deploy keep working;
 * without a clean-up they pile up in the bucket forever.
 *
 * Only names that look hashed (`name.<12 hex>.ext`) are candidates;
 * originals, the manifest and Stowage's records are never touched. A file
 * that any kept manifest names (as an original or as a hashed name) stays,
 * and nothing is deleted while fewer deploys are known than asked to keep.
 */
import pLimit from 'p-limit'
import { AbortedError, FileNotFoundError, InvalidArgumentError, StorageError, isStorageError, isStowageName, type Storage } from '@stowage/core'
import { readRecord, writeRecord } from './collect-record.js'
import { toCollectError, type CollectError } from './collect-error.js'
import { listDeploys, readDeploy } from './deploy-history.js'
import { looksHashed } from './hashing.js'
import { parseManifest, type Manifest } from './manifest.js'
import { isManifestStorage } from './manifest-static-storage.js'
import { listFiles } from './list-files.js'
import { ENCODINGS, variantName, variantOf } from './precompress.js'

/** Deploys whose files `cleanStatic` keeps by default: the current one and the two before it. */
export const DEFAULT_KEEP_DEPLOYS = 3

/**
 * Hashed files written more recently than this (seconds) are kept by
 * default: a collectstatic running meanwhile writes its new hashed files
 * before the manifest that names them.
 */
export const DEFAULT_CLEAN_MIN_AGE = 3600

/** Options for `cleanStatic`. */
export interface CleanStaticOptions {
  /** The static storage: a `ManifestStaticStorage`, as given to `collectstatic`. */
  storage: Storage
  /** How many of the newest deploys' files to keep (the current manifest always counts). Default 3. */
  keep?: number
  /** List what would be deleted; delete nothing. */
  dryRun?: boolean
  /** Concurrent deletes. Default 32. */
  concurrency?: number
  /**
   * Keep files modified less than this many seconds ago (default 3600): a
   * collectstatic running meanwhile has written hashed files that no
   * manifest names yet.
   */
  minAge?: number
  /** The clock `minAge` is measured against; inject one in tests. */
  now?: () => Date
  signal?: AbortSignal
}

/** What `cleanStatic` did (or, in a dry run, would do). */
export interface CleanStaticSummary {
  /** The deploy history entries whose files were kept, newest first. */
  kept: string[]
  /** Older history entries deleted with their files. */
  pruned: string[]
  /** Hashed files and variants deleted (or that would be). */
  deleted: string[]
  /** Unnamed hashed files younger than `minAge`: kept (a collectstatic may be writing them). */
  recent: string[]
  /** Set when nothing was deleted because fewer deploys are known than `keep` asks for. */
  incomplete?: string
  errors: CollectError[]
  dryRun: boolean
}

/**
 * Deletes hashed files no manifest of the last `keep` deploys names.
 * @returns a summary; files that could not be deleted are in `errors`.
 * @throws InvalidArgumentError (`EINVAL`) when `storage` is not a manifest storage, `keep` is not a positive integer or `minAge` not a number of seconds;
 *   FileNotFoundError (`ENOENT`) when there is no manifest (nothing was collected);
 *   StorageError when the storage cannot be listed or the record cannot be saved (before any delete); AbortedError.
 */
export async function cleanStatic(options: CleanStaticOptions): Promise<CleanStaticSummary> {
  const { storage, signal } = options
  const dryRun = options.dryRun ?? false
  const keep = options.keep ?? DEFAULT_KEEP_DEPLOYS
  if (!isManifestStorage(storage))
    throw new InvalidArgumentError('cleanStatic needs the ManifestStaticStorage that collectstatic filled', { argument: 'storage' })
  if (!Number.isSafeInteger(keep) || keep < 1)
    throw new InvalidArgumentError(`keep must be a positive integer, got ${JSON.stringify(keep)}`, { argument: 'keep' })
  const minAge = options.minAge ?? DEFAULT_CLEAN_MIN_AGE
  if (!Number.isFinite(minAge) || minAge < 0)
    throw new InvalidArgumentError(`minAge must be a number of seconds, at least 0, got ${JSON.stringify(minAge)}`, { argument: 'minAge' })
  const checkAbort = () => {
    if (signal?.aborted) throw new AbortedError('cleanStatic aborted', { cause: signal.reason })
  }
  const limit = pLimit(options.concurrency ?? 32)
  const store = storage.storage
  const text = await storage.readManifestText()
  if (text === null) throw new FileNotFoundError(storage.manifestName, { context: { reason: 'No manifest: run collectstatic first' } })
  const current = parseManifest(text, storage.manifestName)

  const history = await listDeploys(storage.manifestStorage)
  const kept = history.slice(0, keep)
  const summary: CleanStaticSummary = { kept, pruned: [], deleted: [], recent: [], errors: [], dryRun }
  // Without the manifests of enough deploys, a file from one of the last
  // `keep` could look unused: keep everything rather than guess.
  if (history.length < keep) {
    summary.incomplete = `only ${history.length} deploy${history.length === 1 ? '' : 's'} recorded in the history, ${keep} to keep: nothing deleted`
    return summary
  }
  const manifests: Manifest[] = [current, ...(await Promise.all(kept.map((name) => limit(() => readDeploy(storage.manifestStorage, name)))))]
  const named = namedFiles(manifests)
  checkAbort()

  const unnamed = (await listFiles(store, limit)).filter((name) => isCandidate(name, named, storage.manifestName))
  const candidates = await oldEnough(store, unnamed, (options.now?.() ?? new Date()).getTime() - minAge * 1000, limit, summary, checkAbort)
  const pruned = history.slice(keep)
  summary.pruned = pruned
  if (!dryRun && candidates.length) await forgetInRecord(store, new Set(candidates))

  const jobs = [
    ...candidates.map((name) => ({ where: store, name, file: true })),
    ...pruned.map((name) => ({ where: storage.manifestStorage, name, file: false })),
  ]
  await Promise.all(
    jobs.map(({ where, name, file }) =>
      limit(async () => {
        checkAbort()
        try {
          if (!dryRun) await where.delete(name)
          if (file) summary.deleted.push(name)
        } catch (err) {
          checkAbort()
          summary.errors.push(toCollectError(name, err))
        }
      }),
    ),
  )
  summary.deleted.sort()
  summary.errors.sort((a, b) => (a.path < b.path ? -1 : 1))
  return summary
}

/**
 * @returns the names in `names` last modified before `cutoff` (ms); younger
 *   ones go to `summary.recent`, ones gone meanwhile are dropped, and ones
 *   that cannot be checked go to `summary.errors` (and are kept).
 */
async function oldEnough(
  store: Storage,
  names: string[],
  cutoff: number,
  limit: ReturnType<typeof pLimit>,
  summary: CleanStaticSummary,
  checkAbort: () => void,
): Promise<string[]> {
  const old: string[] = []
  await Promise.all(
    names.map((name) =>
      limit(async () => {
        checkAbort()
        try {
          const { modified } = await store.stat(name)
          ;(modified.getTime() > cutoff ? summary.recent : old).push(name)
        } catch (err) {
          checkAbort()
          if (!isStorageError(err, 'ENOENT')) summary.errors.push(toCollectError(name, err))
        }
      }),
    ),
  )
  summary.recent.sort()
  return old.sort()
}

/** Every name the manifests mention, originals and hashed names, with the variants of the hashed ones. */
function namedFiles(manifests: Manifest[]): Set<string> {
  const named = new Set<string>()
  for (const m of manifests) {
    for (const [original, hashed] of Object.entries(m.paths)) {
      named.add(original)
      named.add(hashed)
      for (const e of ENCODINGS) named.add(variantName(hashed, e))
    }
  }
  return named
}

function isCandidate(name: string, named: Set<string>, manifestName: string): boolean {
  if (named.has(name) || name === manifestName || isStowageName(name)) return false
  return looksHashed(name) || looksHashed(variantOf(name)?.name ?? '')
}

/**
 * Removes `names` from collectstatic's record before they are deleted: a
 * record vouching for a deleted file would make a later collectstatic skip
 * writing it again (when a source goes back to old content).
 */
async function forgetInRecord(store: Storage, names: Set<string>): Promise<void> {
  const stored = await readRecord(store)
  if (stored.text === null) return
  const { record } = stored
  const files = Object.fromEntries(Object.entries(record.files).filter(([n]) => !names.has(n)))
  const compressed = record.compressed && Object.fromEntries(Object.entries(record.compressed).filter(([n]) => !names.has(n)))
  try {
    // Through writeRecord, as collectstatic saves it: the record and its
    // changes (RECORD_CHANGES_NAME) stay one. A whole record written here
    // under its old id would get the stored changes applied on top again,
    // vouching anew for what is deleted next.
    await writeRecord(store, stored, { ...record, files, ...(compressed && { compressed }) }, stored.replacing, false)
  } catch (err) {
    throw new StorageError('Could not update the collectstatic record; nothing was deleted', { code: isStorageError(err) ? err.code : 'ESTORAGE', cause: err })
  }
}
