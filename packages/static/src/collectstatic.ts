/**
 * `collectstatic`: copies every file the finders see into the static
 * storage, and with a `ManifestStaticStorage` also the content-hashed copies
 * (with their compressed variants, when asked) and the manifest (Django's
 * `collectstatic` + `post_process`, WhiteNoise's compression).
 *
 * Built for re-runs: each source is read and hashed once, everything is
 * planned (and reference problems reported) before anything is written,
 * writes run concurrently, and a small record of what was stored
 * (`.stowage-collectstatic.json`, name → MD5) makes "unchanged" a lookup
 * rather than a request per file, so a run with nothing changed writes
 * nothing at all.
 */
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync, type Stats } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createHash, type Hash } from 'node:crypto'
import { pipeline, Transform, type Readable } from 'node:stream'
import { setMaxListeners } from 'node:events'
import pLimit from 'p-limit'
import {
  AbortedError,
  FileNotFoundError,
  PermissionDeniedError,
  StorageError,
  SuspiciousFileOperationError,
  isStorageError,
  isStowageName,
  safeName,
  type Stage,
  type Storage,
} from '@stowage/core'
import { toCollectError, type CollectError } from './collect-error.js'
import {
  clearReplacing,
  COLLECT_STATE_NAME,
  emptyRecord,
  readRecord,
  RECORD_CHANGES_NAME,
  REPLACING_NAME,
  saveReplacing,
  writeRecord,
  type CollectRecord,
  type StoredRecord,
} from './collect-record.js'
import { writeVariants } from './collect-variants.js'
import { contentTypeFor, isCompressible } from './content-types.js'
import { recordDeploy } from './deploy-history.js'
import { findersFromConfig, type DuplicateSource, type Finders, type StaticSource } from './finders.js'
import { DEFAULT_IGNORE_PATTERNS } from './fnmatch.js'
import { hashFile, integrityOf, md5Hex } from './hashing.js'
import { listFiles } from './list-files.js'
import { mapLimit } from './map-limit.js'
import { createManifest, serializeManifest } from './manifest.js'
import { isManifestStorage, MANIFEST_SAVE_OPTIONS, type ManifestStaticStorage } from './manifest-static-storage.js'
import { postProcess, type PostProcessInput, type ReferenceProblem } from './post-process.js'
import { adjustableKind } from './references.js'
import { resolveCacheControl, type ResolvedCacheControl, type StaticSaveOptions } from './save-hints.js'

export { COLLECT_STATE_NAME, RECORD_CHANGES_NAME, REPLACING_NAME }
/** Files up to this size are read whole (one request body with a known length); larger ones are streamed. */
export const STREAM_THRESHOLD = 8 * 1024 * 1024
/**
 * Sources up to this size are stat'ed and read with synchronous calls.
 * Static sources are local files, read from the page cache in microseconds;
 * `fs/promises`' `readFile` makes four trips through libuv's thread pool
 * per file (open, fstat, read, close), which cost more CPU than the reads
 * themselves on a tree of small files. Larger ones still go to the pool, so
 * the event loop never waits on one big read.
 */
export const SYNC_READ_LIMIT = 1024 * 1024

let shared: Buffer | undefined

/**
 * Reads a small local file (smaller than `scratch`, at most `SYNC_READ_LIMIT`) into `scratch`
 * (default: a buffer shared by every call), synchronously: the bytes are
 * valid until the next read into it, so whoever shares it uses them before
 * any `await`.
 * @returns a view of the file's bytes (what it holds now, if it changed size).
 */
function readInto(file: string, size: number, scratch = (shared ??= Buffer.allocUnsafe(SYNC_READ_LIMIT))): Buffer {
  const fd = openSync(file, 'r')
  try {
    const room = scratch.length
    let done = 0
    for (let n = 1; n > 0 && done < room; done += n) n = readSync(fd, scratch, done, room - done, done)
    if (done === room && size < room) {
      // It grew past the buffer since it was statted: read it whole instead.
      return readFileSync(file)
    }
    return scratch.subarray(0, done)
  } finally {
    closeSync(fd)
  }
}

/** @returns the bytes of a local source file: synchronously when small (see `SYNC_READ_LIMIT`). */
function readSource(file: string, size: number): Buffer | Promise<Buffer> {
  return size <= SYNC_READ_LIMIT ? readFileSync(file) : readFile(file)
}

/** Default number of concurrent reads and writes. */
export const DEFAULT_CONCURRENCY = 32

/** Options for `collectstatic`. */
export interface CollectStaticOptions {
  /** The static storage: plain, or a `ManifestStaticStorage` for hashed names. */
  storage: Storage
  /**
   * Where to find files: the one way to say it (build them with
   * `findersFromConfig(config)` from a loaded configuration, or
   * `createFinders({ dirs, root, packages })`). Default
   * `findersFromConfig({ root: process.cwd() })`: the workspace packages'
   * `static/` folders under the current directory, as the CLI finds them
   * with no `staticfiles` configured. Kept optional because that is the
   * zero-configuration case; the former `dirs`/`root`/`packages` shorthands
   * were removed so there is a single place finders come from.
   */
  finders?: Finders
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
  /**
   * A `sourceMappingURL` to a missing map fails the run like any other broken
   * reference. Default: the manifest storage's `strictSourcemaps` (false): a
   * warning, and the comment is dropped from the hashed copy so browsers do
   * not ask for a 404 (vendored libraries often ship without their maps).
   */
  strictSourcemaps?: boolean
  /** Concurrent reads/writes. Default 32. */
  concurrency?: number
  /** Called as files are hashed and written, for progress display. */
  onProgress?: (event: CollectProgress) => void
  signal?: AbortSignal
}

/** A progress event. */
export interface CollectProgress {
  phase: 'read' | 'clear' | 'write' | 'compress'
  done: number
  total: number
}

