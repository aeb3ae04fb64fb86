/**
 * `collectstatic`: copies every file the finders see into the static
 * storage, and with a `ManifestStaticStorage` also the content-hashed copies
 * and the manifest (Django's `collectstatic` + `post_process`).
 *
 * Built for re-runs: each source is read and hashed once, everything is
 * planned (and reference problems reported) before anything is written,
 * writes run concurrently, and a small record of what was stored
 * (`.stowage-collectstatic.json`, name → MD5) makes "unchanged" a lookup
 * rather than a request per file, so a run with nothing changed writes
 * nothing at all.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import pLimit from 'p-limit'
import { AbortedError, StorageError, isStorageError, type Storage } from '@stowage/core'
import { contentTypeFor } from './content-types.js'
import { createFinders, type DuplicateSource, type Finders, type StaticDir, type StaticSource } from './finders.js'
import { DEFAULT_IGNORE_PATTERNS } from './fnmatch.js'
import { md5File, md5Hex } from './hashing.js'
import { createManifest, serializeManifest } from './manifest.js'
import { isManifestStorage } from './manifest-static-storage.js'
import { postProcess, type PostProcessInput, type ReferenceProblem } from './post-process.js'
import { adjustableKind } from './references.js'

/** Name of the record of stored content hashes, kept in the static storage. */
export const COLLECT_STATE_NAME = '.stowage-collectstatic.json'
/** Files up to this size are read whole (one request body with a known length); larger ones are streamed. */
export const STREAM_THRESHOLD = 8 * 1024 * 1024
/** Default number of concurrent reads and writes. */
export const DEFAULT_CONCURRENCY = 32

/** Options for `collectstatic`. */
export interface CollectStaticOptions {
  /** The static storage: plain, or a `ManifestStaticStorage` for hashed names. */
  storage: Storage
  /** Where to find files; default `createFinders({ dirs, root, packages })`. */
  finders?: Finders
  dirs?: readonly StaticDir[]
  /** Project root for `dirs` and workspace packages. Default `process.cwd()`. */
  root?: string
  packages?: boolean
  /** Extra glob patterns to leave out (`--ignore`). */
  ignorePatterns?: readonly string[]
  /** Also apply Django's defaults (`CVS`, `.*`, `*~`). Default true. */
  useDefaultIgnorePatterns?: boolean
  /** Report what would happen; write and delete nothing. */
  dryRun?: boolean
  /** Delete everything in the static storage first. */
  clear?: boolean
  /** Hash names and write the manifest (manifest storages only). Default true. */
  postProcess?: boolean
  /** A reference to a missing file fails the run (default) rather than only warning. */
  strict?: boolean
  /** Concurrent reads/writes. Default 32. */
  concurrency?: number
  /** Called as files are hashed and written, for progress display. */
  onProgress?: (event: CollectProgress) => void
  signal?: AbortSignal
}

/** A progress event. */
export interface CollectProgress {
  phase: 'read' | 'clear' | 'write'
  done: number
  total: number
}

/** A file that could not be stored or deleted. */
export interface CollectError {
  path: string
  message: string
  code: string
}

/** What `collectstatic` did (or, in a dry run, would do). */
export interface CollectStaticSummary {
  /** Original files written. */
  copied: number
  /** Source files whose stored copies were already up to date. */
  unmodified: number
  /** Hashed files written. */
  postProcessed: number
  /** Files deleted by `clear`. */
  deleted: number
  errors: CollectError[]
  /** Reference problems that did not fail the run (lenient mode). */
  warnings: ReferenceProblem[]
  duplicates: DuplicateSource[]
  /** Groups of files referencing each other in a cycle (handled, reported for information). */
  cycles: string[][]
  manifestWritten: boolean
  dryRun: boolean
  files: { copied: string[]; unmodified: string[]; postProcessed: string[]; deleted: string[] }
  durationMs: number
}

/**
 * The run stopped before writing anything because references could not be
 * resolved (strict mode). `problems` lists every one, with file and line.
 */
export class CollectStaticError extends StorageError {
  readonly problems: ReferenceProblem[]

  constructor(problems: ReferenceProblem[]) {
    super(`${problems.length} broken reference${problems.length === 1 ? '' : 's'} in static files:\n${problems.map((p) => `  ${p.message}`).join('\n')}`, {
      code: 'EREFERENCE',
      context: { problems },
    })
    this.problems = problems
  }
}

interface Source extends StaticSource {
  size: number
  md5: string
  /** The bytes that were hashed, kept (within `RETAINED_BYTES`) so planning and writing do not read the file again. */
  bytes?: Buffer
}

