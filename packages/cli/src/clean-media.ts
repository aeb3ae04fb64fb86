/**
 * `cleanMedia`: finds (and, when asked, deletes) media files that no record
 * references: what django-cleanup prevents for Django, and what piles up
 * anyway when records are deleted by SQL, a failed transaction leaves an
 * upload behind, or a field is cleared without deleting its file.
 *
 * The application says which names its records reference (a query over its
 * file columns); everything under the prefix that is not named, and was not
 * modified in the last `minAge` seconds, is an orphan.
 */
import { AbortedError, InvalidArgumentError, isStorageError, safeDir, safeName, variantsDir, type Storage } from '@stowage/core'

/** What the resolver is told. */
export interface ReferencesContext {
  /** The storage being scanned. */
  storage: Storage
  /** The directory scanned (`''` for the whole storage). */
  prefix: string
}

/**
 * Returns the stored names the application's records reference: the values
 * of its file columns, e.g. `db.prepare('SELECT avatar FROM profiles').pluck().all()`.
 * Empty values (`''`, `null`) are skipped.
 */
export type ReferencesResolver = (
  context: ReferencesContext,
) =>
  | Iterable<string | null | undefined>
  | AsyncIterable<string | null | undefined>
  | Promise<Iterable<string | null | undefined> | AsyncIterable<string | null | undefined>>

/** Files modified more recently than this (seconds) are never deleted by default: their record may not be committed yet. */
export const DEFAULT_MIN_AGE = 3600

/** Options for `cleanMedia`. */
export interface CleanMediaOptions {
  /** The media storage (e.g. `storages.get('default')`). */
  storage: Storage
  /** The names your records reference. */
  references: ReferencesResolver
  /** Only scan under this directory (`avatars/`). Default: the whole storage. */
  prefix?: string
  /** Delete the orphans. Default false: only list them. */
  delete?: boolean
  /**
   * Leave alone files modified less than this many seconds ago: a file saved
   * just before the scan may belong to a record not committed yet. Default 3600.
   */
  minAge?: number
  /**
   * Also scan names with a segment starting with `.` (S3's pending direct
   * uploads under `.stowage-pending/`, which their own clean-up handles). Default false.
   */
  includeHidden?: boolean
  /** Concurrent stats and deletes. Default 16. */
  concurrency?: number
  /** The clock that `minAge` is measured against; inject one in tests. */
  now?: () => Date
  signal?: AbortSignal
}

/** What `cleanMedia` found and did. */
export interface CleanMediaSummary {
  /** Files under the prefix. */
  scanned: number
  /** Of those, the ones a record references. */
  referenced: number
  /** Unreferenced files old enough to delete (deleted when `delete` was set). */
  orphans: string[]
  /** Unreferenced files younger than `minAge`: kept. */
  recent: string[]
  /** Orphans deleted. */
  deleted: string[]
  /** Files that could not be checked or deleted. */
  errors: Array<{ path: string; message: string; code: string }>
  /** Whether this was a listing only (`delete` not set). */
  dryRun: boolean
}

/**
 * Lists the files under `prefix` that no record references, and deletes them when `delete` is set.
 * @returns the summary; per-file failures are in `errors`.
 * @throws InvalidArgumentError (`EINVAL`) for a bad `minAge` or a resolver that is not a function;
 *   SuspiciousFileOperationError for an unsafe `prefix`; StorageError when the storage cannot be listed;
 *   whatever the resolver throws (nothing is deleted then); AbortedError.
 */
export async function cleanMedia(options: CleanMediaOptions): Promise<CleanMediaSummary> {
  const { storage, signal } = options
  if (typeof options.references !== 'function')
    throw new InvalidArgumentError('references must be a function returning the referenced names', { argument: 'references' })
  const minAge = options.minAge ?? DEFAULT_MIN_AGE
  if (!Number.isFinite(minAge) || minAge < 0)
    throw new InvalidArgumentError(`minAge must be a number of seconds, at least 0, got ${JSON.stringify(minAge)}`, { argument: 'minAge' })
  const prefix = safeDir(options.prefix ?? '')
  const dryRun = !options.delete
  const concurrency = options.concurrency ?? 16
  const checkAbort = () => {
    if (signal?.aborted) throw new AbortedError('cleanMedia aborted', { cause: signal.reason })
  }

  // List first, then ask for the references: a file saved after the listing
  // is not a candidate, and one saved before it whose record is committed
  // by the time the resolver runs is referenced. What falls between (saved
  // before the listing, record not committed yet) is what `minAge` protects.
  const files = (await listFiles(storage, prefix, concurrency)).filter((n) => options.includeHidden || !n.split('/').some((s) => s.startsWith('.')))
  checkAbort()
  const referenced = await resolveReferences(options.references, { storage, prefix })
  checkAbort()

  const summary: CleanMediaSummary = { scanned: files.length, referenced: 0, orphans: [], recent: [], deleted: [], errors: [], dryRun }
  // An image's variants (`@stowage/images`: thumbnails made with the upload,
  // sizes made on first view) live in a folder beside it that no record
  // names: they belong to the image, and go only when it does.
  const variantDirs = new Set([...referenced].map(variantsDir))
  const unreferenced = files.filter((n) => !referenced.has(n) && !inFolderOf(n, variantDirs))
  summary.referenced = files.length - unreferenced.length
  const cutoff = (options.now?.() ?? new Date()).getTime() - minAge * 1000
  await eachLimit(unreferenced, concurrency, async (name) => {
    checkAbort()
    try {
      const { modified } = await storage.stat(name)
      if (modified.getTime() > cutoff) return void summary.recent.push(name)
      summary.orphans.push(name)
      if (!dryRun) {
        await storage.delete(name)
        summary.deleted.push(name)
      }
    } catch (err) {
      checkAbort()
      // Gone in the meantime: nothing to clean.
      if (isStorageError(err, 'ENOENT')) return
      summary.errors.push({ path: name, message: err instanceof Error ? err.message : String(err), code: isStorageError(err) ? err.code : 'ESTORAGE' })
    }
  })
  for (const list of [summary.orphans, summary.recent, summary.deleted]) list.sort()
  summary.errors.sort((a, b) => (a.path < b.path ? -1 : 1))
  return summary
}

/** @returns whether some folder `name` is in (at any depth) is one of `folders`. */
function inFolderOf(name: string, folders: ReadonlySet<string>): boolean {
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) if (folders.has(name.slice(0, i))) return true
  return false
}

/** @returns the resolver's names, normalised as the storage stores them; values no storage could hold are skipped. */
async function resolveReferences(resolver: ReferencesResolver, context: ReferencesContext): Promise<Set<string>> {
  const names = new Set<string>()
  for await (const value of await resolver(context)) {
    if (typeof value !== 'string' || value === '') continue
    try {
      names.add(safeName(value))
    } catch {
      // Not a name a storage could hold, so it references nothing we list.
    }
  }
  return names
}

/** Every file under `prefix`, sorted; each level of directories is listed `concurrency` at a time. */
async function listFiles(storage: Storage, prefix: string, concurrency: number): Promise<string[]> {
  const names: string[] = []
  for (let level = [prefix]; level.length;) {
    const below: string[] = []
    await eachLimit(level, concurrency, async (dir) => {
      const { dirs, files } = await storage.listdir(dir)
      for (const f of files) names.push(dir ? `${dir}/${f}` : f)
      for (const d of dirs) below.push(dir ? `${dir}/${d}` : d)
    })
    level = below
  }
  return names.sort()
}

/** Runs `fn` on every item, at most `limit` at once. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
