/**
 * Computes hashed names for a set of files and the rewritten content of
 * CSS/JS files, in dependency order: a file's hash is taken after its
 * references were rewritten, so a changed image changes the hash of the
 * stylesheet that points to it (and of the stylesheet importing that one).
 *
 * Pure (no I/O) and single-pass, where Django re-runs every file up to five
 * times. Cycles (`a.css` imports `b.css` which imports `a.css`) cannot have
 * content hashes that include each other, so every member of a cycle gets a
 * hash derived from the whole cycle's content: any change in it renames
 * every member, which is what cache-busting needs.
 */
import { isStorageError, StorageError } from '@stowage/core'
import { HASH_LENGTH, hashedName, hashIn, integrityOf, md5Hex } from './hashing.js'
import { adjustableKind, findReferences, resolveReference, rewriteReferences, type Reference } from './references.js'

/** A file to post-process. */
export interface PostProcessInput {
  /** MD5 (hex) of the original content. */
  md5: string
  /** The original bytes; needed for CSS/JS files only (or `load`). */
  bytes?: Uint8Array
  /**
   * Reads the original bytes (again), for CSS/JS files given without
   * `bytes`: planning reads each such file when it scans it and when it
   * rewrites it, and keeps no more than `retainBytes` of text in between.
   * Synchronous, because the planning loop is: static sources are local
   * files, read from the page cache.
   */
  load?: () => Uint8Array
  /** Subresource Integrity of the original content (`sha384-…`), passed on for files that are not rewritten. */
  integrity?: string
}

/** A post-processed file. */
export interface PostProcessedFile {
  name: string
  hashedName: string
  /** The 12 hex characters in `hashedName`. */
  hash: string
  /** MD5 (hex) of what gets stored under `hashedName`. */
  md5: string
  /** The rewritten content, when it differs from the original and was kept (`retainBytes`); else `plan.content(name)` makes it again. */
  content?: Buffer
  /** The hashed copy's content differs from the original (references were rewritten). */
  rewritten: boolean
  /** Subresource Integrity (`sha384-…`) of what gets stored under `hashedName`, when known. */
  integrity?: string
}

/** A reference that could not be resolved. */
export interface ReferenceProblem {
  /** The file holding the reference. */
  file: string
  line: number
  url: string
  /** The static name it resolved to. */
  target: string
  message: string
  /** What kind of reference it is (`sourcemap` for a `sourceMappingURL` comment). */
  kind?: Reference['kind']
}

/** What `postProcess` returns. */
export interface PostProcessPlan {
  files: Map<string, PostProcessedFile>
  /** Broken references: the run should fail (or warn, when lenient). */
  problems: ReferenceProblem[]
  /** `sourceMappingURL` comments to missing maps, dropped from the hashed copies (`missingSourcemaps: 'drop'`). */
  warnings: ReferenceProblem[]
  /** Groups of files that reference each other in a cycle. */
  cycles: string[][]
  /** For every CSS/JS file scanned, the static names its references resolve to (found or not), sorted. */
  references: Map<string, string[]>
  /**
   * @returns the bytes to store under the hashed name of `name` when they
   *   differ from the original (`undefined` otherwise): kept ones, or made
   *   again from the source with the plan's hashes.
   * @throws StorageError (`ECHANGED`) when the source changed since it was planned.
   */
  content(name: string): Buffer | undefined
  /**
   * Forgets the bytes the plan keeps for `name` (its rewritten content and
   * original), once its hashed copy is stored, so a long run does not hold
   * them to the end. A later `content(name)` makes them again with `load`;
   * an input given with `bytes` and no `load` keeps them, as it cannot.
   */
  release(name: string): void
}

interface Node {
  name: string
  /** The plan's own copy of the input's fields (`release` forgets `bytes`), so the caller's inputs are not kept. */
  input: Pick<PostProcessInput, 'md5' | 'bytes' | 'load'>
  /** The decoded original while it is kept (within `retainBytes`, until its component is planned). */
  text: string | undefined
  /** Whether the rewritten content is kept in the plan. */
  keep: boolean
  /** Resolved references, and source map comments to drop (`drop`). */
  refs: Array<{ ref: Reference; target?: string; drop?: boolean }>
  deps: Set<string>
}

/** Options for `postProcess`. */
export interface PostProcessOptions {
  /** The public static URL (`/static/`), so root-absolute references under it resolve. */
  staticUrl?: string
  /**
   * What to do with a `sourceMappingURL` to a map that is not there (vendored
   * libraries often ship without theirs): `'drop'` (default) removes the
   * comment from the hashed copy, so browsers do not ask for a 404, and lists
   * it in `warnings`; `'error'` lists it in `problems` like any other broken reference.
   */
  missingSourcemaps?: 'drop' | 'error'
  /**
   * How many bytes of CSS/JS the plan keeps in memory (decoded originals
   * while planning, rewritten contents after); the rest are read again with
   * `load` when needed. Default: no limit.
   */
  retainBytes?: number
  /**
   * Files an earlier plan made that this one builds on without taking them
   * as inputs: a reference to one resolves to the hashed name this returns
   * for it (`undefined`: no such file). They are neither read nor scanned,
   * and not in the plan's `files`. `collectstatic` passes the sources a
   * change does not reach, so planning a re-run costs what changed, not
   * an input and a planned file per source of the tree.
   */
  earlier?: (name: string) => string | undefined
}

