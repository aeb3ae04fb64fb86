/**
 * Decides whether an SVG may be served from your own origin. A browser runs
 * script in an SVG opened as a document, and regexes over SVG are bypassed by
 * namespaces, entities, character references and other encodings, so the
 * document is parsed for real (saxes, a conforming non-validating XML parser
 * that never expands DTD entities) and judged against an allowlist: only
 * known drawing elements, no event handlers, references only to fragments
 * of the same document, and CSS that loads nothing.
 */
import { createRequire } from 'node:module'
import type { SaxesAttributeNS, SaxesTagNS } from 'saxes'

// Loaded on the first SVG, not with @stowage/core (saxes is CommonJS, so a
// synchronous require keeps inspectSvg synchronous): most processes never parse one.
let saxes: typeof import('saxes') | undefined
const loadSaxes = () => (saxes ??= createRequire(import.meta.url)('saxes') as typeof import('saxes'))

/** The SVG namespace, which the root element must be in. */
export const SVG_NAMESPACE = 'http://www.w3.org/2000/svg'
const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml'
const MATHML_NAMESPACE = 'http://www.w3.org/1998/Math/MathML'
const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace'
const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/'

/** At most this many problems are reported; the parse stops there. */
export const MAX_SVG_PROBLEMS = 20

// Elements that draw, describe or style and cannot run or fetch anything
// once their references are confined to the document itself.
const SVG_ELEMENTS = new Set([
  'svg',
  'g',
  'defs',
  'symbol',
  'use',
  'switch',
  'view',
  'a',
  'title',
  'desc',
  'metadata',
  'style',
  'path',
  'rect',
  'circle',
  'ellipse',
  'line',
  'polyline',
  'polygon',
  'image',
  'text',
  'tspan',
  'textPath',
  'linearGradient',
  'radialGradient',
  'stop',
  'pattern',
  'clipPath',
  'mask',
  'marker',
  'filter',
  'feBlend',
  'feColorMatrix',
  'feComponentTransfer',
  'feComposite',
  'feConvolveMatrix',
  'feDiffuseLighting',
  'feDisplacementMap',
  'feDistantLight',
  'feDropShadow',
  'feFlood',
  'feFuncA',
  'feFuncB',
  'feFuncG',
  'feFuncR',
  'feGaussianBlur',
  'feImage',
  'feMerge',
  'feMergeNode',
  'feMorphology',
  'feOffset',
  'fePointLight',
  'feSpecularLighting',
  'feSpotLight',
  'feTile',
  'feTurbulence',
  'animate',
  'animateMotion',
  'animateTransform',
  'set',
  'mpath',
  'discard',
  // Inkscape's flowed text: SVG 1.2 drafts no browser renders, common in real files.
  'flowRoot',
  'flowRegion',
  'flowPara',
  'flowSpan',
  'flowDiv',
  'flowRegionBreak',
])
// Animations can rewrite another element's attributes: checked for what they set.
const ANIMATION_ELEMENTS = new Set(['animate', 'set', 'animateMotion', 'animateTransform', 'discard'])
const ANIMATION_VALUES = new Set(['values', 'to', 'from', 'by'])

// Editor and metadata vocabularies (Inkscape, Illustrator, Sketch, Affinity,
// RDF/Dublin Core/Creative Commons, XMP). No browser renders or runs their
// elements; they are only kept for the editor that wrote them.
const INERT_NAMESPACES = new Set([
  'http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd',
  'http://www.inkscape.org/namespaces/inkscape',
  'http://www.w3.org/1999/02/22-rdf-syntax-ns#',
  'http://purl.org/dc/elements/1.1/',
  'http://purl.org/dc/terms/',
  'http://creativecommons.org/ns#',
  'http://web.resource.org/cc/',
  'http://ns.adobe.com/AdobeIllustrator/10.0/',
  'http://ns.adobe.com/AdobeSVGViewerExtensions/3.0/',
  'http://ns.adobe.com/Extensibility/1.0/',
  'http://ns.adobe.com/Graphs/1.0/',
  'http://ns.adobe.com/SaveForWeb/1.0/',
  'http://ns.adobe.com/Variables/1.0/',
  'http://ns.adobe.com/ImageReplacement/1.0/',
  'http://ns.adobe.com/GenericCustomNamespace/1.0/',
  'http://ns.adobe.com/xap/1.0/',
  'http://ns.adobe.com/xap/1.0/mm/',
  'http://ns.adobe.com/xap/1.0/sType/ResourceRef#',
  'adobe:ns:meta/',
  'http://www.bohemiancoding.com/sketch/ns',
  'http://www.serif.com/',
])