export type { CollectError }

/** What `collectstatic` did (or, in a dry run, would do). */
export interface CollectStaticSummary {
  /** Original files written. */
  copied: number
  /** Source files whose stored copies were already up to date. */
  unmodified: number
  /** Hashed files written. */
  postProcessed: number
  /** Compressed variants (`.br`, `.gz`) written. */
  compressed: number
  /** Files deleted by `clear`. */
  deleted: number
  /** Files that could not be stored (names the storage refuses, write failures); the rest were collected. */
  errors: CollectError[]
  /**
   * Reference problems that did not fail the run: `sourceMappingURL`s to
   * missing maps (`kind: 'sourcemap'`, dropped from the hashed copies), and
   * every broken reference in lenient mode.
   */
  warnings: ReferenceProblem[]
  duplicates: DuplicateSource[]
  /** Groups of files referencing each other in a cycle (handled, reported for information). */
  cycles: string[][]
  manifestWritten: boolean
  dryRun: boolean
  files: { copied: string[]; unmodified: string[]; postProcessed: string[]; compressed: string[]; deleted: string[] }
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
  /** Subresource Integrity of the source's bytes; `''` when no manifest is written (a plain storage). */
  integrity: string
  /** The bytes that were hashed, kept (within `RETAINED_BYTES`) so planning and writing do not read the file again. */
  bytes?: Buffer
}

/**
 * How many bytes of CSS/JS a run keeps in memory: sources between hashing
 * and planning, and (twice over) decoded originals and rewritten contents
 * while planning and until written. The rest are read again from the
 * source (from the page cache) when needed, so a run's memory does not grow
 * with the tree. Other files are never kept: they are read when written.
 */
export const RETAINED_BYTES = 4 * 1024 * 1024

interface Write {
  target: string
  md5: string
  source: Source
  /** Makes the rewritten content again when it was not kept; `undefined` when the copy is not rewritten. */
  rewrite?: () => Buffer | undefined
  hashed: boolean
}

type Limit = ReturnType<typeof pLimit>

/** Bump when reference rewriting changes, so plans recorded by older versions are not reused. */
const PLAN_FORMAT = 3

/** @returns what, beside the sources, a plan depends on: the format, the static URL, the source map policy. */
function planSettings(staticUrl: string | undefined, missingSourcemaps: 'drop' | 'error'): string {
  return JSON.stringify([PLAN_FORMAT, staticUrl ?? null, missingSourcemaps])
}

function planKey(sources: Source[], settings: string): string {
  const items = sources.map((s) => `${s.path}\0${s.md5}`).sort()
  return md5Hex(JSON.stringify([settings, items]))
}

/**
 * Collects static files into `options.storage`.
 * @returns a summary; files that cannot be stored (a name the storage refuses, a failed write) are
 *   in `errors` and everything else is collected; the manifest is written when every hashed file it names is in place.
 * @throws CollectStaticError (`EREFERENCE`) in strict mode when references are broken, before any write;
 *   AbortedError when `signal` fires; StorageError when the record or the previous manifest cannot be read
 *   (a failure to write the manifest is reported in `errors`).
 */
export async function collectstatic(options: CollectStaticOptions): Promise<CollectStaticSummary> {
  const started = performance.now()
  const run = startRun(options)
  const { found, duplicates } = await findSources(options, run)
  // What earlier runs stored, and what they learnt about the sources.
  const stored = await readRecord(run.store)
  const { record: previous, text: recordText, replacing } = stored
  run.replacing = replacing
  run.staleRecord = replacing
  const state: CollectRecord = options.clear ? emptyRecord() : previous
  const stage = await startStage(run, recordText)
  let done: Awaited<ReturnType<typeof collectInto>>
  try {
    // A stage replacing the storage starts empty: the record is written to it whatever the old one says.
    done = await collectInto(run, found, previous, run.replaced ? null : stored, state)
    await stage?.publish()
  } catch (err) {
    await stage?.discard()
    throw err
  }
  const { sources, plan, deleted, written, failed, variants, manifestWritten } = done
  const { copied, unmodified, postProcessed } = tally(sources, plan.bySource, written, failed)
  deleted.sort()
  run.errors.sort((a, b) => (a.path < b.path ? -1 : 1))
  return {
    copied: copied.length,
    unmodified: unmodified.length,
    postProcessed: postProcessed.length,
    compressed: variants.written.length,
    deleted: deleted.length,
    errors: run.errors,
    warnings: plan.warnings,
    duplicates,
    cycles: plan.cycles,
    manifestWritten,
    dryRun: run.dryRun,
    files: { copied, unmodified, postProcessed, compressed: variants.written.sort(), deleted },
    durationMs: performance.now() - started,
  }
}

/** Phases 2 to 8, into `run.store` (the storage, or its stage). */
async function collectInto(run: Run, found: StaticSource[], previous: CollectRecord, stored: StoredRecord | null, state: CollectRecord) {
  const { sources, sourceCache } = await hashSources(found, previous, run)
  const plan = await planWrites(run, sources, previous, state)
  const { deleted, previousManifest } = await clearOrReadManifest(run)
  const { written, failed, known } = await writeChanged(run, plan, state)
  const variants = await writeCompressed(run, plan.writes, state, failed, known)
  const { manifestWritten, deployed } = await writeManifest(run, plan, previousManifest, failed, variants.failed, state.deployed)
  await saveRecord(run, stored, {
    version: 1,
    files: known,
    sources: sourceCache,
    ...(plan.hashed && { plan: recordablePlan(plan.hashed, sources) }),
    ...(variants.compressed && { compressed: variants.compressed }),
    ...(deployed && { deployed }),
  })
  return { sources, plan, deleted, written, failed, variants, manifestWritten }
}

