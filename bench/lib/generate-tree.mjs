/**
 * Deterministic generator of a realistic static-asset tree: CSS that imports
 * other CSS and references images and fonts (relative, root-relative, with
 * fragments and queries, data: URIs, external URLs), ES modules that import
 * each other, source maps, and binary images and fonts.
 *
 * The same (files, totalBytes, seed) always gives byte-identical trees, so
 * runs on different days or machines measure the same work. References only
 * point "down" (to files created earlier) so CSS never forms an @import cycle,
 * which Django's manifest storage refuses.
 */
import { mkdir, writeFile, readFile, rm } from 'node:fs/promises'
import { join, dirname, relative, posix } from 'node:path'

/** mulberry32: tiny, fast, good enough for shaping test data. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Share of files per kind and a size range (bytes) before scaling to totalBytes.
const KINDS = [
  { kind: 'css', share: 0.08, min: 3_000, max: 40_000 },
  { kind: 'js', share: 0.2, min: 2_000, max: 50_000 },
  { kind: 'svg', share: 0.14, min: 600, max: 8_000 },
  { kind: 'png', share: 0.15, min: 4_000, max: 120_000 },
  { kind: 'jpg', share: 0.1, min: 20_000, max: 300_000 },
  { kind: 'woff2', share: 0.04, min: 12_000, max: 70_000 },
  { kind: 'woff', share: 0.02, min: 18_000, max: 90_000 },
  { kind: 'json', share: 0.05, min: 500, max: 20_000 },
  { kind: 'txt', share: 0.04, min: 200, max: 4_000 },
  // Source maps are added per CSS/JS file (about half of them), not drawn here.
]

const DIRS = {
  css: ['css', 'css/components', 'css/pages', 'vendor/bootstrap/css', 'admin/css'],
  js: ['js', 'js/modules', 'js/components', 'js/lib', 'vendor/htmx', 'admin/js'],
  svg: ['img/icons', 'img/logos', 'admin/img'],
  png: ['img', 'img/sprites', 'img/screenshots'],
  jpg: ['img/photos', 'img/hero'],
  woff2: ['fonts', 'vendor/bootstrap/fonts'],
  woff: ['fonts', 'vendor/bootstrap/fonts'],
  json: ['data', 'i18n'],
  txt: ['', 'docs'],
}

/** Deepest @import chain generated (a file importing a file importing a file). */
const MAX_IMPORT_DEPTH = 3

const MAGIC = {
  png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  jpg: [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46],
  woff2: [0x77, 0x4f, 0x46, 0x32],
  woff: [0x77, 0x4f, 0x46, 0x46],
}

function randomBytes(rand, size, magic = []) {
  const buf = Buffer.allocUnsafe(size)
  // xorshift32 seeded from the PRNG: ~1 GB/s, deterministic.
  let x = (Math.floor(rand() * 0xffffffff) | 1) >>> 0
  const words = Math.floor(size / 4)
  const view = new Uint32Array(buf.buffer, buf.byteOffset, words)
  for (let i = 0; i < words; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    view[i] = x >>> 0
  }
  for (let i = words * 4; i < size; i++) buf[i] = (rand() * 256) | 0
  for (let i = 0; i < magic.length && i < size; i++) buf[i] = magic[i]
  return buf
}

function relUrl(from, to) {
  let rel = posix.relative(posix.dirname(from), to)
  if (!rel.startsWith('.')) rel = './' + rel
  return rel
}

/**
 * Plans the tree (names, kinds, sizes and references) without touching disk.
 * @returns an array of `{ name, kind, size, refs }` in creation order.
 */