/** What kind of rule an SVG broke. */
export type SvgProblemKind =
  | 'encoding' // not plain UTF-8
  | 'malformed' // not well-formed XML (or names an undefined entity)
  | 'doctype' // a DOCTYPE, whose internal subset could declare entities
  | 'instruction' // a processing instruction, e.g. <?xml-stylesheet?>
  | 'root' // the root is not <svg> in the SVG namespace
  | 'element' // an element outside the allowlist (script, foreignObject, HTML...)
  | 'attribute' // an event handler attribute
  | 'reference' // a link or url() leaving the document (javascript:, data:, http:)
  | 'style' // CSS that imports, runs or loads something
  | 'animation' // an animation that would set a link or an event handler

/** One reason an SVG is refused. */
export interface SvgProblem {
  kind: SvgProblemKind
  /** Short and human-readable, e.g. `script element 'h:script' (http://www.w3.org/1999/xhtml)`. */
  message: string
}

const ENOUGH = Symbol('enough problems')

class Problems {
  readonly list: SvgProblem[] = []
  add(kind: SvgProblemKind, message: string): void {
    this.list.push({ kind, message })
    if (this.list.length >= MAX_SVG_PROBLEMS) throw ENOUGH
  }
}

/**
 * Inspects a whole SVG document for anything that could run script, load
 * another resource, or be read differently by a browser than by this check.
 * Pass the complete file: a prefix is judged as malformed.
 * @returns the problems found (at most `MAX_SVG_PROBLEMS`), empty when the
 *   SVG is safe to serve inline. Never throws.
 */
export function inspectSvg(bytes: Uint8Array): SvgProblem[] {
  const problems = new Problems()
  try {
    const text = decodeUtf8(bytes, problems)
    if (text !== undefined) parseSvg(text, problems)
  } catch (err) {
    if (err !== ENOUGH) problems.list.push({ kind: 'malformed', message: `could not be parsed: ${err instanceof Error ? err.message : String(err)}` })
  }
  return problems.list
}

// Browsers honour a BOM over everything else, so anything but UTF-8 would be
// read differently by them than by this check.
function decodeUtf8(bytes: Uint8Array, problems: Problems): string | undefined {
  const [b0, b1, b2, b3] = bytes
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) {
    problems.add('encoding', b2 === 0 && b3 === 0 ? 'UTF-32 byte order mark' : 'UTF-16 byte order mark')
    return undefined
  }
  if (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff) {
    problems.add('encoding', 'UTF-32 byte order mark')
    return undefined
  }
  if (bytes.includes(0)) {
    problems.add('encoding', 'NUL byte (UTF-16 or UTF-32 text?)')
    return undefined
  }
  try {
    // Strips a UTF-8 BOM, which is harmless.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    problems.add('encoding', 'not valid UTF-8')
    return undefined
  }
}

function parseSvg(text: string, problems: Problems): void {
  const parser = new (loadSaxes().SaxesParser)({ xmlns: true, position: true })
  let seenRoot = false
  // One entry per open element: the text of a <style>, undefined for others.
  // A style sheet is its element's own text children only, so each <style>
  // collects its own (a nested one must not reset or absorb its parent's).
  const open: (string | undefined)[] = []
  parser.on('error', (err) => problems.add('malformed', err.message))
  parser.on('xmldecl', (decl) => {
    if (decl.encoding !== undefined && decl.encoding.toLowerCase() !== 'utf-8') problems.add('encoding', `declared encoding '${decl.encoding}', not UTF-8`)
  })
  parser.on('doctype', () => problems.add('doctype', 'DOCTYPE declaration'))
  parser.on('processinginstruction', (pi) => problems.add('instruction', `processing instruction '<?${pi.target}'`))
  parser.on('opentag', (tag) => {
    if (!seenRoot && !(tag.local === 'svg' && tag.uri === SVG_NAMESPACE)) problems.add('root', `root element ${describe(tag)}, not svg in the SVG namespace`)
    seenRoot = true
    checkElement(tag, problems)
    for (const attr of Object.values(tag.attributes)) checkAttribute(tag, attr, problems)
    open.push(tag.local === 'style' && tag.uri === SVG_NAMESPACE ? '' : undefined)
  })
  const collect = (t: string) => {
    const top = open.length - 1
    if (open[top] !== undefined) open[top] += t
  }
  parser.on('text', collect)
  parser.on('cdata', collect)
  parser.on('closetag', (tag) => {
    const css = open.pop()
    if (css !== undefined) checkCss(css, `<${tag.name}>`, problems, true)
  })
  parser.write(text).close()
}

function describe(tag: SaxesTagNS): string {
  return `'${tag.name}' (${tag.uri || 'no namespace'})`
}