/**
 * Plans the hashed names and rewritten contents for `inputs`.
 * @returns the plan; reference problems are collected, never thrown.
 * @throws StorageError (`ECHANGED`) when a source read again with `load` is not what was hashed.
 * @throws TypeError when `earlier` gives a name that is not a hashed name of the file asked for.
 */
export function postProcess(inputs: ReadonlyMap<string, PostProcessInput>, options: PostProcessOptions = {}): PostProcessPlan {
  const files = new Map<string, PostProcessedFile>()
  const problems: ReferenceProblem[] = []
  const warnings: ReferenceProblem[] = []
  const dropMaps = (options.missingSourcemaps ?? 'drop') === 'drop'
  const nodes = new Map<string, Node>()
  const retain = options.retainBytes ?? Infinity
  let kept = 0

  const references = new Map<string, string[]>()
  for (const [name, input] of inputs) {
    const kind = adjustableKind(name)
    const bytes = kind ? originalBytes(name, input) : undefined
    if (kind && bytes) {
      let content: string
      try {
        content = decode(bytes)
      } catch {
        problems.push({ file: name, line: 0, url: '', target: '', message: `${name} is not valid UTF-8; its references were not rewritten` })
        files.set(name, plain(name, input))
        continue
      }
      let found: Reference[]
      try {
        found = findReferences(kind, content)
      } catch (err) {
        // A script the lexer cannot read: its references cannot be told from its text, so it is copied as it is.
        if (!isStorageError(err, 'ESYNTAX')) throw err
        const line = Number(err.context.line) || 0
        problems.push({ file: name, line, url: '', target: '', message: `${name}:${line}: ${err.message}; its references were not rewritten` })
        files.set(name, plain(name, input))
        continue
      }
      // Twice its size: the original while planning, the rewritten copy after.
      const keep = kept + 2 * bytes.byteLength <= retain
      if (keep) kept += 2 * bytes.byteLength
      const node: Node = {
        name,
        input: { md5: input.md5, bytes: input.bytes, load: input.load },
        text: keep ? content : undefined,
        keep,
        refs: [],
        deps: new Set(),
      }
      // Targets not found: a later run that adds one must plan this file again.
      const missing: string[] = []
      for (const ref of found) {
        const res = resolveReference(name, ref, options.staticUrl)
        if (res.type === 'ignore') continue
        if (res.type === 'outside' || !(inputs.has(res.target) || options.earlier?.(res.target) !== undefined)) {
          if (res.type !== 'outside') missing.push(res.target)
          const where = res.type === 'outside' ? 'a path outside the static root' : `'${res.target}', which was not found`
          const problem = {
            file: name,
            line: ref.line,
            url: ref.url,
            target: res.target,
            kind: ref.kind,
            message: `${name}:${ref.line}: '${ref.url}' points to ${where}`,
          }
          if (ref.kind === 'sourcemap' && dropMaps) {
            warnings.push({ ...problem, message: `${problem.message}; the sourceMappingURL comment was dropped from the hashed copy` })
            node.refs.push({ ref, drop: true })
          } else {
            problems.push(problem)
          }
          continue
        }
        node.refs.push({ ref, target: res.target })
        if (isAdjustable(inputs, res.target)) node.deps.add(res.target)
      }
      nodes.set(name, node)
      references.set(name, [...new Set(node.refs.flatMap((r) => (r.target ? [r.target] : [])).concat(missing))].sort())
    } else {
      files.set(name, plain(name, input))
    }
  }

  const hashOf = (target: string): string | undefined => files.get(target)?.hash ?? earlierHash(target, options.earlier)
  const cycles: string[][] = []
  for (const scc of stronglyConnected(nodes)) {
    const cyclic = scc.length > 1 || nodes.get(scc[0]!)!.deps.has(scc[0]!)
    if (!cyclic) {
      const node = nodes.get(scc[0]!)!
      files.set(
        node.name,
        finish(node, (t) => hashOf(t)),
      )
      node.text = undefined
      continue
    }
    const members = [...scc].sort()
    cycles.push(members)
    const inCycle = new Set(members)
    // Hash of each member with only its outside references rewritten: stable inputs.
    const partial = members.map((m) => `${m}\0${md5Hex(rewriteNode(nodes.get(m)!, (t) => (inCycle.has(t) ? undefined : hashOf(t))))}`)
    const group = md5Hex(partial.join('\n'))
    const memberHash = new Map(members.map((m) => [m, md5Hex(`${group}\0${m}`).slice(0, HASH_LENGTH)]))
    for (const m of members) {
      const node = nodes.get(m)!
      const h = memberHash.get(m)!
      files.set(m, { ...finish(node, (t) => memberHash.get(t) ?? hashOf(t)), hashedName: hashedName(m, h), hash: h })
    }
    for (const m of members) nodes.get(m)!.text = undefined
  }
  const content = (name: string): Buffer | undefined => {
    const f = files.get(name)
    if (!f?.rewritten) return undefined
    if (f.content) return f.content
    // Only a scanned file (a node) is ever rewritten.
    const bytes = Buffer.from(rewriteNode(nodes.get(name)!, hashOf), 'utf8')
    if (md5Hex(bytes) !== f.md5) throw changed(name)
    return bytes
  }
  const release = (name: string): void => {
    const node = nodes.get(name)
    if (!node?.input.load) return
    node.input.bytes = undefined
    const f = files.get(name)
    if (f?.content) f.content = undefined
  }
  return { files, problems, warnings, cycles, references, content, release }
}

