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
    if (css !== undefined) checkCss(css, `<${tag.name}>`, problems)
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
  if (attr.uri === '' && local === 'style') checkCss(attr.value, where, problems)
  else checkUrls(attr.value, where, problems) // presentation attributes are CSS values too
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

// CSS escapes (`@\69mport`, `u\rl(`) and comments would hide a keyword from
// a search; resolve both first, then search.
function cssText(css: string): string {
  return css.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, '').replace(/\\(?:([0-9a-fA-F]{1,6})[ \t\n\f]?|\r\n|([\s\S]))/g, (_m, hex?: string, ch?: string) => {
    if (hex === undefined) return ch === undefined || ch === '\n' || ch === '\r' || ch === '\f' ? '' : ch
    const cp = Number.parseInt(hex, 16)
    return cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? '\ufffd' : String.fromCodePoint(cp)
  })
}

function checkUrls(value: string, where: string, problems: Problems): void {
  if (!/url|\\/i.test(value)) return
  const css = cssText(value)
  for (const m of css.matchAll(/url\(/gi)) {
    // CSS whitespace, then the URL, quoted or not.
    const target = css.slice(m.index + 4).replace(/^[ \t\n\r\f]*['"]?/, '')
    if (!isFragment(target)) problems.add('reference', `url() outside this document in ${where}: ${quote(css.slice(m.index, m.index + 60))}`)
  }
}

// Functions other than url() that fetch from a plain string.
const LOADING_FUNCTIONS = /(?:^|[^\w-])(?:-webkit-)?(?:image-set|image|cross-fade|src)\(/i
const ACTIVE_CSS: [RegExp, string][] = [
  [/@import/i, '@import'],
  [/expression\(/i, 'expression()'],
  [/javascript:|vbscript:/i, 'a script URL'],
  [/-moz-binding|behavior:/i, 'a binding'],
]

function checkCss(css: string, where: string, problems: Problems): void {
  const text = cssText(css)
  const squeezed = squeeze(text)
  for (const [re, what] of ACTIVE_CSS) if (re.test(squeezed)) problems.add('style', `CSS in ${where} contains ${what}`)
  if (LOADING_FUNCTIONS.test(text)) problems.add('style', `CSS in ${where} loads an image from a string`)
  checkUrls(css, where, problems)
}