function checkElement(tag: SaxesTagNS, problems: Problems): void {
  if (tag.uri === SVG_NAMESPACE ? SVG_ELEMENTS.has(tag.local) : INERT_NAMESPACES.has(tag.uri)) return
  const kind =
    tag.local === 'script'
      ? 'script'
      : tag.uri === SVG_NAMESPACE
        ? 'disallowed'
        : tag.uri === XHTML_NAMESPACE
          ? 'HTML'
          : tag.uri === MATHML_NAMESPACE
            ? 'MathML'
            : 'unknown-namespace'
  problems.add('element', `${kind} element ${describe(tag)}`)
}

function checkAttribute(tag: SaxesTagNS, attr: SaxesAttributeNS, problems: Problems): void {
  if (attr.uri === XMLNS_NAMESPACE) return // a namespace declaration, not a property
  const local = attr.local.toLowerCase()
  const where = `'${attr.name}' on '${tag.name}'`
  if (local.startsWith('on')) return problems.add('attribute', `event handler attribute ${where}`)
  if (local === 'href') {
    if (!isFragment(attr.value)) problems.add('reference', `${where} is not a #fragment of this document: ${quote(attr.value)}`)
    return
  }
  // xml:base would turn every '#id' into a link to another document.
  if (attr.uri === XML_NAMESPACE && local === 'base') return problems.add('reference', `xml:base ${where}`)
  // Presentation attributes (and animation values, which set them) are CSS values too.
  checkCss(attr.value, where, problems, attr.uri === '' && local === 'style')
  if (tag.uri === SVG_NAMESPACE && ANIMATION_ELEMENTS.has(tag.local) && attr.uri === '') checkAnimation(tag, attr, problems)
}

function checkAnimation(tag: SaxesTagNS, attr: SaxesAttributeNS, problems: Problems): void {
  if (attr.local === 'attributeName') {
    const target = attr.value.trim().toLowerCase()
    const local = target.slice(target.indexOf(':') + 1)
    if (local === 'href' || local === 'base' || local.startsWith('on')) problems.add('animation', `'${tag.name}' animates ${quote(attr.value)}`)
  } else if (ANIMATION_VALUES.has(attr.local) && /(?:javascript|vbscript|data):/.test(squeeze(attr.value).toLowerCase())) {
    problems.add('animation', `'${tag.name}' ${attr.local} is a script or data URL: ${quote(attr.value)}`)
  }
}

// For searching a value for a scheme or keyword: drops far more than a URL
// parser does ("java\tscript:"), so a search finds more, never less.
function squeeze(value: string): string {
  return value.replace(/[\s\u0000-\u001f\u007f-\u009f\u200b-\u200d\ufeff]/g, '')
}

// Exactly what the URL parser drops (tabs and newlines anywhere, C0 controls
// and spaces around): dropping more would pass " #a" with a no-break space,
// which a browser resolves as a path, not a fragment.
function isFragment(url: string): boolean {
  const v = url.replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+/, '')
  return v.length > 1 && v.startsWith('#')
}

function quote(value: string): string {
  const v = value.length > 60 ? `${value.slice(0, 60)}…` : value
  return JSON.stringify(v)
}

// CSS is read as a browser reads it, with css-tree's tokenizer (CSS Syntax
// Level 3): strings, comments, escapes and url() tokens end where a browser
// ends them. Stripping comments and decoding escapes by hand read a "/*"
// inside a string, or after an escaped slash, as a comment, and hid the
// url() or @import behind it.
interface CssTokenizer {
  tokenize(source: string, onToken: (type: number, start: number, end: number) => void): void
  tokenTypes: Record<'Function' | 'String' | 'Url' | 'BadUrl' | 'WhiteSpace' | 'Comment', number>
}
/** css-tree's decoders of a token's text: escapes resolved, quotes and `url(` dropped. */
interface CssDecoders {
  ident: { decode(text: string): string }
  string: { decode(text: string): string }
  url: { decode(text: string): string }
}
// Loaded on the first CSS checked, not with @stowage/core (about 12 ms, and
// most SVGs and all other files have none). css-tree/utils loads the
// tokenizer too; neither loads css-tree's grammar data.
let cssLib: { tokenizer: CssTokenizer; decoders: CssDecoders } | undefined
function loadCss(): { tokenizer: CssTokenizer; decoders: CssDecoders } {
  if (!cssLib) {
    const require = createRequire(import.meta.url)
    cssLib = { tokenizer: require('css-tree/tokenizer') as CssTokenizer, decoders: require('css-tree/utils') as CssDecoders }
  }
  return cssLib
}

const RESTART = Symbol('restart after a url token')

/**
 * Calls `onToken` with each CSS token of `css` (its type and text), as a
 * browser tokenizes it. css-tree compares a name with "url" before decoding
 * its escapes, so `\75 rl(/*)` reaches it as a function and a comment, where
 * a browser reads a url token whose URL is `/*` (and no comment swallows the
 * rest). Such a url token is tokenized again spelt `url(`, and the rest after
 * it: a token boundary holds no state, so that is the browser's tokenization.
 */
