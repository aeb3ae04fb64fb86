/**
 * Finds and rewrites the references one static file makes to others, for
 * `ManifestStaticStorage`: in CSS `url(...)` (any quoting), `@import` and
 * `sourceMappingURL`; in JS modules static `import`/`export ... from`,
 * side-effect `import '...'`, dynamic `import('...')` with a literal,
 * `new URL('...', import.meta.url)` and `sourceMappingURL`.
 *
 * Django finds these with regular expressions over the whole text, which
 * also match inside comments and strings (a commented-out `url()` gets
 * rewritten, or fails the build). We read the files with real lexers
 * instead, so only real syntax counts: CSS with css-tree's tokenizer (CSS
 * Syntax Level 3, the browsers' own tokenization), JS with es-module-lexer
 * (the WASM import lexer Vite uses) and, only where a file has an
 * `import.meta` or a `sourceMappingURL` to place, acorn's tokenizer for the
 * tokens around it and for comments.
 */
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- css-tree ships no types: its declaration is an ambient one, which a program compiling these sources (the README snippets type-check) must be pointed to
/// <reference path="./css-tree-tokenizer.d.ts" />
import { createRequire } from 'node:module'
import { posix } from 'node:path'
import { StorageError } from '@stowage/core'
import type * as Acorn from 'acorn'
import type * as CssTokenizer from 'css-tree/tokenizer'
import type * as ModuleLexer from 'es-module-lexer'
import { hashedName } from './hashing.js'

// The lexers load on the first stylesheet or script a process reads, not
// with @stowage/static: an application that imports it for `static()` or
// `serveStatic`, and a plain collect, never lex anything, and the three
// cost about 30 ms of start-up. Each ships a CommonJS build, so a
// synchronous require keeps planning synchronous.
const requireLexer = createRequire(import.meta.url)
let cssLexer: typeof CssTokenizer | undefined
let jsLexer: typeof Acorn | undefined
let moduleLexer: typeof ModuleLexer | undefined
const css = () => (cssLexer ??= requireLexer('css-tree/tokenizer') as typeof CssTokenizer)
const acorn = () => (jsLexer ??= requireLexer('acorn') as typeof Acorn)
function esModuleLexer(): typeof ModuleLexer {
  if (!moduleLexer) {
    const lexer = requireLexer('es-module-lexer') as typeof ModuleLexer
    // Compiles the lexer's small WASM module once, synchronously (planning is synchronous).
    lexer.initSync()
    moduleLexer = lexer
  }
  return moduleLexer
}

/** A reference found in a file: where the URL text is, and on which line. */
export interface Reference {
  /** The URL exactly as written (without quotes). */
  url: string
  /** Offset of the URL text in the file's content. */
  start: number
  end: number
  /** 1-based line where the reference starts (its `url(`, `@import`, `import`/`export`, `new URL` or comment). */
  line: number
  /**
   * `url`: a CSS `url()` (in `@import url()` too); `import`: a CSS `@import "..."`;
   * `sourcemap`: a `sourceMappingURL` comment; `module`: a static JS `import` or
   * `export ... from`; `dynamic-import`: `import('...')` or `new URL('...', import.meta.url)`.
   */
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

/**
 * @returns every reference in `content`, in file order. Text inside
 * comments, strings, template literals and regular expressions is not a
 * reference (a `sourceMappingURL` comment excepted: it is one).
 * @throws StorageError (`ESYNTAX`, `context.line`/`context.offset`) when a
 *   script cannot be lexed (an unterminated string or template, unbalanced
 *   braces): its references cannot be told from its text. Stylesheets
 *   always tokenize (CSS recovers from every error), so CSS never throws.
 */
export function findReferences(kind: AdjustableKind, content: string): Reference[] {
  const found = kind === 'css' ? findCss(content) : findJs(content)
  const lines = new LineCounter(content)
  return found.map(({ url, start, end, kind: refKind, statement, at }) => {
    const ref: Reference = { url: detached(url), start, end, line: lines.lineOf(at), kind: refKind }
    if (statement) ref.statement = statement
    return ref
  })
}

/**
 * A copy of `s` that does not hold on to the string it was cut from. V8 makes
 * a slice of 13 characters or more a view into its parent, so each URL kept
 * in a plan or run record would keep a whole stylesheet or script alive: at
 * 20,000 files that was 30 MB of source text held until the run ended.
 * Concatenating makes a new string; slicing it copies the characters.
 */
function detached(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1)
}

/** A reference before its line is known: `at` is where its statement starts (the line reported). */
type Found = Omit<Reference, 'line'> & { at: number }

