import { describe, expect, it } from 'vitest'
import { findReferences, resolveReference, rewriteReferences, hashUrl } from './references.js'

const urls = (kind: 'css' | 'js', s: string) => findReferences(kind, s).map((r) => r.url)

describe('CSS references', () => {
  it('finds url() in every quoting style, @import and sourceMappingURL', () => {
    const css = [
      '@import "base.css";',
      "@import 'theme.css' screen;",
      '@import url(print.css) print;',
      '.a { background: url(img/a.png) }',
      ".b { background: url('img/b.png') }",
      '.c { background: URL( "img/c.png" ) }',
      '.d { background: url(data:image/png;base64,iVBORw0KGgo=) }',
      '/* url(old/missing.png) */',
      '.e { content: "url(not-a-ref.png)" }',
      '/*# sourceMappingURL=app.css.map */',
    ].join('\n')
    expect(urls('css', css)).toEqual([
      'base.css',
      'theme.css',
      'print.css',
      'img/a.png',
      'img/b.png',
      'img/c.png',
      'data:image/png;base64,iVBORw0KGgo=',
      'app.css.map',
    ])
    const map = findReferences('css', css).find((r) => r.kind === 'sourcemap')
    expect(map?.line).toBe(10)
  })

  it('reports line numbers', () => {
    const refs = findReferences('css', 'a{}\n\n.x{background:url(a.png)}')
    expect(refs[0]?.line).toBe(3)
  })
})

describe('JS references', () => {
  it('finds static imports, re-exports, side-effect and dynamic imports', () => {
    const js = [
      "import a from './a.js'",
      'import { b,',
      '  c } from "../lib/b.js";',
      "import * as ns from './ns.js'",
      "import d, { e } from './d.js'",
      "export * from './re.js'",
      "export { f } from './f.js'",
      "import './side.js'",
      "const lazy = () => import('./lazy.js')",
      'const dyn = import(`./tpl.js`)',
      'const notLiteral = import(`./${x}.js`)',
      "import React from 'react'",
      "const img = new URL('./img/logo.png', import.meta.url)",
      "// import old from './commented.js'",
      'const s = "import x from \'./in-string.js\'"',
      'const re = /import x from "\\.\\/re"/',
      '//# sourceMappingURL=app.js.map',
    ].join('\n')
    expect(urls('js', js)).toEqual([
      './a.js',
      '../lib/b.js',
      './ns.js',
      './d.js',
      './re.js',
      './f.js',
      './side.js',
      './lazy.js',
      './tpl.js',
      'react',
      './img/logo.png',
      'app.js.map',
    ])
  })
})

describe('resolveReference', () => {
  const r = (from: string, url: string, kind: 'url' | 'module' = 'url') => resolveReference(from, { url, kind }, '/static/')
  it('resolves relative paths and strips query and fragment', () => {
    expect(r('css/app.css', '../img/a.png?v=1#x')).toEqual({ type: 'file', target: 'img/a.png' })
    expect(r('css/app.css', 'fonts/x.woff2?#iefix')).toEqual({ type: 'file', target: 'css/fonts/x.woff2' })
    expect(r('css/app.css', 'my%20image.png')).toEqual({ type: 'file', target: 'css/my image.png' })
  })
  it('ignores data URIs, absolute and protocol-relative URLs, fragments, bare specifiers', () => {
    for (const url of ['data:image/png;base64,AA', 'https://cdn.example/x.css', '//cdn.example/x.css', '#frag', '/other/x.png', 'dir/']) {
      expect(r('css/app.css', url)).toEqual({ type: 'ignore' })
    }
    expect(r('js/app.js', 'react', 'module')).toEqual({ type: 'ignore' })
  })
  it('resolves root-absolute URLs under the static URL, and flags escapes', () => {
    expect(r('css/app.css', '/static/img/a.png')).toEqual({ type: 'file', target: 'img/a.png' })
    expect(r('css/app.css', '../../x.png').type).toBe('outside')
  })
})

describe('rewriting', () => {
  it('keeps the written form, query and fragment', () => {
    expect(hashUrl('../img/a%20b.png?v=2#x', '0123456789ab')).toBe('../img/a%20b.0123456789ab.png?v=2#x')
    expect(hashUrl('x.eot?#iefix', '0123456789ab')).toBe('x.0123456789ab.eot?#iefix')
  })
  it('rewrites only the references given a hash', () => {
    const css = ".a{background:url('a.png')} .b{background:url(b.png)}"
    const refs = findReferences('css', css)
    expect(rewriteReferences(css, refs, (ref) => (ref.url === 'a.png' ? '0123456789ab' : undefined))).toBe(
      ".a{background:url('a.0123456789ab.png')} .b{background:url(b.png)}",
    )
  })
})