export function planTree({ files, totalBytes, seed = 1 }) {
  const rand = prng(seed)
  const pick = (arr) => arr[Math.floor(rand() * arr.length)]
  const entries = []
  const counters = new Map()
  // Reserve room for source maps (about a third of CSS/JS files get one).
  const primary = Math.round(files / 1.1)
  for (let i = 0; i < primary; i++) {
    let r = rand()
    let spec = KINDS[KINDS.length - 1]
    for (const k of KINDS) {
      if (r < k.share / 0.82) {
        spec = k
        break
      }
      r -= k.share / 0.82
    }
    const n = (counters.get(spec.kind) ?? 0) + 1
    counters.set(spec.kind, n)
    const dir = pick(DIRS[spec.kind])
    const base = `${spec.kind === 'txt' ? 'notes' : spec.kind}-${n}.${spec.kind}`
    const name = dir ? `${dir}/${base}` : base
    const size = Math.round(spec.min + (spec.max - spec.min) * rand() ** 2)
    entries.push({ name, kind: spec.kind, size })
  }
  // Source maps until the count is exact.
  const code = entries.filter((e) => e.kind === 'css' || e.kind === 'js')
  let m = 0
  while (entries.length < files && code.length > 0) {
    const target = code[m++ % code.length]
    if (target.map) {
      entries.push({ name: `misc/extra-${m}.txt`, kind: 'txt', size: 300 })
      continue
    }
    target.map = `${target.name}.map`
    entries.push({ name: target.map, kind: 'map', size: Math.round(target.size * 1.6), of: target.name })
  }
  while (entries.length > files) entries.pop()

  const scale = totalBytes / entries.reduce((s, e) => s + e.size, 0)
  for (const e of entries) e.size = Math.max(64, Math.round(e.size * scale))

  // References only to files that come earlier: no cycles, all targets exist.
  // @import chains stay at most MAX_IMPORT_DEPTH deep, as in real projects:
  // Django's manifest gives up after 5 passes over a deeper chain.
  const seen = { css: [], js: [], img: [], font: [] }
  const depth = new Map()
  const shallowCss = []
  for (const e of entries) {
    if (e.kind === 'css') {
      const imports = shallowCss.length ? Array.from({ length: Math.floor(rand() * 3) }, () => pick(shallowCss)) : []
      const d = 1 + Math.max(0, ...imports.map((i) => depth.get(i)))
      depth.set(e.name, d)
      if (d < MAX_IMPORT_DEPTH) shallowCss.push(e.name)
      e.refs = {
        imports,
        images: seen.img.length ? Array.from({ length: 2 + Math.floor(rand() * 10) }, () => pick(seen.img)) : [],
        fonts: seen.font.length ? Array.from({ length: Math.floor(rand() * 3) }, () => pick(seen.font)) : [],
      }
      seen.css.push(e.name)
    } else if (e.kind === 'js') {
      e.refs = { imports: seen.js.length ? Array.from({ length: Math.floor(rand() * 5) }, () => pick(seen.js)) : [] }
      seen.js.push(e.name)
    } else if (['svg', 'png', 'jpg'].includes(e.kind)) seen.img.push(e.name)
    else if (e.kind === 'woff2' || e.kind === 'woff') seen.font.push(e.name)
  }
  return entries
}

function cssText(e, rand) {
  const out = []
  const uniq = (a) => [...new Set(a)]
  for (const imp of uniq(e.refs.imports)) out.push(rand() < 0.5 ? `@import "${relUrl(e.name, imp)}";` : `@import url("${relUrl(e.name, imp)}");`)
  out.push(`/* generated stylesheet ${e.name} */`)
  for (const [i, font] of uniq(e.refs.fonts).entries()) {
    out.push(
      `@font-face {\n  font-family: "F${i}";\n  src: url("${relUrl(e.name, font)}#iefix") format("woff2"),\n       url('${relUrl(e.name, font)}?v=4.7.0') format("woff");\n}`,
    )
  }
  for (const [i, img] of e.refs.images.entries()) {
    const ref = i % 5 === 4 ? `/static/${img}` : relUrl(e.name, img)
    const q = i % 3 === 0 ? '' : i % 3 === 1 ? '"' : "'"
    out.push(`.bg-${i} { background: #fff url(${q}${ref}${q}) no-repeat center / cover; }`)
  }
  out.push(`.spinner { background-image: url("data:image/svg+xml;charset=utf8,%3Csvg xmlns='http://www.w3.org/2000/svg'%3E%3C/svg%3E"); }`)
  out.push(`.ext { background: url(https://cdn.example.com/pattern.png); }`)
  out.push(`.mask { mask: url(#clip); }`)
  let body = out.join('\n') + '\n'
  let n = 0
  while (body.length < e.size - 60) {
    body += `.c${n} { color: #${((n * 2654435761) >>> 8).toString(16).padStart(6, '0').slice(0, 6)}; margin: ${n % 17}px ${n % 5}px; display: flex; }\n`
    n++
  }
  if (e.map) body += `/*# sourceMappingURL=${posix.basename(e.map)} */\n`
  return body
}