function findCss(content: string): Found[] {
  const { tokenize, tokenTypes } = css()
  // The CSS tokens we act on (CSS Syntax Level 3 token types, as css-tree numbers them).
  const { AtKeyword, Comment, Function: FunctionToken, String: StringToken, Url, WhiteSpace } = tokenTypes
  const found: Found[] = []
  // After `url(` or `@import`, the string token that follows (past white space and comments) is the URL.
  let awaiting: 'url' | 'import' | undefined
  let awaitingAt = 0
  tokenize(content, (type, start, end) => {
    if (type === WhiteSpace) return
    if (type === Comment) {
      const map = sourceMapComment(content, start, end, true)
      if (map) found.push(map)
      return
    }
    if (awaiting && type === StringToken) {
      const quote = content[start]
      // An unterminated string (cut by a newline or the end of the file) is no URL.
      if (end - start >= 2 && content[end - 1] === quote)
        found.push({ url: content.slice(start + 1, end - 1), start: start + 1, end: end - 1, kind: awaiting, at: awaitingAt })
      awaiting = undefined
      return
    }
    awaiting = undefined
    if (type === Url) {
      // An unquoted `url( x )` is one token: the URL is what lies between the parentheses and their white space.
      let from = content.indexOf('(', start) + 1
      let to = content[end - 1] === ')' ? end - 1 : end
      while (from < to && isCssSpace(content.charCodeAt(from))) from++
      while (to > from && isCssSpace(content.charCodeAt(to - 1))) to--
      found.push({ url: content.slice(from, to), start: from, end: to, kind: 'url', at: start })
    } else if (type === FunctionToken && isWord(content, start, end - 1, 'url')) {
      awaiting = 'url'
      awaitingAt = start
    } else if (type === AtKeyword && isWord(content, start + 1, end, 'import')) {
      awaiting = 'import'
      awaitingAt = start
    }
  })
  return found
}

function findJs(content: string): Found[] {
  const { ImportType, parse: lexModule } = esModuleLexer()
  let imports: ReturnType<typeof lexModule>[0]
  let moduleSyntax: boolean
  try {
    ;[imports, , , moduleSyntax] = lexModule(content)
  } catch (err) {
    throw syntaxError(content, (err as { idx?: number }).idx ?? 0, err)
  }
  const found: Found[] = []
  const isModule = moduleSyntax || imports.some((imp) => imp.t === ImportType.ImportMeta)
  for (const imp of imports) {
    switch (imp.t) {
      case ImportType.Static:
      case ImportType.StaticSourcePhase:
      case ImportType.StaticDeferPhase:
        // The specifier without its quotes.
        found.push({ url: content.slice(imp.s, imp.e), start: imp.s, end: imp.e, kind: 'module', at: imp.ss })
        break
      case ImportType.Dynamic:
      case ImportType.DynamicSourcePhase:
      case ImportType.DynamicDeferPhase: {
        // The first argument, quotes included: only a lone string literal (or a template without substitutions) names a file.
        const quote = content[imp.s]
        const literal =
          imp.e - imp.s >= 2 &&
          content[imp.e - 1] === quote &&
          (((quote === '"' || quote === "'") && imp.n !== undefined) || (quote === '`' && !content.slice(imp.s, imp.e).includes('${')))
        if (literal) found.push({ url: content.slice(imp.s + 1, imp.e - 1), start: imp.s + 1, end: imp.e - 1, kind: 'dynamic-import', at: imp.ss })
        break
      }
      case ImportType.ImportMeta: {
        const ref = metaUrl(content, imp.ss)
        if (ref) found.push(ref)
        break
      }
    }
  }
  // Source map comments need more than the import lexer tells. A full tokenizer costs about six times as
  // much per byte (acorn: 55 ms for the 2 MB of scripts with a source map in a 2,000-file tree, against
  // 27 ms to lex all 6 MB of its scripts), so each comment is put to the lexer instead, and the file is
  // tokenized only when the lexer cannot tell or there are many comments to ask about.
  const candidates = sourceMapCandidates(content)
  const maps: Found[] = []
  const lexed = candidates.length <= MAX_PROBES && candidates.every((p) => probeComment(content, p, maps))
  found.push(...(lexed ? maps : sourceMapsByTokens(content, isModule)))
  return found.sort((a, b) => a.start - b.start)
}

/** Comments checked one at a time with the import lexer before the file is tokenized instead (each check lexes the text before it). */
const MAX_PROBES = 2

/**
 * Where a `//# sourceMappingURL=` or `/*# sourceMappingURL=` (or `@`) may
 * start a comment: a plain text search, so that a file without one costs
 * nothing more; whether each is a comment is the lexer's to say.
 */
