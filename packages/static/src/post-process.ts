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
import { HASH_LENGTH, hashedName, md5Hex } from './hashing.js'
import { adjustableKind, findReferences, resolveReference, rewriteReferences, type Reference } from './references.js'

/** A file to post-process. */
export interface PostProcessInput {
  /** MD5 (hex) of the original content. */
  md5: string
  /** The original bytes; needed for CSS/JS files only. */
  bytes?: Uint8Array
}

/** A post-processed file. */
export interface PostProcessedFile {
  name: string
  hashedName: string
  /** The 12 hex characters in `hashedName`. */
  hash: string
  /** MD5 (hex) of what gets stored under `hashedName`. */
  md5: string
  /** The rewritten content, when it differs from the original. */
  content?: Buffer
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
}

/** What `postProcess` returns. */
export interface PostProcessPlan {
  files: Map<string, PostProcessedFile>
  problems: ReferenceProblem[]
  /** Groups of files that reference each other in a cycle. */
  cycles: string[][]
}

interface Node {
  name: string
  content: string
  refs: Array<{ ref: Reference; target?: string }>
  deps: Set<string>
}

/**
 * Plans the hashed names and rewritten contents for `inputs`.
 * @param staticUrl the public static URL (`/static/`), so root-absolute references under it resolve.
 * @returns the plan; problems are collected, never thrown.
 */
export function postProcess(inputs: ReadonlyMap<string, PostProcessInput>, options: { staticUrl?: string } = {}): PostProcessPlan {
  const files = new Map<string, PostProcessedFile>()
  const problems: ReferenceProblem[] = []
  const nodes = new Map<string, Node>()
  const decoder = new TextDecoder('utf-8', { fatal: true })

  for (const [name, input] of inputs) {
    const kind = adjustableKind(name)
    if (kind && input.bytes) {
      let content: string
      try {
        content = decoder.decode(input.bytes)
      } catch {
        problems.push({ file: name, line: 0, url: '', target: '', message: `${name} is not valid UTF-8; its references were not rewritten` })
        files.set(name, plain(name, input.md5))
        continue
      }
      const node: Node = { name, content, refs: [], deps: new Set() }
      for (const ref of findReferences(kind, content)) {
        const res = resolveReference(name, ref, options.staticUrl)
        if (res.type === 'ignore') continue
        if (res.type === 'outside' || !inputs.has(res.target)) {
          problems.push({
            file: name,
            line: ref.line,
            url: ref.url,
            target: res.target,
            message: `${name}:${ref.line}: '${ref.url}' points to ${res.type === 'outside' ? 'a path outside the static root' : `'${res.target}', which was not found`}`,
          })
          continue
        }
        node.refs.push({ ref, target: res.target })
        if (adjustableKind(res.target) && inputs.get(res.target)?.bytes) node.deps.add(res.target)
      }
      nodes.set(name, node)
    } else {
      files.set(name, plain(name, input.md5))
    }
  }

  const hashOf = (target: string): string | undefined => files.get(target)?.hash
  const cycles: string[][] = []
  for (const scc of stronglyConnected(nodes)) {
    const cyclic = scc.length > 1 || nodes.get(scc[0]!)!.deps.has(scc[0]!)
    if (!cyclic) {
      const node = nodes.get(scc[0]!)!
      files.set(node.name, finish(node, (t) => hashOf(t)))
      continue
    }
    const members = [...scc].sort()
    cycles.push(members)
    const inCycle = new Set(members)
    // Hash of each member with only its outside references rewritten: stable inputs.
    const partial = members.map((m) => {
      const node = nodes.get(m)!
      const text = rewriteReferences(node.content, refsOf(node), (r) => {
        const t = targetOf(node, r)
        return t && !inCycle.has(t) ? hashOf(t) : undefined
      })
      return `${m}\0${md5Hex(text)}`
    })
    const group = md5Hex(partial.join('\n'))
    const memberHash = new Map(members.map((m) => [m, md5Hex(`${group}\0${m}`).slice(0, HASH_LENGTH)]))
    for (const m of members) {
      const node = nodes.get(m)!
      const h = memberHash.get(m)!
      files.set(m, { ...finish(node, (t) => memberHash.get(t) ?? hashOf(t)), hashedName: hashedName(m, h), hash: h })
    }
  }
  return { files, problems, cycles }
}

function plain(name: string, md5: string): PostProcessedFile {
  return { name, hashedName: hashedName(name, md5), hash: md5.slice(0, HASH_LENGTH), md5 }
}

function refsOf(node: Node): Reference[] {
  return node.refs.map((r) => r.ref)
}

function targetOf(node: Node, ref: Reference): string | undefined {
  return node.refs.find((r) => r.ref === ref)?.target
}

function finish(node: Node, hashOf: (target: string) => string | undefined): PostProcessedFile {
  const targets = new Map(node.refs.map((r) => [r.ref, r.target]))
  const text = rewriteReferences(node.content, refsOf(node), (r) => {
    const t = targets.get(r)
    return t ? hashOf(t) : undefined
  })
  const content = Buffer.from(text, 'utf8')
  const md5 = md5Hex(content)
  return { name: node.name, hashedName: hashedName(node.name, md5), hash: md5.slice(0, HASH_LENGTH), md5, content: text === node.content ? undefined : content }
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