/** What every phase of one run shares: where it writes, how, and the errors it collects. */
interface Run {
  options: CollectStaticOptions
  /** Follows `options.signal`; what every write is given. */
  signal: AbortSignal | undefined
  /** The storage the files land in (the manifest storage's inner one when hashing, or a stage of it: `startStage`). */
  store: Storage
  manifestStorage: ManifestStaticStorage | undefined
  /** Where the manifest and the deploy history are written: the manifest storage's, or the stage. */
  manifestTarget: Storage | undefined
  /** A `clear` run's storage when staged with `replace` (`startStage`): its files go when the stage is published. */
  replaced: Storage | undefined
  /** Hashed names and a manifest are written. */
  hashing: boolean
  keepOriginals: boolean
  dryRun: boolean
  cacheControl: ResolvedCacheControl
  compress: ManifestStaticStorage['compress'] | undefined
  limit: Limit
  /** Concurrent reads/writes, for the per-file phases (`mapLimit`). */
  concurrency: number
  checkAbort(): void
  /** Files that could not be collected; the run goes on without them. */
  errors: CollectError[]
  /** A list of names being replaced (`REPLACING_NAME`) is in the storage: the record must be saved, then the list deleted. */
  replacing: boolean
  /** Such a list was there at the start: the stored record may vouch for what is no longer stored, so it is written whole. */
  staleRecord: boolean
}

function startRun(options: CollectStaticOptions): Run {
  const manifestStorage = isManifestStorage(options.storage) ? options.storage : undefined
  const hashing = !!manifestStorage && options.postProcess !== false
  // Every write in flight listens to the signal: a signal of the run's own,
  // following the caller's, so that many listeners are expected (Node warns
  // of a leak past ten) without changing the caller's signal.
  const signal = options.signal && AbortSignal.any([options.signal])
  if (signal) setMaxListeners(0, signal)
  return {
    options,
    signal,
    store: manifestStorage ? manifestStorage.storage : options.storage,
    manifestStorage,
    manifestTarget: manifestStorage?.manifestStorage,
    replaced: undefined,
    hashing,
    keepOriginals: !hashing || manifestStorage!.keepOriginals,
    dryRun: options.dryRun ?? false,
    cacheControl: manifestStorage?.cacheControl ?? resolveCacheControl(undefined),
    compress: hashing ? manifestStorage!.compress : undefined,
    limit: pLimit(options.concurrency ?? DEFAULT_CONCURRENCY),
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    checkAbort: () => {
      if (signal?.aborted) throw new AbortedError('collectstatic aborted', { cause: signal.reason })
    },
    errors: [],
    replacing: false,
    staleRecord: false,
  }
}

/** Phase 1: every file the finders see, minus ignored ones and names no storage accepts (reported). */
async function findSources(options: CollectStaticOptions, run: Run): Promise<{ found: StaticSource[]; duplicates: DuplicateSource[] }> {
  const finders = options.finders ?? findersFromConfig({ root: process.cwd() })
  const ignore = [...(options.useDefaultIgnorePatterns === false ? [] : DEFAULT_IGNORE_PATTERNS), ...(options.ignorePatterns ?? [])]
  const { files, duplicates } = await finders.collect(ignore)
  return { found: refuseOwnNames(refuseUnstorable(files, run.errors), run), duplicates }
}

/** What phase 3 decided: every write, and for a manifest storage the hashed plan. */
interface WritePlan {
  writes: Write[]
  /** The writes of each source (in `sources` order), its original before its hashed copy. */
  bySource: Write[][]
  paths: Record<string, string>
  hashed: Plan | undefined
  warnings: ReferenceProblem[]
  cycles: string[][]
}

/**
 * Phase 3: hashed names and rewritten contents, then the list of writes
 * (originals first, as Django copies before post-processing). Nothing is
 * written yet, so broken references fail the run before any change.
 * @throws CollectStaticError in strict mode when references are broken.
 */
async function planWrites(run: Run, sources: Source[], previous: CollectRecord, state: CollectRecord): Promise<WritePlan> {
  const { options, manifestStorage } = run
  const bySource: Write[][] = sources.map((s) => (run.keepOriginals ? [{ target: s.path, md5: s.md5, source: s, hashed: false }] : []))
  const paths: Record<string, string> = {}
  let hashed: Plan | undefined
  let warnings: ReferenceProblem[] = []
  if (run.hashing) {
    hashed = await planHashed(sources, {
      manifestStorage: manifestStorage!,
      previous,
      state,
      clear: !!options.clear,
      strictSourcemaps: options.strictSourcemaps ?? manifestStorage!.strictSourcemaps,
    })
    const plan = hashed
    sources.forEach((s, i) => {
      const target = plan.paths[s.path]!
      paths[s.path] = target
      bySource[i]!.push({ target, md5: plan.md5s[s.path]!, source: s, rewrite: () => plan.content(s.path), hashed: true })
    })
    if (hashed.problems.length && (options.strict ?? true)) throw new CollectStaticError(hashed.problems)
    warnings = [...(hashed.warnings ?? []), ...hashed.problems]
  }
  run.checkAbort()
  return { writes: bySource.flat(), bySource, paths, hashed, warnings, cycles: hashed?.cycles ?? [] }
}

/** Phase 4: with `clear`, empty the storage; otherwise read the manifest now in place (to skip rewriting an identical one). */
async function clearOrReadManifest(run: Run): Promise<{ deleted: string[]; previousManifest: string | null }> {
  const { options, store, limit, checkAbort, errors, dryRun } = run
  if (options.clear) {
    // Staged: what the storage holds goes when the stage replaces it.
    if (run.replaced) return { deleted: await listFiles(run.replaced, limit), previousManifest: null }
    return {
      deleted: await clearStorage(store, { dryRun, limit, concurrency: run.concurrency, checkAbort, onProgress: options.onProgress, errors }),
      previousManifest: null,
    }
  }
  return { deleted: [], previousManifest: run.hashing ? await run.manifestStorage!.readManifestText() : null }
}