function sourceMapCandidates(content: string): number[] {
  const at: number[] = []
  for (let i = content.indexOf(SOURCE_MAP_PREFIX); i >= 0; i = content.indexOf(SOURCE_MAP_PREFIX, i + 1)) {
    const p = i - 4
    const second = content[p + 1]
    const mark = content[p + 2]
    const gap = content[p + 3]
    if (p >= 0 && content[p] === '/' && (second === '/' || second === '*') && (mark === '#' || mark === '@') && (gap === ' ' || gap === '\t')) at.push(p)
  }
  return at
}

/**
 * Asks the import lexer whether the comment-like text at `p` is code level,
 * hence a comment: its state at `p` depends only on the text before, so it
 * lexes that text followed by ` import(0)` and sees whether it reports that
 * dynamic import (it does not inside a string, template, regular expression
 * or comment). Adds the comment's reference to `found` when it is a source map.
 * @returns false when the lexer cannot tell (the text before `p` does not
 *   lex on its own: `p` is inside a block or parentheses, or inside a
 *   literal left open), so the caller tokenizes the file instead.
 */
function probeComment(content: string, p: number, found: Found[]): boolean {
  const { ImportType, parse: lexModule } = esModuleLexer()
  let imports: ReturnType<typeof lexModule>[0]
  try {
    ;[imports] = lexModule(`${content.slice(0, p)} import(0)`)
  } catch {
    return false
  }
  const probe = imports.at(-1)
  if (!probe || probe.ss !== p + 1 || probe.t !== ImportType.Dynamic) return true
  const end = content[p + 1] === '*' ? blockCommentEnd(content, p) : lineCommentEnd(content, p)
  const map = sourceMapComment(content, p, end, false)
  if (map) found.push(map)
  return true
}

/** End of the block comment starting at `p` (its `*\/` included), or of the text when it is left open. */
function blockCommentEnd(content: string, p: number): number {
  const close = content.indexOf('*/', p + 2)
  return close < 0 ? content.length : close + 2
}

/** End of the line comment starting at `p`: the next line terminator (LF, CR, LS, PS) or the end of the text. */
function lineCommentEnd(content: string, p: number): number {
  for (let i = p + 2; i < content.length; i++) {
    const c = content.charCodeAt(i)
    if (c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029) return i
  }
  return content.length
}

/** `sourceMappingURL` comments, from acorn's comment tokens over the whole file. */
function sourceMapsByTokens(content: string, isModule: boolean): Found[] {
  const found: Found[] = []
  const { tokenizer: jsTokenizer, tokTypes } = acorn()
  try {
    const tokenizer = jsTokenizer(content, {
      ecmaVersion: 'latest',
      // A classic script may use what a module may not (legacy octal escapes, HTML-like comments).
      sourceType: isModule ? 'module' : 'script',
      onComment: (_block, _text, start, end) => {
        const map = sourceMapComment(content, start, end, false)
        if (map) found.push(map)
      },
    })
    while (tokenizer.getToken().type !== tokTypes.eof);
  } catch (err) {
    throw syntaxError(content, (err as { pos?: number }).pos ?? 0, err)
  }
  return found
}

/** How many `new`s before an `import.meta` are tried as the start of `new URL(...)` (the literal may hold the word). */
const MAX_NEW_TRIES = 8

/**
 * `new URL(<literal>, import.meta.url)` around the `import.meta` the lexer
 * found at `meta` (so in code): tokenizes from each `new` before it, nearest
 * first, and takes the first whose tokens are `new URL (` literal `,` and then
 * `import` exactly at `meta`, followed by `. meta . url )` (a trailing comma
 * allowed). The literal is a string or a template without substitutions. Only
 * those dozen tokens are read, not the file.
 */
function metaUrl(content: string, meta: number): Found | undefined {
  let q = meta
  for (let tries = 0; tries < MAX_NEW_TRIES; tries++) {
    q = content.lastIndexOf('new', q - 1)
    if (q < 0) return
    if (q > 0 && isIdentifierPart(content.charCodeAt(q - 1))) continue
    const ref = newUrlFrom(content, q, meta)
    if (ref) return ref
  }
}

type TokenType = (typeof Acorn.tokTypes)[keyof typeof Acorn.tokTypes]