/** How many source bytes a run keeps in memory between hashing and writing. */
export const RETAINED_BYTES = 256 * 1024 * 1024

interface Write {
  target: string
  md5: string
  source: Source
  content?: Buffer
  hashed: boolean
}

/** The record kept in the storage between runs. */
interface State {
  version: 1
  /** Stored name → MD5 of what is stored under it. */
  files: Record<string, string>
  /** Source name → size, mtime and MD5 when last hashed, so unchanged sources are not read again. */
  sources?: Record<string, [size: number, mtimeMs: number, md5: string]>
  /** The last post-processing plan and the inputs it was made from. */
  plan?: { key: string; paths: Record<string, string>; problems: ReferenceProblem[]; cycles: string[][] }
}

/** Bump when reference rewriting changes, so plans recorded by older versions are not reused. */
const PLAN_FORMAT = 1

function planKey(sources: Source[], staticUrl: string | undefined): string {
  const items = sources.map((s) => `${s.path}\0${s.md5}`).sort()
  return md5Hex(JSON.stringify([PLAN_FORMAT, staticUrl ?? null, items]))
}

/**
 * Collects static files into `options.storage`.
 * @returns a summary; per-file storage failures are in `errors` (nothing else is skipped).
 * @throws CollectStaticError (`EREFERENCE`) in strict mode when references are broken, before any write;
 *   AbortedError when `signal` fires; StorageError when the record or the previous manifest cannot be read
 *   (a failure to write the manifest is reported in `errors`).
 */