/**
 * Whether the file `name` is CSS/JS the plan reads (its bytes or `load` given).
 * Not a closure in `postProcess`: the plan's closures would keep `inputs`,
 * and with it every input's bytes, alive as long as the plan.
 */
function isAdjustable(inputs: ReadonlyMap<string, PostProcessInput>, name: string): boolean {
  const input = inputs.get(name)
  return !!input && !!adjustableKind(name) && !!(input.bytes ?? input.load)
}

/** The hash in the hashed name `earlier` gives for `name`, if any. @throws TypeError when that name is not a hashed name of `name`. */
function earlierHash(name: string, earlier: PostProcessOptions['earlier']): string | undefined {
  const hashed = earlier?.(name)
  if (hashed === undefined) return undefined
  const hash = hashIn(name, hashed)
  if (hash === undefined) throw new TypeError(`planned name '${hashed}' is not a hashed name of '${name}'`)
  return hash
}

const decoder = new TextDecoder('utf-8', { fatal: true })
const decode = (bytes: Uint8Array) => decoder.decode(bytes)

/** @returns the original bytes of an input: given, or read with `load` and checked against its MD5. */
function originalBytes(name: string, input: PostProcessInput): Uint8Array | undefined {
  if (input.bytes) return input.bytes
  if (!input.load) return undefined
  const bytes = input.load()
  if (md5Hex(bytes) !== input.md5) throw changed(name)
  return bytes
}

function changed(name: string): StorageError {
  return new StorageError(`'${name}' changed while static files were being collected; run collectstatic again`, { code: 'ECHANGED', context: { name } })
}

/** @returns the node's original text: kept, or read again. */
function nodeText(node: Node): string {
  return node.text ?? decode(originalBytes(node.name, node.input)!)
}

function plain(name: string, input: PostProcessInput): PostProcessedFile {
  return { name, hashedName: hashedName(name, input.md5), hash: input.md5.slice(0, HASH_LENGTH), md5: input.md5, integrity: input.integrity, rewritten: false }
}

/** The node's content with each reference's target hashed by `hashOf` (or left alone when it gives `undefined`). */
function rewriteNode(node: Node, hashOf: (target: string) => string | undefined): string {
  const byRef = new Map(node.refs.map((r) => [r.ref, r]))
  return rewriteReferences(
    nodeText(node),
    node.refs.map((r) => r.ref),
    (ref) => {
      const r = byRef.get(ref)!
      if (r.drop) return null
      return r.target ? hashOf(r.target) : undefined
    },
  )
}

function finish(node: Node, hashOf: (target: string) => string | undefined): PostProcessedFile {
  const original = nodeText(node)
  node.text = original // for the rewrite below and, in a cycle, the other members' plans
  const text = rewriteNode(node, hashOf)
  const content = Buffer.from(text, 'utf8')
  const md5 = md5Hex(content)
  const rewritten = text !== original
  return {
    name: node.name,
    hashedName: hashedName(node.name, md5),
    hash: md5.slice(0, HASH_LENGTH),
    md5,
    rewritten,
    // Always present (undefined when not kept): a conditional spread gives each file a hidden class of its own.
    content: rewritten && node.keep ? content : undefined,
    integrity: integrityOf(content),
  }
}

/**
 * Tarjan's algorithm, iterative so deep import chains cannot overflow the
 * stack. @returns components with dependencies before dependants.
 */
function stronglyConnected(nodes: Map<string, Node>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: string[] = []
  const out: string[][] = []
  for (const start of [...nodes.keys()].sort()) {
    if (idx.has(start)) continue
    const work: Array<{ v: string; it: Iterator<string> }> = []
    const visit = (v: string) => {
      idx.set(v, index)
      low.set(v, index++)
      stack.push(v)
      onStack.add(v)
      work.push({ v, it: [...nodes.get(v)!.deps].sort()[Symbol.iterator]() })
    }
    visit(start)
    while (work.length) {
      const top = work[work.length - 1]!
      const next = top.it.next()
      if (!next.done) {
        const w = next.value
        if (!idx.has(w)) visit(w)
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, idx.get(w)!))
        continue
      }
      work.pop()
      if (work.length) {
        const parent = work[work.length - 1]!.v
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!))
      }
      if (low.get(top.v) === idx.get(top.v)) {
        const scc: string[] = []
        let w: string
        do {
          w = stack.pop()!
          onStack.delete(w)
          scc.push(w)
        } while (w !== top.v)
        out.push(scc)
      }
    }
  }
  return out
}