/**
 * A first run into an empty storage that can stage (`Storage.stage()`, a
 * local directory) writes everything into the stage, which is published
 * after the run record: the run appears whole, in one step, or (after an
 * error or an abort) not at all. So does a `clear` run into one holding
 * files (`replace`): instead of deleting everything, then writing it again
 * while the site serves an empty or half-filled directory, it writes the
 * stage and swaps it in. Only when the record, the manifest and the files
 * share one storage: they must appear together.
 * @returns the stage, with `run` writing to it; `undefined` to write in place.
 */
async function startStage(run: Run, recordText: string | null): Promise<Stage | undefined> {
  const { store } = run
  const clear = !!run.options.clear
  if (run.dryRun || (recordText !== null && !clear) || !store.stage || (run.manifestStorage && run.manifestStorage.manifestStorage !== store)) {
    return undefined
  }
  const stage = await store.stage(clear ? { replace: true } : undefined)
  if (!stage) return undefined
  if (clear) run.replaced = store
  run.store = stage.storage
  if (run.manifestStorage) run.manifestTarget = stage.storage
  return stage
}

/**
 * Phase 5: write what changed. First list, beside the record, every file
 * about to be replaced (`saveReplacing`): a run interrupted after replacing
 * one must not leave a record vouching for the old content (a later run on
 * the old sources would then skip restoring it).
 * @returns the targets written, those that failed (in `run.errors`), and the md5 of every target in place.
 */
async function writeChanged(
  run: Run,
  { writes, bySource, hashed }: WritePlan,
  state: CollectRecord,
): Promise<{ written: Set<string>; failed: Set<string>; known: Record<string, string> }> {
  const { options, store, limit, concurrency, checkAbort, dryRun } = run
  const replacing = writes.filter((w) => state.files[w.target] !== undefined && state.files[w.target] !== w.md5)
  if (!dryRun && !options.clear && replacing.length) {
    await saveReplacing(
      store,
      replacing.map((w) => w.target),
    )
    run.replacing = true
  }
  // Targets the record knows nothing about are compared with the storage.
  // With no record at all (a first run, or a lost record) one listing says
  // which of them exist, instead of one stat() per target, most of them 404s.
  let existing: Set<string> | undefined
  if (!options.clear && Object.keys(state.files).length === 0 && writes.length > 0) existing = new Set(await listFiles(store, limit))
  const written = new Set<string>()
  const failed = new Set<string>()
  const known: Record<string, string> = {}
  let done = 0
  // One task per source, its original before its hashed copy: a hashed copy
  // with the original's bytes is then a copy of the stored original (a hard
  // link on local disk, a server-side copy where the backend has one)
  // instead of a second write of the same bytes.
  const copy = store.copy?.bind(store)
  // Once a source's copies are written, the bytes kept for them (the source's
  // and its rewritten copy's, up to RETAINED_BYTES each) are dropped: sources
  // and the plan live until the run ends, and would hold them to the end.
  // Compression reads them again after this phase, so they stay for it.
  const release = (ws: Write[]) => {
    const source = ws[0]?.source
    if (!source || run.compress) return
    source.bytes = undefined
    hashed?.release(source.path)
  }
  // Sources whose every copy the record says is in place need no task: on a
  // re-run that is nearly all of them.
  const todo: Write[][] = []
  for (const ws of bySource) {
    if (options.clear || !ws.every((w) => state.files[w.target] === w.md5)) {
      todo.push(ws)
      continue
    }
    for (const w of ws) {
      known[w.target] = w.md5
      options.onProgress?.({ phase: 'write', done: ++done, total: writes.length })
    }
    release(ws)
  }
  // One read buffer per task, reused file after file: a fresh buffer per
  // source read is garbage V8 collects late, and the run's peak memory with
  // it. save() keeps no reference to the bytes it is given once it resolves
  // (the conformance suite checks it), and each task awaits its save.
  const scratch: Buffer[] = []
  await mapLimit(todo, concurrency, async (ws, _, slot) => {
    let original: string | undefined
    for (const w of ws) {
      checkAbort()
      try {
        if (options.clear || !(await unchanged(store, w, state, existing))) {
          const hints = writeHints(run, w.target, w.hashed)
          if (dryRun) {
            // Nothing is written.
          } else if (w.hashed && original !== undefined && copy && w.md5 === w.source.md5) {
            hints.link = true
            await copy(original, w.target, hints)
          } else {
            await put(store, w, hints, (size) => {
              // As large as this task's largest source so far (within SYNC_READ_LIMIT).
              const held = scratch[slot]
              if (held && held.length >= size) return held
              return (scratch[slot] = Buffer.allocUnsafe(Math.min(SYNC_READ_LIMIT, Math.max(size, 2 * (held?.length ?? 32 * 1024)))))
            })
          }
          written.add(w.target)
        }
        known[w.target] = w.md5
        if (!w.hashed) original = w.target
      } catch (err) {
        checkAbort()
        failed.add(w.target)
        run.errors.push(toCollectError(w.target, err))
      }
      options.onProgress?.({ phase: 'write', done: ++done, total: writes.length })
    }
    release(ws)
  })
  checkAbort()
  return { written, failed, known }
}

/** Phase 6: `.br`/`.gz` beside the hashed copies now in place, when the manifest storage compresses. */
async function writeCompressed(
  run: Run,
  writes: Write[],
  state: CollectRecord,
  failed: Set<string>,
  known: Record<string, string>,
): Promise<{ written: string[]; compressed: CollectRecord['compressed'] | undefined; failed: boolean }> {
  const { options, compress } = run
  if (!compress) return { written: [], compressed: undefined, failed: false }
  const variants = await writeVariants(
    run.store,
    writes.filter((w) => w.hashed && !failed.has(w.target) && isCompressible(w.target)),
    {
      compress,
      cacheControl: run.cacheControl,
      state: options.clear ? undefined : state,
      dryRun: run.dryRun,
      concurrency: run.concurrency,
      signal: run.signal,
      checkAbort: run.checkAbort,
      onProgress: options.onProgress,
      errors: run.errors,
      failed,
      known,
    },
  )
  run.checkAbort()
  return variants
}

