/**
 * Finders locate static files in the project, as Django's
 * `FileSystemFinder` (STATICFILES_DIRS, with optional URL prefixes) and
 * `AppDirectoriesFinder` (each app's `static/`; here each workspace
 * package's) do. Sources are read straight from disk: the finders are what
 * the dev middleware serves and what `collectstatic` copies.
 */
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { ConfigurationError, SuspiciousFileOperationError, safeName } from '@stowage/core'
import { DEFAULT_IGNORE_PATTERNS, matchesPatterns } from './fnmatch.js'

/** One static file found in the project. */
export interface StaticSource {
  /** The logical name, POSIX-style, as it appears under the static URL (`css/app.css`). */
  path: string
  /** Absolute path of the file on disk. */
  file: string
  /** Which finder location found it, for messages (`static`, `packages/ui/static`). */
  origin: string
}

/** A logical name provided by more than one location; the first one wins, as in Django. */
export interface DuplicateSource {
  path: string
  used: StaticSource
  ignored: StaticSource[]
}

/** What `Finders.list()` returns. */
export interface FinderListing {
  /** Every file, first match per path, sorted by path. */
  files: StaticSource[]
  duplicates: DuplicateSource[]
}

/** A configured static directory: a path, or `[prefix, path]` like Django's `("prefix", path)`. */
export type StaticDir = string | readonly [prefix: string, dir: string]

/** Something that can find static files. */
export interface Finder {
  /** @returns every location providing `name`, first match first (empty when none). */
  findAll(name: string): Promise<StaticSource[]>
  /** @returns every file under this finder's locations, in location order (duplicates included). */
  list(ignorePatterns?: readonly string[]): AsyncIterable<StaticSource>
}

interface Location {
  prefix: string
  root: string
  origin: string
}

/**
 * Our finders' whole listing as one array: `Finders.collect()` takes it
 * instead of iterating `list()`, which costs a few promise hops per file
 * through the nested async generators (a fifth of a no-op run's time on a
 * 20,000-file tree). Other finders are iterated.
 */
const LIST_ALL = Symbol('stowage.listAll')
interface ListsAll {
  [LIST_ALL](ignorePatterns: readonly string[]): Promise<StaticSource[]>
}
const listsAll = (f: Finder): f is Finder & ListsAll => typeof (f as Partial<ListsAll>)[LIST_ALL] === 'function'

/** Finds files in a list of directories (Django's `FileSystemFinder`). */
export class DirectoriesFinder implements Finder {
  private readonly locations: Location[]

  /**
   * @param dirs directories, relative to `cwd`, optionally `[prefix, dir]`.
   * @throws ConfigurationError for a prefix ending in `/`, an unsafe prefix or an empty directory.
   */
  constructor(dirs: readonly StaticDir[], options: { cwd?: string } = {}) {
    const cwd = options.cwd ?? process.cwd()
    this.locations = dirs.map((entry, i) => {
      const [prefix, dir] = typeof entry === 'string' ? ['', entry] : entry
      if (prefix.endsWith('/')) {
        throw new ConfigurationError(`The prefix '${prefix}' must not end with a slash`, { key: `staticfiles.dirs[${i}]` })
      }
      if (dir.trim() === '') {
        // It would resolve to `cwd`, the project root: .env, node_modules and all.
        throw new ConfigurationError("must name a directory: '' is the whole project root (write '.' if that is what you mean)", {
          key: `staticfiles.dirs[${i}]`,
        })
      }
      let clean = ''
      try {
        clean = prefix ? safeName(prefix) : ''
      } catch (err) {
        throw new ConfigurationError(`Unsafe prefix '${prefix}'`, { key: `staticfiles.dirs[${i}]`, cause: err })
      }
      const root = path.resolve(cwd, dir)
      return { prefix: clean, root, origin: path.relative(cwd, root) || '.' }
    })
  }

  async findAll(name: string): Promise<StaticSource[]> {
    return findIn(this.locations, name)
  }

  list(ignorePatterns?: readonly string[]): AsyncIterable<StaticSource> {
    return listIn(this.locations, ignorePatterns ?? DEFAULT_IGNORE_PATTERNS)
  }

  async [LIST_ALL](ignorePatterns: readonly string[]): Promise<StaticSource[]> {
    return listAllIn(this.locations, ignorePatterns)
  }
}

/**
 * Finds files in the `static/` folder of each workspace package (Django's
 * `AppDirectoriesFinder`, with npm workspaces as the apps). Packages come in
 * the order of the root `package.json`'s `workspaces`, then by name.
 */
export class PackagesFinder implements Finder {
  private locations: Promise<Location[]> | undefined

