/**
 * Finds and rewrites the references one static file makes to others, for
 * `ManifestStaticStorage`: in CSS `url(...)` (any quoting), `@import` and
 * `sourceMappingURL`; in JS modules static `import`/`export ... from`,
 * side-effect `import '...'`, dynamic `import('...')` with a literal, and
 * `sourceMappingURL`, and `new URL('...', import.meta.url)`. Unlike Django's regular expressions we skip anything
 * inside comments and string literals, so a commented-out `url()` neither
 * gets rewritten nor fails the build.
 */
import { posix } from 'node:path'
import { hashedName } from './hashing.js'

/** A reference found in a file: where the URL text is, and on which line. */
export interface Reference {
  /** The URL exactly as written (without quotes). */
  url: string
  /** Offset of the URL text in the file's content. */
  start: number
  end: number
  /** 1-based line of the reference. */
  line: number
  kind: 'url' | 'import' | 'sourcemap' | 'module' | 'dynamic-import'
  /** For a `sourcemap` reference: the whole comment, so it can be dropped. */
  statement?: { start: number; end: number }
}

/** Which kind of file a name is, for reference scanning. */
export type AdjustableKind = 'css' | 'js'

/** @returns `'css'`/`'js'` for files whose references we rewrite, else `null`. */
export function adjustableKind(name: string): AdjustableKind | null {
  const lower = name.toLowerCase()
  if (lower.endsWith('.css')) return 'css'
  if (lower.endsWith('.js') || lower.endsWith('.mjs')) return 'js'
  return null
}

const CSS_URL = /\burl\(\s*(?:"([^"\n]*)"|'([^'\n]*)'|([^"'()\s]*))\s*\)/dgi
const CSS_IMPORT = /@import\s*(?:"([^"\n]*)"|'([^'\n]*)')/dgi
const CSS_SOURCEMAP = /^\/\*[#@][ \t]sourceMappingURL=([^\s*]+)[ \t]*\*\/[ \t]*$/dgm
const JS_SOURCEMAP = /^\/\/[#@][ \t]sourceMappingURL=(\S+)[ \t]*$/dgm
// `import x from`, `import {a,\n b} from`, `import * as ns from`, `export * from`, `export {a} from`.
const JS_FROM = /\b(?:import|export)\b(?:\s*[\w$]+\s*,?)?\s*(?:\*\s*(?:as\s+[\w$]+\s*)?|\{[^{}]*\}\s*)?(?<=[\s}*])from\s*(?:"([^"\n]*)"|'([^'\n]*)')/dg
const JS_SIDE_EFFECT = /\bimport\s*(?:"([^"\n]*)"|'([^'\n]*)')/dg
const JS_META_URL = /\bnew\s+URL\(\s*(?:"([^"\n]*)"|'([^'\n]*)')\s*,\s*import\.meta\.url\s*\)/dg
const JS_DYNAMIC = /\bimport\(\s*(?:"([^"\n]*)"|'([^'\n]*)'|`([^`$\n]*)`)\s*\)/dg

/**
 * @returns every reference in `content`, in file order. Matches starting
 * inside a comment or string are ignored (source maps excepted: they live in
 * a comment).
 */