/**
 * Phase 7: the manifest last, and only when every file it names is in
 * place; then the deploy history.
 * @returns whether a manifest was written, and the latest deploy recorded.
 */
async function writeManifest(
  run: Run,
  plan: WritePlan,
  previousManifest: string | null,
  failed: Set<string>,
  variantsFailed: boolean,
  deployed: string | undefined,
): Promise<{ manifestWritten: boolean; deployed: string | undefined }> {
  const { manifestStorage, dryRun } = run
  if (!run.hashing || plan.writes.some((w) => w.hashed && failed.has(w.target)) || variantsFailed) return { manifestWritten: false, deployed }
  const manifest = createManifest(plan.paths, manifestStorage!.manifestVersion, plan.hashed!.integrity)
  const text = serializeManifest(manifest)
  const unchangedManifest = text === previousManifest
  let manifestWritten = false
  if (!unchangedManifest) {
    try {
      if (!dryRun) await run.manifestTarget!.save(manifestStorage!.manifestName, text, MANIFEST_SAVE_OPTIONS)
      manifestWritten = true
    } catch (err) {
      run.checkAbort()
      run.errors.push(toCollectError(manifestStorage!.manifestName, err))
    }
  }
  if (!dryRun && (manifestWritten || unchangedManifest)) {
    manifestStorage!.setManifest(manifest)
    deployed = await recordInHistory(run.manifestTarget!, manifest, text, deployed, run.errors)
  }
  return { manifestWritten, deployed }
}

/** Phase 8: the run record, when it changed (a failure to write it is reported, not thrown). */
async function saveRecord(run: Run, stored: StoredRecord | null, record: CollectRecord): Promise<void> {
  if (run.dryRun) return
  try {
    // A cleared storage was emptied: its record is written whole, not as changes to one it no longer holds.
    await writeRecord(run.store, stored, record, run.staleRecord || !!run.options.clear, run.replacing)
  } catch (err) {
    run.errors.push(toCollectError(COLLECT_STATE_NAME, err))
    return
  }
  // The record now says what is stored under every name the list named.
  if (run.replacing) {
    try {
      await clearReplacing(run.store)
    } catch (err) {
      run.errors.push(toCollectError(REPLACING_NAME, err))
    }
  }
}

/**
 * Leaves out found files whose names no storage accepts (`safeName`: e.g. a
 * backslash or a newline, ordinary characters on Linux), each reported in
 * `errors` with its code, so one such file does not stop the others from
 * being collected. Percent escapes pass (Django's fixture `test/%2F.txt` is
 * collected under that literal name; its URLs encode the `%`).
 * @returns the files that can be stored.
 */
function refuseUnstorable(found: StaticSource[], errors: CollectError[]): StaticSource[] {
  return found.filter((f) => {
    try {
      safeName(f.path)
      return true
    } catch (err) {
      const e = toCollectError(f.path, err)
      errors.push({ ...e, message: `${e.message}: not collected (${f.file}); rename it, or leave it out with an ignore pattern` })
      return false
    }
  })
}

/**
 * Leaves out sources that would land on Stowage's own files (`.stowage*`: the
 * run record, the deploy history; reachable with `useDefaultIgnorePatterns:
 * false` or a `.stowage…` prefix) or on the manifest beside them: the run
 * would overwrite them at its end, and until then (or for good, when the run
 * failed before its manifest) the storage would hold the project's file as
 * its record or its manifest, which `static()` reads. Each is reported in
 * `errors`, as Django's collectstatic would silently overwrite it.
 * @returns the other sources.
 */
function refuseOwnNames(found: StaticSource[], run: Run): StaticSource[] {
  const ms = run.manifestStorage
  const manifestName = ms && ms.manifestStorage === ms.storage ? safeName(ms.manifestName) : undefined
  return found.filter((f) => {
    const what = isStowageName(f.path) ? "Stowage's own records" : f.path === manifestName ? "the manifest's" : undefined
    if (!what) return true
    const err = new SuspiciousFileOperationError(
      `'${f.path}' is ${what} name in the static storage: not collected (${f.file}); rename it, or leave it out with an ignore pattern`,
      {
        context: { name: f.path },
      },
    )
    run.errors.push(toCollectError(f.path, err))
    return false
  })
}

/**
 * A source that could not be read while hashing: the run stops there, before
 * anything is written (a first or `clear` run's stage is discarded).
 * @returns the typed error: FileNotFoundError for a source gone since the
 *   finders listed it, PermissionDeniedError for one the process may not read,
 *   StorageError (`ESOURCE`) otherwise.
 */
function sourceError(f: StaticSource, err: unknown): StorageError {
  const code = (err as NodeJS.ErrnoException)?.code
  const reason = `the source '${f.file}' could not be read (${code ?? String(err)}); nothing was written`
  const context = { name: f.path, file: f.file, reason }
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FileNotFoundError(f.path, { cause: err, context })
  if (code === 'EACCES' || code === 'EPERM') return new PermissionDeniedError(`Cannot read '${f.path}': ${reason}`, { cause: err, context })
  return new StorageError(`Cannot read '${f.path}': ${reason}`, { code: 'ESOURCE', cause: err, context })
}

/**
 * Phase 2: hashes every source once (MD5 for its name and the record; SHA-384 for its
 * integrity when a manifest is written: a plain storage has no use for it); a
 * source whose size and mtime match the record is not read again.
 */