function eachCssToken(css: string, onToken: (type: number, text: string) => void): void {
  const { tokenizer, decoders } = loadCss()
  const T = tokenizer.tokenTypes
  let source = css
  for (;;) {
    let resume: number | undefined
    try {
      tokenizer.tokenize(source, (type, start, end) => {
        const text = source.slice(start, end)
        if (type !== T.Function || text.toLowerCase() === 'url(' || decoders.ident.decode(text.slice(0, -1)).toLowerCase() !== 'url') return onToken(type, text)
        let next = end
        while (next < source.length && ' \t\n\r\f'.includes(source[next]!)) next++
        // Quoted, it is a url( function token to a browser too, and css-tree goes on as a browser does.
        if (source[next] === '"' || source[next] === "'") return onToken(T.Function, 'url(')
        const url = urlToken(tokenizer, source, end)
        onToken(url.type, url.text)
        resume = end + url.text.length - 4
        throw RESTART
      })
    } catch (err) {
      if (err !== RESTART) throw err
    }
    if (resume === undefined) return
    // A slice shares the string's characters: each restart costs only the text it tokenizes.
    source = source.slice(resume)
  }
}

/** The url token (or bad url) a browser reads from `url(` followed by `source` from `from`, read from windows doubling in size so a long document is not copied once per url token. */
function urlToken(tokenizer: CssTokenizer, source: string, from: number): { type: number; text: string } {
  for (let size = 256; ; size *= 2) {
    const text = `url(${source.slice(from, from + size)}`
    let token: { type: number; text: string } | undefined
    try {
      tokenizer.tokenize(text, (type, start, end) => {
        token = { type, text: text.slice(start, end) }
        throw RESTART
      })
    } catch (err) {
      if (err !== RESTART) throw err
    }
    if (token && (token.text.length < text.length || from + size >= source.length)) return token
  }
}

// Functions other than url() that fetch from a plain string (names decoded,
// a vendor prefix dropped: -webkit-image-set).
const LOADING_FUNCTIONS = new Set(['image-set', 'image', 'cross-fade', 'src'])
// Searched for in a style sheet's decoded tokens, comments dropped and white
// space squeezed out: more than a browser would act on (`@im/**/port`, a
// keyword in a string), never less, for parsers older than CSS Syntax 3.
const ACTIVE_CSS: [needles: string[], what: string][] = [
  [['@import'], '@import'],
  [['expression('], 'expression()'],
  [['javascript:', 'vbscript:'], 'a script URL'],
  [['-moz-binding', 'behavior:'], 'a binding'],
]

function unprefixed(name: string): string {
  return name.startsWith('-') && !name.startsWith('--') ? name.slice(name.indexOf('-', 1) + 1) : name
}

/**
 * Checks CSS for references leaving the document and images loaded from
 * strings; a style sheet (`<style>`, a style attribute) also for `@import`,
 * `expression()`, script URLs and bindings. A presentation attribute is a
 * CSS value: only what a value can load is looked for, and only when it has
 * a `(` (every function and url token has one), so most never load css-tree.
 */
function checkCss(css: string, where: string, problems: Problems, sheet: boolean): void {
  if (!sheet && !css.includes('(')) return
  const { tokenizer, decoders } = loadCss()
  const T = tokenizer.tokenTypes
  const reference = (url: string | undefined, shown: string) => {
    if (url === undefined || !isFragment(url)) problems.add('reference', `url() outside this document in ${where}: ${quote(shown)}`)
  }
  let decoded = ''
  let loads = false
  // After a `url(` function token (the quoted form), its string is the URL.
  let quotedUrl = false
  eachCssToken(css, (type, text) => {
    if (type === T.Comment) return
    if (sheet) decoded += text.includes('\\') ? decoders.ident.decode(text) : text
    if (quotedUrl) {
      if (type === T.WhiteSpace) return
      quotedUrl = false
      const url = type === T.String ? decoders.string.decode(text) : undefined
      return reference(url, `url(${url ?? text})`)
    }
    if (type === T.Url) {
      const url = decoders.url.decode(text)
      reference(url, `url(${url})`)
    } else if (type === T.BadUrl) {
      reference(undefined, text) // no URL to a browser, but nothing a benign drawing holds
    } else if (type === T.Function) {
      const name = decoders.ident.decode(text.slice(0, -1)).toLowerCase()
      if (name === 'url') quotedUrl = true
      else if (LOADING_FUNCTIONS.has(unprefixed(name))) loads = true
    }
  })
  if (sheet) {
    const squeezed = squeeze(decoded).toLowerCase()
    for (const [needles, what] of ACTIVE_CSS) if (needles.some((n) => squeezed.includes(n))) problems.add('style', `CSS in ${where} contains ${what}`)
  }
  if (loads) problems.add('style', `CSS in ${where} loads an image from a string`)
}