export function findReferences(kind: AdjustableKind, content: string): Reference[] {
  const skipped = kind === 'css' ? scanCss(content) : scanJs(content)
  const lines = lineStarts(content)
  const refs: Reference[] = []
  const add = (re: RegExp, refKind: Reference['kind'], filter: boolean) => {
    re.lastIndex = 0
    for (let m = re.exec(content); m; m = re.exec(content)) {
      if (filter && inRanges(skipped, m.index)) continue
      const group = [1, 2, 3].find((g) => m![g] !== undefined)
      if (group === undefined) continue
      const [start, end] = m.indices![group]!
      const ref: Reference = { url: m[group]!, start, end, line: lineOf(lines, m.index), kind: refKind }
      if (refKind === 'sourcemap') ref.statement = { start: m.index, end: m.index + m[0].length }
      refs.push(ref)
    }
  }
  if (kind === 'css') {
    add(CSS_URL, 'url', true)
    add(CSS_IMPORT, 'import', true)
    add(CSS_SOURCEMAP, 'sourcemap', false)
  } else {
    add(JS_FROM, 'module', true)
    add(JS_SIDE_EFFECT, 'module', true)
    add(JS_DYNAMIC, 'dynamic-import', true)
    add(JS_META_URL, 'dynamic-import', true)
    add(JS_SOURCEMAP, 'sourcemap', false)
  }
  refs.sort((a, b) => a.start - b.start)
  // Two patterns can match the same text (`import '...'` is also matched as a side effect); keep one.
  return refs.filter((r, i) => i === 0 || r.start !== refs[i - 1]!.start)
}

/** Where a reference points. */
export type Resolution =
  /** Not a static file reference (data: URI, absolute URL, fragment only, bare module specifier). */
  | { type: 'ignore' }
  /** A static file: `target` is its logical name. */
  | { type: 'file'; target: string }
  /** Points above the static root. */
  | { type: 'outside'; target: string }

/**
 * Resolves `url`, found in the file `from`, to a logical static name, as
 * Django's `url_converter` does: scheme URLs and protocol-relative ones are
 * left alone, root-absolute URLs only count under `staticUrl`, query strings
 * and fragments are not part of the name.
 */
export function resolveReference(from: string, ref: Pick<Reference, 'url' | 'kind'>, staticUrl?: string): Resolution {
  const url = ref.url.trim()
  if (!url || /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) return { type: 'ignore' }
  // JS module specifiers that are not paths are resolved by an import map or bundler, not by us.
  if ((ref.kind === 'module' || ref.kind === 'dynamic-import') && !/^\.{0,2}\//.test(url)) return { type: 'ignore' }
  const path = url.replace(/[?#].*$/s, '')
  if (!path || path.endsWith('/')) return { type: 'ignore' }
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    decoded = path
  }
  let target: string
  if (decoded.startsWith('/')) {
    const base = staticUrl ? urlPath(staticUrl) : undefined
    if (!base || !decoded.startsWith(base)) return { type: 'ignore' }
    target = posix.normalize(decoded.slice(base.length))
  } else {
    target = posix.normalize(posix.join(posix.dirname(from), decoded))
  }
  if (target === '..' || target.startsWith('../') || target.startsWith('/')) return { type: 'outside', target }
  return { type: 'file', target }
}

/**
 * Rewrites references in `content`.
 * @param hashOf returns the 12-hex hash to put in a reference's file name,
 *   `undefined` to leave the reference as it is, or `null` to drop the
 *   statement holding it (a `sourceMappingURL` comment; other references are left as they are).
 * @returns the new content (the same string when nothing changed).
 */
export function rewriteReferences(content: string, refs: readonly Reference[], hashOf: (ref: Reference) => string | null | undefined): string {
  let out = ''
  let last = 0
  let changed = false
  for (const ref of refs) {
    const hash = hashOf(ref)
    if (hash === undefined || (hash === null && !ref.statement)) continue
    if (hash === null) {
      out += content.slice(last, ref.statement!.start)
      last = ref.statement!.end
    } else {
      out += content.slice(last, ref.start) + hashUrl(ref.url, hash)
      last = ref.end
    }
    changed = true
  }
  return changed ? out + content.slice(last) : content
}

/** `../img/a%20b.png?v=2#x` + hash → `../img/a%20b.<hash>.png?v=2#x`: the written form is kept. */
export function hashUrl(url: string, hash: string): string {
  const cut = url.search(/[?#]/)
  const path = cut < 0 ? url : url.slice(0, cut)
  const suffix = cut < 0 ? '' : url.slice(cut)
  return hashedName(path, hash) + suffix
}

function urlPath(staticUrl: string): string {
  const p = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.test(staticUrl) ? staticUrl.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') : staticUrl
  return p.endsWith('/') ? p : `${p}/`
}

type Range = [start: number, end: number]

function inRanges(ranges: Range[], pos: number): boolean {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const [s, e] = ranges[mid]!
    if (pos < s) hi = mid - 1
    else if (pos >= e) lo = mid + 1
    else return true
  }
  return false
}

function lineStarts(s: string): number[] {
  const starts = [0]
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) starts.push(i + 1)
  return starts
}

function lineOf(starts: number[], pos: number): number {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= pos) lo = mid
    else hi = mid - 1
  }
  return lo + 1
}