async function hashSources(
  found: StaticSource[],
  previous: CollectRecord,
  run: Run,
): Promise<{ sources: Source[]; sourceCache: NonNullable<CollectRecord['sources']> }> {
  const { concurrency, checkAbort, hashing } = run
  const { onProgress } = run.options
  let read = 0
  let retained = 0
  const sourceCache: NonNullable<CollectRecord['sources']> = {}
  // Each source's cache entry, by index: the cache is filled in the sources'
  // order (sorted) at the end, so the record writes it as it is, without the
  // sorted copy a run that hashed anything would otherwise need.
  const entries = new Array<NonNullable<CollectRecord['sources']>[string]>(found.length)
  const sources = new Array<Source>(found.length)
  // Sources the record vouches for (same size and mtime) are taken in one
  // synchronous pass: on a re-run that is nearly every file, and a task per
  // file would cost more than its stat().
  const toHash: number[] = []
  const stats: [size: number, mtimeMs: number][] = []
  for (let i = 0; i < found.length; i++) {
    checkAbort()
    const f = found[i]!
    let stat: Stats
    try {
      stat = statSync(f.file)
    } catch (err) {
      throw sourceError(f, err)
    }
    const { size, mtimeMs } = stat
    const cached = previous.sources?.[f.path]
    if (cached && cached[0] === size && cached[1] === mtimeMs && (cached[3] || !hashing)) {
      sources[i] = source(f, size, cached[2], cached[3] ?? '', undefined)
      entries[i] = cached
      onProgress?.({ phase: 'read', done: ++read, total: found.length })
    } else {
      toHash.push(i)
      stats[i] = [size, mtimeMs]
    }
  }
  await mapLimit(toHash, concurrency, async (i) => {
    checkAbort()
    const f = found[i]!
    const [size, mtimeMs] = stats[i]!
    let md5: string
    let integrity: string
    let bytes: Buffer | undefined
    try {
      if (size <= STREAM_THRESHOLD) {
        // CSS/JS within the budget is kept for planning (reserved before any
        // await, so concurrent reads cannot overshoot it). Anything else is
        // hashed and dropped: small files through one reused buffer, so
        // hashing a tree allocates nothing per file (a fresh buffer per file
        // is garbage V8 collects late, and the run's peak memory with it).
        const keep = adjustableKind(f.path) !== null && retained + size <= RETAINED_BYTES
        if (keep) retained += size
        const data = !keep && size <= SYNC_READ_LIMIT ? readInto(f.file, size) : await readSource(f.file, size)
        md5 = md5Hex(data)
        integrity = hashing ? integrityOf(data) : ''
        if (keep) bytes = data
      } else ({ md5, integrity } = await hashFile(f.file))
    } catch (err) {
      throw sourceError(f, err)
    }
    entries[i] = integrity ? [size, mtimeMs, md5, integrity] : [size, mtimeMs, md5]
    onProgress?.({ phase: 'read', done: ++read, total: found.length })
    sources[i] = source(f, size, md5, integrity, bytes)
  })
  for (let i = 0; i < found.length; i++) sourceCache[found[i]!.path] = entries[i]!
  return { sources, sourceCache }
}

/**
 * A synchronous reader of `file`. Made here, not inline in `planHashed`: a
 * closure there would keep that function's scope, and with it every input's
 * kept bytes, alive as long as the plan.
 */
function reader(file: string): () => Buffer {
  return () => readFileSync(file)
}

/**
 * A source, written out field by field: V8 gives objects made by spreading
 * (`{ ...f, size }`) in a loop a hidden class each, which at 20,000 sources
 * cost 7 MB of maps and descriptors, kept until the run ends, and slower
 * property reads everywhere the sources are used.
 */
function source(f: StaticSource, size: number, md5: string, integrity: string, bytes: Buffer | undefined): Source {
  return { path: f.path, file: f.file, origin: f.origin, size, md5, integrity, bytes }
}

/** A plan: the recorded part plus, for a fresh plan, the rewritten contents. */
type Plan = NonNullable<CollectRecord['plan']> & {
  integrity: Record<string, string>
  md5s: Record<string, string>
  /** @returns the rewritten content of a source's hashed copy (kept, or made again), `undefined` when not rewritten. @throws StorageError (`ECHANGED`). */
  content(path: string): Buffer | undefined
  /** Forgets the bytes kept for a source's hashed copy once it is stored (`PostProcessPlan.release`). */
  release(path: string): void
}

/**
 * Plans hashed names and rewritten contents, or reuses the recorded plan:
 * the same inputs give the same plan, so it is reused when every hashed file
 * it names is recorded as stored. When some sources changed, only what the
 * change reaches is planned again (`affectedSources`): the changed, added
 * and removed sources and every CSS/JS file referring to one of them,
 * transitively; the rest keep their recorded names, neither read nor scanned.
 */
