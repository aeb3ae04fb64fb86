import { describe, expect, it } from 'vitest'
import { md5Hex } from './hashing.js'
import { postProcess } from './post-process.js'
import { findReferences, resolveReference, rewriteReferences, hashUrl, type Reference } from './references.js'

const urls = (kind: 'css' | 'js', s: string) => findReferences(kind, s).map((r) => r.url)

/** Asserts the references found in `text` as `[url, kind, line]`, in order, and that each one's offsets hold exactly its URL. */
function expectReferences(kind: 'css' | 'js', text: string, expected: [url: string, kind: Reference['kind'], line: number][]): void {
  const refs = findReferences(kind, text)
  expect(refs.map((r) => [r.url, r.kind, r.line])).toEqual(expected)
  for (const r of refs) expect(text.slice(r.start, r.end)).toBe(r.url)
}

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

  it('reads the stylesheet as CSS tokens: no url() inside strings or comments, any spacing and case, unquoted URLs as written', () => {
    const css = [
      '.a { content: "see url(in-string.png) and @import \'x.css\'" }',
      "/* .old { background: url('in-comment.png') } */",
      '.b { background: url(\n  img/spaced.png\n) }',
      '.c { background: url(/* note */ "img/no.png") }', // a comment makes this a bad URL token: browsers drop it
      ".c2 { background: URL( 'img/upper.png' /* note */ ) }",
      '.d { background: url(img/a%20b.png?v=1#x) }',
      '@IMPORT/* c */"upper.css";',
      '.e { grid-template-areas: "url(no.png)"; }',
      '.f { background: url(a b.png) }', // a bad URL token: browsers drop it, and so do we
    ].join('\n')
    expectReferences('css', css, [
      ['img/spaced.png', 'url', 3],
      ['img/upper.png', 'url', 7],
      ['img/a%20b.png?v=1#x', 'url', 8],
      ['upper.css', 'import', 9],
    ])
  })

  it('takes a sourceMappingURL only from a real comment, and its statement is the comment', () => {
    const css = '.a { content: "/*# sourceMappingURL=no.map */" }\n/*# sourceMappingURL=yes.css.map */  \n/*# sourceMappingURL=two words.map */'
    const refs = findReferences('css', css)
    expect(refs.map((r) => r.url)).toEqual(['yes.css.map'])
    expect(css.slice(refs[0]!.statement!.start, refs[0]!.statement!.end)).toBe('/*# sourceMappingURL=yes.css.map */  ')
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

  it('reads the script as JS: imports inside templates, regular expressions and comments are text, unusual spacing is not', () => {
    const js = [
      'const tpl = `',
      "import fake from './in-template.js'",
      '`',
      'const re = /import\\([\'"]\\.\\/in-regex\\.js[\'"]\\)/',
      "/* import('./in-block-comment.js') */",
      'const div = a / 2 / b // not a regex, so what follows is code',
      'import {',
      '  x,',
      '  y as z,',
      '} from',
      "  './spread.js'",
      "export*from'./tight.js'",
      "const n = await import(/* webpackChunkName: 'x' */ './chunk.js')",
      'const inner = `${await import("./in-substitution.js")}`',
      'const asset = new URL(`./img/tpl.png`, import.meta.url)',
      "const spaced = new URL(\n  './img/spaced.png',\n  import.meta.url,\n)",
      "const notUrl = new URL('./img/no.png', import.meta.href)",
      "const notNew = URL('./img/no2.png', import.meta.url)",
      "const word = new URL('./renew/new.png', import.meta.url)",
    ].join('\n')
    expectReferences('js', js, [
      ['./spread.js', 'module', 7],
      ['./tight.js', 'module', 12],
      ['./chunk.js', 'dynamic-import', 13],
      ['./in-substitution.js', 'dynamic-import', 14],
      ['./img/tpl.png', 'dynamic-import', 15],
      ['./img/spaced.png', 'dynamic-import', 16],
      ['./renew/new.png', 'dynamic-import', 22],
    ])
  })

  it('takes a sourceMappingURL only from a real comment, wherever it is, however many there are', () => {
    const inString = 'const s = `\n//# sourceMappingURL=in-template.map\n`\n'
    expect(findReferences('js', `${inString}//# sourceMappingURL=app.js.map`).map((r) => [r.url, r.line])).toEqual([['app.js.map', 4]])
    // Inside a block: the lexer cannot tell from the text before it alone, the tokenizer does.
    expect(findReferences('js', 'function f() {\n//# sourceMappingURL=inner.map\n}').map((r) => r.url)).toEqual(['inner.map'])
    // Many comments (a concatenated bundle) are read from the tokenizer's comments in one pass.
    const bundle = [
      'a()',
      '//# sourceMappingURL=a.map',
      inString,
      'b()',
      '//@ sourceMappingURL=b.map',
      'c() /*# sourceMappingURL=c.map */',
      'd()',
      '// # sourceMappingURL=not-a-map',
    ].join('\n')
    const refs = findReferences('js', bundle)
    expect(refs.map((r) => [r.url, r.line])).toEqual([
      ['a.map', 2],
      ['b.map', 8],
      ['c.map', 9],
    ])
    expect(bundle.slice(refs[2]!.statement!.start, refs[2]!.statement!.end)).toBe('/*# sourceMappingURL=c.map */')
  })

  it('a script that does not lex is ESYNTAX with its line, and postProcess copies it unrewritten with a problem', () => {
    const broken = "import a from './a.js'\nconst s = 'unterminated\n"
    expect(() => findReferences('js', broken)).toThrow(expect.objectContaining({ code: 'ESYNTAX', context: expect.objectContaining({ line: 2 }) }))
    const bytes = Buffer.from(broken)
    const plan = postProcess(new Map([['js/broken.js', { md5: md5Hex(bytes), bytes }]]))
    expect(plan.problems.map((p) => [p.file, p.line])).toEqual([['js/broken.js', 2]])
    expect(plan.problems[0]!.message).toMatch(/not valid JavaScript.*not rewritten/)
    expect(plan.files.get('js/broken.js')).toMatchObject({ hashedName: `js/broken.${md5Hex(bytes).slice(0, 12)}.js`, rewritten: false })
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