function skipString(s: string, i: number, quote: string): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]
    if (c === '\\') j++
    else if (c === quote) return j + 1
    else if (c === '\n' && quote !== '`') return j
  }
  return s.length
}

/** Comment and string ranges of a stylesheet. */
function scanCss(s: string): Range[] {
  const ranges: Range[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '/' && s[i + 1] === '*') {
      const end = s.indexOf('*/', i + 2)
      const stop = end < 0 ? s.length : end + 2
      ranges.push([i, stop])
      i = stop - 1
    } else if (c === '"' || c === "'") {
      const stop = skipString(s, i, c)
      ranges.push([i, stop])
      i = stop - 1
    } else if ((c === 'u' || c === 'U') && /^url\(/i.test(s.slice(i, i + 4))) {
      // An unquoted url() may contain `//` or quotes-free text that is not a comment.
      const close = s.indexOf(')', i)
      if (close > 0 && !/["']/.test(s.slice(i + 4, close).trim()[0] ?? '')) i = close
    }
  }
  return ranges
}

const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'instanceof'])

/**
 * Comment, string, template and regex-literal ranges of a script. Template
 * literals are treated as one string (their `${}` parts are not scanned): a
 * module path never sits inside one.
 */
function scanJs(s: string): Range[] {
  const ranges: Range[] = []
  let prev = '' // last significant character, to tell a regex from a division
  let word = ''
  let wordStart = -1
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code === 0x2f /* / */) {
      const next = s.charCodeAt(i + 1)
      if (next === 0x2f || next === 0x2a) {
        const end = next === 0x2f ? s.indexOf('\n', i) : s.indexOf('*/', i + 2)
        const stop = end < 0 ? s.length : next === 0x2f ? end : end + 2
        ranges.push([i, stop])
        i = stop - 1
        continue
      }
      if (prev === '' || REGEX_BEFORE.includes(prev) || (wordStart >= 0 && REGEX_AFTER_WORD.has(word))) {
        let inClass = false
        let j = i + 1
        for (; j < s.length && s[j] !== '\n'; j++) {
          const d = s[j]
          if (d === '\\') j++
          else if (d === '[') inClass = true
          else if (d === ']') inClass = false
          else if (d === '/' && !inClass) break
        }
        ranges.push([i, j + 1])
        i = j
        prev = '/'
        wordStart = -1
        continue
      }
    }
    if (code === 0x22 || code === 0x27 || code === 0x60) {
      const stop = skipString(s, i, s[i]!)
      ranges.push([i, stop])
      i = stop - 1
      prev = s[i]!
      wordStart = -1
      continue
    }
    if (code <= 0x20 || code === 0xa0) continue
    if (isWordChar(code)) {
      // Scan the whole identifier at once: only whole words matter (`return /re/`).
      let j = i + 1
      while (j < s.length && isWordChar(s.charCodeAt(j))) j++
      word = s.slice(i, j)
      wordStart = i
      prev = s[j - 1]!
      i = j - 1
      continue
    }
    wordStart = -1
    prev = s[i]!
  }
  return ranges
}

const REGEX_BEFORE = '(,=:[!&|?{};+-*%<>~^'

function isWordChar(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f || code === 0x24 || code > 0x7f
}