async function planHashed(
  sources: Source[],
  o: { manifestStorage: ManifestStaticStorage; previous: CollectRecord; state: CollectRecord; clear: boolean; strictSourcemaps: boolean },
): Promise<Plan> {
  const missingSourcemaps = o.strictSourcemaps ? 'error' : 'drop'
  const settings = planSettings(o.manifestStorage.staticUrl, missingSourcemaps)
  const key = planKey(sources, settings)
  const reusable = o.previous.plan?.key === key && !o.clear ? o.previous.plan : undefined
  if (reusable?.integrity && sources.every((s) => o.state.files[reusable.paths[s.path] ?? ''] !== undefined)) {
    const md5s: Record<string, string> = {}
    const integrity: Record<string, string> = {}
    for (const s of sources) {
      md5s[s.path] = o.state.files[reusable.paths[s.path]!]!
      integrity[s.path] = reusable.integrity[s.path] ?? s.integrity
    }
    // Every hashed copy is recorded as stored, so nothing will ask for contents.
    return { ...reusable, integrity, md5s, content: () => undefined, release: () => {} }
  }
  const previous = o.clear ? undefined : o.previous.plan
  const affected = previous ? affectedSources(sources, o.previous, o.state, settings) : undefined
  // Sources the change does not reach are no inputs: references to them
  // resolve to their recorded names (`earlier`), so a re-run's plan costs
  // what changed, not an input and a planned file per source.
  const current = new Set<string>()
  for (const s of sources) current.add(s.path)
  const kept = (file: string) => affected !== undefined && !affected.has(file) && current.has(file)
  const earlier = affected && ((name: string) => (kept(name) ? previous!.paths[name] : undefined))
  // CSS/JS sources not kept since hashing are read again, one at a time, as
  // the plan needs them (and checked against the MD5 they were hashed with):
  // planning holds at most RETAINED_BYTES of them, whatever the tree's size.
  const inputs = new Map<string, PostProcessInput>()
  // Only the inputs are sorted: on a re-run that is what a change reaches, not the tree.
  for (const s of sources.filter((s) => !kept(s.path)).sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const rewritable = adjustableKind(s.path) && s.size <= STREAM_THRESHOLD
    const bytes = rewritable ? s.bytes : undefined
    // Bytes kept since hashing, and a way to read them again once the plan releases them (after the write).
    inputs.set(s.path, { md5: s.md5, integrity: s.integrity, bytes, load: rewritable ? reader(s.file) : undefined })
  }
  const plan = postProcess(inputs, { staticUrl: o.manifestStorage.staticUrl, missingSourcemaps, retainBytes: RETAINED_BYTES, earlier })
  // What the sources the plan took as planned had: their references, their problems, their cycles.
  const deps: Record<string, string[]> = Object.fromEntries(plan.references)
  let { problems, warnings = [], cycles } = plan
  if (affected) {
    for (const [file, targets] of Object.entries(previous!.deps!)) if (kept(file)) deps[file] = targets
    const byPlace = (a: ReferenceProblem, b: ReferenceProblem) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line)
    problems = [...previous!.problems.filter((p) => kept(p.file)), ...problems].sort(byPlace)
    warnings = [...(previous!.warnings ?? []).filter((p) => kept(p.file)), ...warnings].sort(byPlace)
    cycles = [...previous!.cycles.filter((c) => kept(c[0]!)), ...cycles].sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
  }
  const paths: Record<string, string> = {}
  const integrity: Record<string, string> = {}
  const md5s: Record<string, string> = {}
  for (const s of sources) {
    const f = plan.files.get(s.path)
    if (f) {
      paths[s.path] = f.hashedName
      integrity[s.path] = f.integrity ?? s.integrity
      md5s[s.path] = f.md5
    } else {
      // As the earlier plan made it: what is stored under its hashed name.
      const hashed = previous!.paths[s.path]!
      paths[s.path] = hashed
      integrity[s.path] = previous!.integrity![s.path] ?? s.integrity
      md5s[s.path] = o.state.files[hashed]!
    }
  }
  // A source the change does not reach is not in the plan, so content() has
  // nothing for it: its hashed copy, rewritten by an earlier run if at all,
  // is only in the storage (compression reads it there).
  return { key, settings, paths, problems, warnings, cycles, deps, integrity, md5s, content: plan.content, release: plan.release }
}

/**
 * Which sources a new plan must look at, when the recorded one can be built
 * on: changed, added and removed sources, and every CSS/JS file whose
 * references reach one of them (through the references recorded with the
 * plan, missing targets included, so adding a file a reference was waiting
 * for re-plans the referrer). Cycles need nothing special: each member
 * refers to the others.
 * @returns the affected source names, or `undefined` when everything must be
 *   planned (no usable plan: other settings, an older record, or a hashed copy
 *   of an unaffected source not recorded as stored).
 */
function affectedSources(sources: Source[], previous: CollectRecord, state: CollectRecord, settings: string): Set<string> | undefined {
  const plan = previous.plan
  if (!plan?.deps || !plan.integrity || plan.settings !== settings || !previous.sources) return undefined
  const changed: string[] = []
  const current = new Set<string>()
  for (const s of sources) {
    current.add(s.path)
    if (plan.paths[s.path] === undefined || previous.sources[s.path]?.[2] !== s.md5) changed.push(s.path)
  }
  for (const p of Object.keys(plan.paths)) if (!current.has(p)) changed.push(p)
  const dependents = new Map<string, string[]>()
  for (const [file, targets] of Object.entries(plan.deps)) {
    for (const t of targets) {
      const list = dependents.get(t)
      if (list) list.push(file)
      else dependents.set(t, [file])
    }
  }
  const affected = new Set(changed)
  for (let i = 0; i < changed.length; i++) {
    for (const file of dependents.get(changed[i]!) ?? []) {
      if (!affected.has(file)) {
        affected.add(file)
        changed.push(file)
      }
    }
  }
  for (const s of sources) {
    if (affected.has(s.path)) continue
    const hashed = plan.paths[s.path]!
    if (state.files[hashed] === undefined) return undefined
  }
  return affected
}

/**
 * @returns the part of a plan kept in the record. A hashed copy's integrity
 * is kept only where it differs from its source's (a rewritten copy): the
 * record has the source's, and most copies are not rewritten.
 */
function recordablePlan(plan: Plan, sources: Source[]): NonNullable<CollectRecord['plan']> {
  const { key, settings, paths, problems, warnings, cycles, deps } = plan
  const integrity: Record<string, string> = {}
  for (const s of sources) if (plan.integrity[s.path] !== s.integrity) integrity[s.path] = plan.integrity[s.path]!
  return { key, settings, paths, problems, cycles, integrity, deps, ...(warnings?.length && { warnings }) }
}