export async function collectstatic(options: CollectStaticOptions): Promise<CollectStaticSummary> {
  const started = performance.now()
  const { storage: target, signal, onProgress } = options
  const dryRun = options.dryRun ?? false
  const limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY)
  const checkAbort = () => {
    if (signal?.aborted) throw new AbortedError('collectstatic aborted', { cause: signal.reason })
  }
  const manifestStorage = isManifestStorage(target) ? target : undefined
  const store = manifestStorage ? manifestStorage.storage : target
  const hashing = !!manifestStorage && options.postProcess !== false
  const keepOriginals = !hashing || manifestStorage.keepOriginals

  const finders = options.finders ?? createFinders({ dirs: options.dirs, root: options.root, packages: options.packages })
  const ignore = [...(options.useDefaultIgnorePatterns === false ? [] : DEFAULT_IGNORE_PATTERNS), ...(options.ignorePatterns ?? [])]
  const { files: found, duplicates } = await finders.collect(ignore)

  // What earlier runs stored, and what they learnt about the sources.
  const stateText = await readText(store, COLLECT_STATE_NAME)
  const previous = parseState(stateText)
  const state: State = options.clear ? { version: 1, files: {} } : previous

  // 1. Hash every source once; a source whose size and mtime match the record is not read again.
  let read = 0
  let retained = 0
  const sourceCache: NonNullable<State['sources']> = {}
  const sources: Source[] = await Promise.all(
    found.map((f) =>
      limit(async () => {
        checkAbort()
        const { size, mtimeMs } = await stat(f.file)
        const cached = previous.sources?.[f.path]
        let md5: string
        let bytes: Buffer | undefined
        if (cached && cached[0] === size && cached[1] === mtimeMs) md5 = cached[2]
        else if (size <= STREAM_THRESHOLD) {
          const data = await readFile(f.file)
          md5 = md5Hex(data)
          if (retained + data.length <= RETAINED_BYTES) {
            bytes = data
            retained += data.length
          }
        } else md5 = await md5File(f.file)
        sourceCache[f.path] = [size, mtimeMs, md5]
        onProgress?.({ phase: 'read', done: ++read, total: found.length })
        return { ...f, size, md5, bytes }
      }),
    ),
  )

  // 2. Plan hashed names and rewritten contents; fail before writing anything.
  const writes: Write[] = []
  let warnings: ReferenceProblem[] = []
  let cycles: string[][] = []
  let planRecord: State['plan']
  const paths: Record<string, string> = {}
  if (hashing) {
    const key = planKey(sources, manifestStorage.staticUrl)
    const reusable = previous.plan?.key === key && !options.clear ? previous.plan : undefined
    // The same inputs give the same plan: reuse it when every hashed file it names is recorded as stored.
    if (reusable && sources.every((s) => state.files[reusable.paths[s.path] ?? ''] !== undefined)) {
      planRecord = reusable
      for (const s of sources) {
        const target = reusable.paths[s.path]!
        paths[s.path] = target
        writes.push({ target, md5: state.files[target]!, source: s, hashed: true })
      }
    } else {
      const inputs = new Map<string, PostProcessInput>()
      await Promise.all(
        sources.map((s) =>
          limit(async () => {
            const bytes = adjustableKind(s.path) && s.size <= STREAM_THRESHOLD ? (s.bytes ?? (await readFile(s.file))) : undefined
            // The file may have changed since it was hashed: hash what is planned.
            inputs.set(s.path, { md5: bytes ? md5Hex(bytes) : s.md5, bytes })
            if (bytes) s.md5 = inputs.get(s.path)!.md5
          }),
        ),
      )
      const plan = postProcess(new Map([...inputs].sort(([a], [b]) => (a < b ? -1 : 1))), { staticUrl: manifestStorage.staticUrl })
      planRecord = { key, paths, problems: plan.problems, cycles: plan.cycles }
      for (const s of sources) {
        const f = plan.files.get(s.path)!
        paths[s.path] = f.hashedName
        writes.push({ target: f.hashedName, md5: f.md5, source: s, content: f.content, hashed: true })
      }
    }
    if (planRecord.problems.length && (options.strict ?? true)) throw new CollectStaticError(planRecord.problems)
    warnings = planRecord.problems
    cycles = planRecord.cycles
  }
  // Originals first, as Django copies before post-processing.
  if (keepOriginals) writes.unshift(...sources.map((s) => ({ target: s.path, md5: s.md5, source: s, hashed: false })))
  checkAbort()

  // 3. Clear.
  const deleted: string[] = []
  const errors: CollectError[] = []
  let previousManifest: string | null = null
  if (options.clear) {
    const names = await listAll(store, limit)
    let done = 0
    await Promise.all(
      names.map((name) =>
        limit(async () => {
          checkAbort()
          try {
            if (!dryRun) await store.delete(name)
            deleted.push(name)
          } catch (err) {
            errors.push(toCollectError(name, err))
          }
          onProgress?.({ phase: 'clear', done: ++done, total: names.length })
        }),
      ),
    )
  } else if (hashing) {
    previousManifest = await manifestStorage.readManifestText()
  }

  // 4. Write what changed. First forget, in the stored record, every file
  // about to be replaced: a run interrupted after replacing one must not
  // leave a record vouching for the old content (a later run on the old
  // sources would then skip restoring it).
  const replacing = writes.filter((w) => state.files[w.target] !== undefined && state.files[w.target] !== w.md5)
  if (!dryRun && !options.clear && replacing.length) {
    const files = { ...state.files }
    for (const w of replacing) delete files[w.target]
    await store.save(COLLECT_STATE_NAME, JSON.stringify({ ...state, files: sortKeys(files) }), { overwrite: true, contentType: 'application/json; charset=utf-8' })
  }
  // Targets the record knows nothing about are compared with the storage.
  // With no record at all (a first run, or a lost record) one listing says
  // which of them exist, instead of one stat() per target, most of them 404s.
  let existing: Set<string> | undefined
  if (!options.clear && Object.keys(state.files).length === 0 && writes.length > 0) existing = new Set(await listAll(store, limit))
  const written = new Set<string>()
  const failed = new Set<string>()
  const known: Record<string, string> = {}
  let done = 0
  await Promise.all(
    writes.map((w) =>
      limit(async () => {
        checkAbort()
        try {
          if (!options.clear && (await unchanged(store, w, state, existing))) {
            known[w.target] = w.md5
          } else {
            if (!dryRun) await put(store, w, signal)
            written.add(w.target)
            known[w.target] = w.md5
          }
        } catch (err) {
          checkAbort()
          failed.add(w.target)
          errors.push(toCollectError(w.target, err))
        }
        onProgress?.({ phase: 'write', done: ++done, total: writes.length })
      }),
    ),
  )
  checkAbort()

  // 5. The manifest last, and only when every file it names is in place.
  let manifestWritten = false
  if (hashing && !writes.some((w) => w.hashed && failed.has(w.target))) {
    const manifest = createManifest(paths, manifestStorage.manifestVersion)
    const unchangedManifest = serializeManifest(manifest) === previousManifest
    if (!unchangedManifest) {
      try {
        if (!dryRun) await manifestStorage.saveManifest(manifest)
        manifestWritten = true
      } catch (err) {
        checkAbort()
        errors.push(toCollectError(manifestStorage.manifestName, err))
      }
    }
    if (!dryRun && (manifestWritten || unchangedManifest)) manifestStorage.setManifest(manifest)
  }
  const nextState = JSON.stringify({
    version: 1,
    files: sortKeys(known),
    sources: sortKeys(sourceCache),
    ...(planRecord && { plan: { ...planRecord, paths: sortKeys(planRecord.paths) } }),
  } satisfies State)
  if (!dryRun && nextState !== stateText) {
    try {
      await store.save(COLLECT_STATE_NAME, nextState, { overwrite: true, contentType: 'application/json; charset=utf-8' })
    } catch (err) {
      errors.push(toCollectError(COLLECT_STATE_NAME, err))
    }
  }

  const copied: string[] = []
  const unmodified: string[] = []
  const postProcessed: string[] = []
  const bySource = new Map<string, Write[]>()
  for (const w of writes) bySource.set(w.source.path, [...(bySource.get(w.source.path) ?? []), w])
  for (const s of sources) {
    const ws = bySource.get(s.path) ?? []
    for (const w of ws) {
      if (!written.has(w.target)) continue
      ;(w.hashed ? postProcessed : copied).push(w.hashed ? w.target : s.path)
    }
    if (ws.every((w) => !written.has(w.target) && !failed.has(w.target))) unmodified.push(s.path)
  }
  deleted.sort()
  errors.sort((a, b) => (a.path < b.path ? -1 : 1))
  return {
    copied: copied.length,
    unmodified: unmodified.length,
    postProcessed: postProcessed.length,
    deleted: deleted.length,
    errors,
    warnings,
    duplicates,
    cycles,
    manifestWritten,
    dryRun,
    files: { copied, unmodified, postProcessed, deleted },
    durationMs: performance.now() - started,
  }
}