function jsText(e) {
  const out = []
  const uniq = [...new Set(e.refs.imports)]
  for (const [i, imp] of uniq.entries()) {
    const rel = relUrl(e.name, imp)
    if (i % 3 === 0) out.push(`import { fn${i} } from '${rel}';`)
    else if (i % 3 === 1) out.push(`import * as m${i} from "${rel}";`)
    else out.push(`export { default as d${i} } from '${rel}';`)
  }
  out.push(`// generated module ${e.name}`)
  let body = out.join('\n') + '\n'
  let n = 0
  while (body.length < e.size - 80) {
    body += `export function f${n}(a, b) { return a * ${n} + b - ${(n * 7) % 13}; /* ${'x'.repeat(n % 20)} */ }\n`
    n++
  }
  body += `export default function main() { return ${n}; }\n`
  if (e.map) body += `//# sourceMappingURL=${posix.basename(e.map)}\n`
  return body
}

function mapText(e, rand) {
  const seg = 'AAAA,SAASA,IAAI,CAAC,GAAG,EAAE,CAAC;'
  const mappings = seg.repeat(Math.max(1, Math.floor((e.size - 200) / seg.length)))
  return JSON.stringify({ version: 3, file: posix.basename(e.of), sources: [`../src/${posix.basename(e.of)}`], names: [], mappings, x: rand() })
}

function svgText(e) {
  let body = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">\n`
  let n = 0
  while (body.length < e.size - 10) ((body += `<path d="M${n % 24} ${(n * 7) % 24}L${(n * 3) % 24} ${(n * 5) % 24}z"/>\n`), n++)
  return body + '</svg>\n'
}

function jsonText(e) {
  const o = {}
  let n = 0
  let len = 2
  while (len < e.size) {
    const k = `key_${n}`
    const v = `value number ${n * 31}`
    o[k] = v
    len += k.length + v.length + 6
    n++
  }
  return JSON.stringify(o)
}

/** @returns the bytes of one planned file. */
function contentOf(e, rand) {
  switch (e.kind) {
    case 'css':
      return cssText(e, rand)
    case 'js':
      return jsText(e)
    case 'map':
      return mapText(e, rand)
    case 'svg':
      return svgText(e)
    case 'json':
      return jsonText(e)
    case 'txt':
      return 'Lorem ipsum dolor sit amet. '.repeat(Math.ceil(e.size / 28)).slice(0, e.size)
    default:
      return randomBytes(rand, e.size, MAGIC[e.kind])
  }
}

/**
 * Writes the tree under `dir` (reusing it when a previous run already wrote
 * the same spec there).
 * @returns `{ dir, files, bytes }`.
 */
export async function generateTree(dir, { files, totalBytes, seed = 1 }) {
  const spec = JSON.stringify({ v: 4, files, totalBytes, seed })
  const marker = `${dir}.spec.json`
  try {
    const prev = JSON.parse(await readFile(marker, 'utf8'))
    if (JSON.stringify(prev.spec) === JSON.stringify(JSON.parse(spec))) return { dir, files: prev.files, bytes: prev.bytes }
  } catch {}
  await rm(dir, { recursive: true, force: true })
  const plan = planTree({ files, totalBytes, seed })
  const rand = prng(seed ^ 0x5eed)
  const made = new Set()
  let bytes = 0
  for (const e of plan) {
    const path = join(dir, e.name)
    const d = dirname(path)
    if (!made.has(d)) {
      await mkdir(d, { recursive: true })
      made.add(d)
    }
    const data = contentOf(e, rand)
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length
    await writeFile(path, data)
  }
  await writeFile(marker, JSON.stringify({ spec: JSON.parse(spec), files: plan.length, bytes }))
  return { dir, files: plan.length, bytes }
}

/** Relative POSIX name of `path` inside `root` (used by the harness for reporting). */
export const relName = (root, path) => relative(root, path).split('\\').join('/')