  constructor(private readonly options: { root?: string; folder?: string } = {}) {}

  private getLocations(): Promise<Location[]> {
    this.locations ??= workspaceStaticDirs(this.options.root ?? process.cwd(), this.options.folder ?? 'static')
    return this.locations
  }

  async findAll(name: string): Promise<StaticSource[]> {
    return findIn(await this.getLocations(), name)
  }

  async *list(ignorePatterns?: readonly string[]): AsyncIterable<StaticSource> {
    yield* listIn(await this.getLocations(), ignorePatterns ?? DEFAULT_IGNORE_PATTERNS)
  }

  async [LIST_ALL](ignorePatterns: readonly string[]): Promise<StaticSource[]> {
    return listAllIn(await this.getLocations(), ignorePatterns)
  }
}

/** Several finders searched in order; the first match wins. */
export class Finders implements Finder {
  constructor(readonly finders: readonly Finder[]) {}

  /** @returns the absolute path of the first file providing `name`, or `null`. */
  async find(name: string): Promise<string | null> {
    for (const f of this.finders) {
      const [hit] = await f.findAll(name)
      if (hit) return hit.file
    }
    return null
  }

  async findAll(name: string): Promise<StaticSource[]> {
    const all: StaticSource[] = []
    for (const f of this.finders) all.push(...(await f.findAll(name)))
    return all
  }

  async *list(ignorePatterns?: readonly string[]): AsyncIterable<StaticSource> {
    for (const f of this.finders) yield* f.list(ignorePatterns)
  }

  /**
   * Lists every file once (the first location wins) and reports the others.
   * @returns files sorted by `path`, and the duplicates.
   */
  async collect(ignorePatterns?: readonly string[]): Promise<FinderListing> {
    const first = new Map<string, StaticSource>()
    const dups = new Map<string, DuplicateSource>()
    const add = (src: StaticSource) => {
      const used = first.get(src.path)
      if (!used) first.set(src.path, src)
      else {
        const d = dups.get(src.path) ?? { path: src.path, used, ignored: [] }
        d.ignored.push(src)
        dups.set(src.path, d)
      }
    }
    const ignore = ignorePatterns ?? DEFAULT_IGNORE_PATTERNS
    for (const f of this.finders) {
      if (listsAll(f)) for (const src of await f[LIST_ALL](ignore)) add(src)
      else for await (const src of f.list(ignore)) add(src)
    }
    const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
    return { files: [...first.values()].sort(byPath), duplicates: [...dups.values()].sort(byPath) }
  }
}

/** Options for `createFinders`. */
export interface FindersOptions {
  /** Configured directories (`staticfiles.dirs`). */
  dirs?: readonly StaticDir[]
  /** Project root: base of relative `dirs`, and where the workspaces are read. Default `process.cwd()`. */
  root?: string
  /** Also search each workspace package's `static/` folder. Default true. */
  packages?: boolean
}

/** @returns the standard finders: configured directories first, then workspace packages. */
export function createFinders(options: FindersOptions = {}): Finders {
  const root = options.root ?? process.cwd()
  const finders: Finder[] = [new DirectoriesFinder(options.dirs ?? [], { cwd: root })]
  if (options.packages !== false) finders.push(new PackagesFinder({ root }))
  return new Finders(finders)
}

/**
 * The finders a loaded configuration describes (`staticfiles.dirs` and
 * `staticfiles.packages`, relative to `root`): the one place every command
 * and `collectstatic()` builds them from configuration.
 * @returns the standard finders for that configuration. Never throws (a missing directory lists nothing).
 */
export function findersFromConfig(config: { root?: string; staticfiles?: { dirs?: readonly StaticDir[]; packages?: boolean } }): Finders {
  const sf = config.staticfiles ?? {}
  return createFinders({ dirs: sf.dirs, root: config.root, packages: sf.packages })
}

async function findIn(locations: Location[], name: string): Promise<StaticSource[]> {
  let clean: string
  try {
    clean = safeName(name)
  } catch (err) {
    if (err instanceof SuspiciousFileOperationError) return []
    throw err
  }
  const hits: StaticSource[] = []
  for (const loc of locations) {
    let rel = clean
    if (loc.prefix) {
      if (!clean.startsWith(`${loc.prefix}/`)) continue
      rel = clean.slice(loc.prefix.length + 1)
    }
    const file = path.join(loc.root, ...rel.split('/'))
    if (await isFile(file)) hits.push({ path: clean, file, origin: loc.origin })
  }
  return hits
}

async function* listIn(locations: Location[], ignore: readonly string[]): AsyncIterable<StaticSource> {
  for (const loc of locations) yield* listAllIn([loc], ignore)
}