/**
 * Unchanged when the record says the stored copy has this MD5; with no
 * record (first run, or the record was lost), when the backend's etag is
 * that MD5 (S3 single-part uploads, memory).
 */
async function unchanged(store: Storage, w: Write, state: State, existing: Set<string> | undefined): Promise<boolean> {
  const recorded = state.files[w.target]
  if (recorded !== undefined) return recorded === w.md5
  if (existing && !existing.has(w.target)) return false
  try {
    const { etag } = await store.stat(w.target)
    return !!etag && etag.replace(/"/g, '').toLowerCase() === w.md5
  } catch (err) {
    if (isStorageError(err, 'ENOENT')) return false
    throw err
  }
}

async function put(store: Storage, w: Write, signal: AbortSignal | undefined): Promise<void> {
  const body = w.content ?? w.source.bytes ?? (w.source.size <= STREAM_THRESHOLD ? await readFile(w.source.file) : createReadStream(w.source.file))
  const stored = await store.save(w.target, body, { overwrite: true, contentType: contentTypeFor(w.target), signal })
  if (stored !== w.target) {
    throw new StorageError(`The storage stored '${w.target}' as '${stored}'; static storages must allow overwriting`, {
      context: { name: w.target, stored },
    })
  }
}

async function readText(store: Storage, name: string): Promise<string | null> {
  try {
    return Buffer.from(await store.read(name)).toString('utf8')
  } catch (err) {
    if (isStorageError(err, 'ENOENT')) return null
    throw err
  }
}

function parseState(text: string | null): State {
  if (!text) return { version: 1, files: {} }
  try {
    const s = JSON.parse(text) as Partial<State>
    if (s.version === 1 && s.files && typeof s.files === 'object') {
      return { version: 1, files: s.files, sources: s.sources && typeof s.sources === 'object' ? s.sources : undefined, plan: validPlan(s.plan) }
    }
  } catch {
    // A damaged record only costs a full comparison against the storage.
  }
  return { version: 1, files: {} }
}

function validPlan(plan: unknown): State['plan'] {
  const p = plan as State['plan']
  return p && typeof p.key === 'string' && p.paths && Array.isArray(p.problems) && Array.isArray(p.cycles) ? p : undefined
}

async function listAll(store: Storage, limit: ReturnType<typeof pLimit>): Promise<string[]> {
  const names: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const { dirs, files } = await limit(() => store.listdir(dir))
    for (const f of files) names.push(dir ? `${dir}/${f}` : f)
    await Promise.all(dirs.map((d) => walk(dir ? `${dir}/${d}` : d)))
  }
  await walk('')
  return names.sort()
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

function toCollectError(path: string, err: unknown): CollectError {
  return {
    path,
    message: err instanceof Error ? err.message : String(err),
    code: isStorageError(err) ? err.code : ((err as NodeJS.ErrnoException)?.code ?? 'ESTORAGE'),
  }
}