/** Deletes everything in `store` (`--clear`). @returns the names deleted; failures go to `errors`. */
async function clearStorage(
  store: Storage,
  o: { dryRun: boolean; limit: Limit; concurrency: number; checkAbort: () => void; onProgress: CollectStaticOptions['onProgress']; errors: CollectError[] },
): Promise<string[]> {
  const names = await listFiles(store, o.limit)
  const deleted: string[] = []
  let done = 0
  await mapLimit(names, o.concurrency, async (name) => {
    o.checkAbort()
    try {
      if (!o.dryRun) await store.delete(name)
      deleted.push(name)
    } catch (err) {
      o.errors.push(toCollectError(name, err))
    }
    o.onProgress?.({ phase: 'clear', done: ++done, total: names.length })
  })
  return deleted
}

/** How a file is saved: replacing what is there, its type, and the cache lifetime (forever for hashed names, short for originals). */
function writeHints(run: Run, target: string, hashed: boolean): StaticSaveOptions & { link?: boolean } {
  const cacheControl = hashed ? run.cacheControl.hashed : run.cacheControl.unhashed
  // Written out, with `cacheControl` always present: see source().
  return { cacheControl, overwrite: true, contentType: contentTypeFor(target), signal: run.signal }
}

/**
 * Adds the manifest to the deploy history (for `cleanStatic`) unless the
 * record says it already is there. A failure is reported, not fatal: the
 * deploy itself is complete.
 * @returns the manifest hash to record as the newest deploy.
 */
async function recordInHistory(
  storage: Storage,
  manifest: ReturnType<typeof createManifest>,
  text: string,
  deployed: string | undefined,
  errors: CollectError[],
): Promise<string | undefined> {
  if (deployed === manifest.hash) return deployed
  try {
    await recordDeploy(storage, manifest, text)
    return manifest.hash
  } catch (err) {
    errors.push(toCollectError('.stowage-deploys', err))
    return deployed
  }
}

/** Sorts what happened to each source's writes into the summary's lists. */
function tally(
  sources: Source[],
  bySource: Write[][],
  written: Set<string>,
  failed: Set<string>,
): { copied: string[]; unmodified: string[]; postProcessed: string[] } {
  const copied: string[] = []
  const unmodified: string[] = []
  const postProcessed: string[] = []
  for (const [i, s] of sources.entries()) {
    const ws = bySource[i]!
    for (const w of ws) {
      if (!written.has(w.target)) continue
      ;(w.hashed ? postProcessed : copied).push(w.hashed ? w.target : s.path)
    }
    if (ws.every((w) => !written.has(w.target) && !failed.has(w.target))) unmodified.push(s.path)
  }
  return { copied, unmodified, postProcessed }
}

/**
 * Unchanged when the record says the stored copy has this MD5; with no
 * record (first run, or the record was lost), when the backend's etag is
 * that MD5 (S3 single-part uploads, memory).
 */
async function unchanged(store: Storage, w: Write, state: CollectRecord, existing: Set<string> | undefined): Promise<boolean> {
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

/**
 * Saves a write's bytes under exactly its target: rewritten, kept, read into `scratch()` (small sources), read whole,
 * or streamed (large ones).
 * @throws StorageError when the storage chose another name (it does not overwrite).
 */
async function put(store: Storage, w: Write, options: StaticSaveOptions, scratch: (size: number) => Buffer): Promise<void> {
  const { size, file } = w.source
  const rewritten = w.rewrite?.()
  // A hashed copy whose bytes are not the source's, and not in this plan: never write the source's under its name.
  if (!rewritten && w.hashed && w.md5 !== w.source.md5) {
    throw new StorageError(`The rewritten content of '${w.target}' is not in this plan; run collectstatic with --clear`, {
      code: 'ECHANGED',
      context: { name: w.target },
    })
  }
  const kept = rewritten ?? w.source.bytes
  // The source is read again here, and it may have changed since it was
  // hashed (an editor, a build still writing): its new bytes must not be
  // stored under a hashed name, an integrity and a record entry made from the
  // old ones, cached forever as they are. Checked before the save, or, for a
  // streamed source, after it (the copy is then deleted when it is a hashed one).
  const read = kept
    ? undefined
    : size < SYNC_READ_LIMIT
      ? readInto(file, size, scratch(size + 1))
      : size <= STREAM_THRESHOLD
        ? await readSource(file, size)
        : undefined
  if (read && md5Hex(read) !== w.source.md5) throw sourceChanged(w)
  const md5 = kept || read ? undefined : createHash('md5')
  const body = kept ?? read ?? hashedStream(file, md5!)
  const stored = await store.save(w.target, body, options)
  if (stored !== w.target) {
    throw new StorageError(`The storage stored '${w.target}' as '${stored}'; static storages must allow overwriting`, {
      context: { name: w.target, stored },
    })
  }
  if (md5 && md5.digest('hex') !== w.source.md5) {
    // Not named by this run's manifest (the write failed) and overwritten by the next run: a failed delete changes neither.
    if (w.hashed) await store.delete(w.target).catch(() => undefined)
    throw sourceChanged(w)
  }
}

/** @returns the error for a source whose bytes are no longer those it was hashed and planned with (`ECHANGED`). */
function sourceChanged(w: Write): StorageError {
  return new StorageError(`'${w.source.path}' changed while it was collected (${w.source.file}); '${w.target}' was not stored: run collectstatic again`, {
    code: 'ECHANGED',
    context: { name: w.target },
  })
}

/** @returns a stream of `file`'s bytes that feeds `md5` as it is read; a read error reaches the stream. */
function hashedStream(file: string, md5: Hash): Readable {
  const through = new Transform({
    transform(chunk: Buffer, _, done) {
      md5.update(chunk)
      done(null, chunk)
    },
  })
  return pipeline(createReadStream(file), through, () => {})
}