function newUrlFrom(content: string, q: number, meta: number): Found | undefined {
  const { tokenizer: jsTokenizer, tokTypes } = acorn()
  const tokens: Acorn.Token[] = []
  try {
    const tokenizer = jsTokenizer(content.slice(q), { ecmaVersion: 'latest', sourceType: 'module' })
    // new URL ( 'x' , import . meta . url [,] ) or new URL ( ` x ` , ...: at most 13 tokens.
    for (let token = tokenizer.getToken(); tokens.length < 13 && token.type !== tokTypes.eof; token = tokenizer.getToken()) {
      tokens.push(token)
      if (token.type === tokTypes.parenR) break
    }
  } catch {
    return
  }
  let k = 0
  const next = (type: TokenType, text?: string) => {
    const token = tokens[k]
    if (!token || token.type !== type || (text !== undefined && content.slice(q + token.start, q + token.end) !== text)) return undefined
    k++
    return token
  }
  if (!next(tokTypes._new) || !next(tokTypes.name, 'URL') || !next(tokTypes.parenL)) return
  let from: number
  let to: number
  const string = next(tokTypes.string)
  if (string) {
    from = q + string.start + 1
    to = q + string.end - 1
  } else {
    const template = next(tokTypes.backQuote) && next(tokTypes.template)
    if (!template || !next(tokTypes.backQuote)) return
    from = q + template.start
    to = q + template.end
  }
  if (!next(tokTypes.comma) || tokens[k]?.start !== meta - q) return
  if (!next(tokTypes._import) || !next(tokTypes.dot) || !next(tokTypes.name, 'meta') || !next(tokTypes.dot) || !next(tokTypes.name, 'url')) return
  next(tokTypes.comma)
  if (!next(tokTypes.parenR)) return
  return { url: content.slice(from, to), start: from, end: to, kind: 'dynamic-import', at: q }
}

const SOURCE_MAP_PREFIX = 'sourceMappingURL='

/**
 * A `sourceMappingURL` reference when the comment at `start`..`end` (with
 * its delimiters) is `//# sourceMappingURL=<url>` or `/*# sourceMappingURL=<url> *\/`
 * (`@` for `#` too, the older form): one space or tab after the mark, a URL
 * without white space, nothing after it but spaces and tabs.
 * @param block whether only a block comment counts (CSS has no line comments).
 */
function sourceMapComment(content: string, start: number, end: number, block: boolean): Found | undefined {
  const isBlock = content[start + 1] === '*'
  if (block && !isBlock) return
  const mark = content[start + 2]
  const gap = content[start + 3]
  if ((mark !== '#' && mark !== '@') || (gap !== ' ' && gap !== '\t') || !content.startsWith(SOURCE_MAP_PREFIX, start + 4)) return
  const from = start + 4 + SOURCE_MAP_PREFIX.length
  let to = isBlock ? end - 2 : end
  // An unterminated block comment is not one to rewrite.
  if (isBlock && (to < from || content[to] !== '*')) return
  while (to > from && (content[to - 1] === ' ' || content[to - 1] === '\t')) to--
  if (to === from) return
  for (let k = from; k < to; k++) if (isJsSpace(content.charCodeAt(k))) return
  // The statement is the comment and the spaces after it on its line: dropping it leaves no trailing blanks.
  let stop = end
  while (content[stop] === ' ' || content[stop] === '\t') stop++
  return { url: content.slice(from, to), start: from, end: to, kind: 'sourcemap', statement: { start, end: stop }, at: start }
}

function syntaxError(content: string, offset: number, cause: unknown): StorageError {
  const line = new LineCounter(content).lineOf(offset)
  const why = cause instanceof Error ? cause.message : String(cause)
  return new StorageError(`not valid JavaScript at line ${line} (${why})`, { code: 'ESYNTAX', cause, context: { line, offset } })
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

/** 1-based line numbers of offsets, counting `\n`s forward from the last offset asked (offsets come in file order). */
class LineCounter {
  private pos = 0
  private line = 1
  constructor(private readonly text: string) {}

  lineOf(offset: number): number {
    if (offset < this.pos) {
      this.pos = 0
      this.line = 1
    }
    for (let i = this.text.indexOf('\n', this.pos); i >= 0 && i < offset; i = this.text.indexOf('\n', i + 1)) this.line++
    this.pos = offset
    return this.line
  }
}

/** Whether `text.slice(start, end)` is `word`, ASCII case-insensitively (CSS names are). */
function isWord(text: string, start: number, end: number, word: string): boolean {
  return end - start === word.length && text.slice(start, end).toLowerCase() === word
}

/** Whether `code` may continue a JS identifier (ASCII letters, digits, `_`, `$`, and anything non-ASCII, to be safe). */
function isIdentifierPart(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f || code === 0x24 || code > 0x7f
}

/** CSS white space: space, tab, line feed, carriage return, form feed. */
function isCssSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0x0c
}

/** JS white space and line terminators (a source map URL has none). */
function isJsSpace(code: number): boolean {
  return (
    code === 0x20 ||
    (code >= 0x09 && code <= 0x0d) ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  )
}