/** @returns every file under `locations`, in location order, each location's files in walk order. */
function listAllIn(locations: Location[], ignore: readonly string[]): StaticSource[] {
  const out: StaticSource[] = []
  for (const loc of locations) {
    const rels: string[] = []
    walk(loc.root, '', ignore, rels)
    // Names are joined with '/' and hold none, so on POSIX the file is root + '/' + name.
    const file = path.sep === '/' ? (rel: string) => `${loc.root}/${rel}` : (rel: string) => path.join(loc.root, ...rel.split('/'))
    for (const rel of rels) out.push({ path: loc.prefix ? `${loc.prefix}/${rel}` : rel, file: file(rel), origin: loc.origin })
  }
  return out
}

/**
 * Django's `get_files`: basenames and full relative paths are both matched
 * against the patterns; files of a directory before its sub-directories,
 * each sorted by name. Synchronous: source trees are local, and a readdir
 * per directory through the thread pool cost more than the call.
 */
function walk(root: string, rel: string, ignore: readonly string[], out: string[]): void {
  let entries: Dirent[]
  try {
    entries = readdirSync(rel ? path.join(root, rel) : root, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return
    throw err
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const dirs: string[] = []
  for (const e of entries) {
    if (matchesPatterns(e.name, ignore)) continue
    const full = rel ? `${rel}/${e.name}` : e.name
    let isDir = e.isDirectory()
    let isFileEntry = e.isFile()
    if (e.isSymbolicLink()) {
      let s
      try {
        s = statSync(path.join(root, full))
      } catch {
        // A broken or unreadable link is neither.
      }
      // A link to a directory is followed, as Django follows it, unless it
      // leads back into the walk's own path (`static/x -> ..`): that is a
      // loop, listing every file again one level deeper until the kernel
      // gives up (40 links), and two such links listed 2^40 names.
      isDir = !!s?.isDirectory() && !linksToAncestor(root, full)
      isFileEntry = !!s?.isFile()
    }
    if (isDir) dirs.push(full)
    else if (isFileEntry && !(rel && matchesPatterns(full, ignore))) out.push(full)
  }
  for (const d of dirs) walk(root, d, ignore, out)
}

/**
 * @returns whether the directory link `rel` (under `root`) resolves to the
 *   root or to one of the directories `rel` lies in: following it would walk
 *   a tree that is already being walked. Only asked for links, so a tree
 *   without directory links costs no extra call.
 */
function linksToAncestor(root: string, rel: string): boolean {
  let target: string
  try {
    target = realpathSync(path.join(root, rel))
  } catch {
    return true // It was a directory a moment ago: not followed rather than half-walked.
  }
  const parts = rel.split('/')
  for (let i = parts.length - 1; i >= 0; i--) {
    const ancestor = path.join(root, ...parts.slice(0, i))
    try {
      if (realpathSync(ancestor) === target) return true
    } catch {
      return true
    }
  }
  return false
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile()
  } catch {
    return false
  }
}

/**
 * Reads the root `package.json`'s `workspaces` (an array or `{ packages }`),
 * expands `*` segments, and returns each package's static folder.
 */
async function workspaceStaticDirs(root: string, folder: string): Promise<Location[]> {
  let manifest: { workspaces?: string[] | { packages?: string[] } }
  try {
    manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'))
  } catch {
    return []
  }
  const patterns = Array.isArray(manifest.workspaces) ? manifest.workspaces : (manifest.workspaces?.packages ?? [])
  const seen = new Set<string>()
  const out: Location[] = []
  for (const pattern of patterns) {
    for (const dir of await expand(
      root,
      pattern.split('/').filter((s) => s && s !== '.'),
    )) {
      if (seen.has(dir)) continue
      seen.add(dir)
      const staticDir = path.join(dir, folder)
      if ((await stat(staticDir).catch(() => null))?.isDirectory()) {
        out.push({ prefix: '', root: staticDir, origin: path.relative(root, staticDir) })
      }
    }
  }
  return out
}

async function expand(base: string, segments: string[]): Promise<string[]> {
  if (segments.length === 0) return [base]
  const [head, ...rest] = segments as [string, ...string[]]
  if (!head.includes('*')) return expand(path.join(base, head), rest)
  const entries = await readdir(base, { withFileTypes: true }).catch(() => [])
  const re = new RegExp(
    `^${head
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  )
  const matches = entries.filter((e) => e.isDirectory() && re.test(e.name) && !e.name.startsWith('.') && e.name !== 'node_modules')
  matches.sort((a, b) => (a.name < b.name ? -1 : 1))
  const out: string[] = []
  for (const m of matches) out.push(...(await expand(path.join(base, m.name), rest)))
  return out
}
